"""What the training will need of one split's annotations, checked in one pass over msgspec's structs.

Problems fail the check; warnings do not (a box of zero size: mmdet skips it, and COCO 2017's train split
has two). Each is counted by kind, with the first few named."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.data.coco_file import CocoFile

BOX_SLACK = 1.0  # pixels a box may pass its image's border by (rounding in the annotation tools)
SAMPLES = 20  # problems named in full; the rest are counted


@dataclass
class Findings:
    counts: Counter = field(default_factory=Counter)
    samples: list[tuple[str, str]] = field(default_factory=list)  # (kind, detail), the first SAMPLES
    warning_counts: Counter = field(default_factory=Counter)
    warning_samples: dict[str, str] = field(default_factory=dict)

    def problem(self, kind: str, detail: str) -> None:
        self.counts[kind] += 1
        if len(self.samples) < SAMPLES:
            self.samples.append((kind, detail))

    def warning(self, kind: str, detail: str) -> None:
        self.warning_counts[kind] += 1
        self.warning_samples.setdefault(kind, detail)

    @property
    def warnings(self) -> list[str]:
        return [f"{count} x {kind}, first: {self.warning_samples[kind]}" for kind, count in self.warning_counts.items()]


@dataclass(frozen=True)
class SplitImages:
    """The split's images as the rules found them: id -> (width, height), and (file name, width, height) rows."""

    sizes: dict
    rows: list[tuple[str, float, float]]


def check_images(split: str, image_dir: Path, data: CocoFile, present: dict[str, int],
                 findings: Findings) -> SplitImages:
    """present: the image directory's regular files (symbolic links followed) and their sizes in bytes."""
    sizes: dict = {}
    rows = []
    listed: dict[str, object] = {}
    for image in data.images:
        if image.id is None:
            findings.problem("image without id", f"{split}: image {image.file_name} has no id")
        elif image.id in sizes:
            findings.problem("duplicate image id", f"{split}: image id {image.id} is listed twice")
        width, height = image.width, image.height
        if width is None or height is None or width <= 0 or height <= 0:
            findings.problem("image without a size", f"{split}: image {image.id} has no positive width and height")
            width = height = None
        sizes[image.id] = (width, height)
        if image.file_name is None:
            findings.problem("image without file_name", f"{split}: image {image.id} has no file_name")
        elif image.file_name not in present:
            findings.problem("image absent", f"image listed in {split} but absent: {image_dir / image.file_name}")
        elif image.file_name in listed:
            findings.problem("file listed twice", f"{split}: {image.file_name} is listed as image "
                                                  f"{listed[image.file_name]} and as image {image.id}")
        elif present[image.file_name] == 0:
            findings.problem("empty image file", f"{split}: image {image.id} is an empty file (0 bytes): "
                                                 f"{image_dir / image.file_name}")
        else:
            rows.append((image.file_name, width, height))
        if image.file_name is not None:
            listed.setdefault(image.file_name, image.id)
    return SplitImages(sizes, rows)


def check_annotations(split: str, data: CocoFile, sizes: dict, findings: Findings,
                      advance: Callable[[int], None] = lambda n: None) -> None:
    """The hot loop of a COCO-sized check (860k annotations): locals only, one dict lookup per field."""
    category_ids = {category.id for category in data.categories}
    seen: set = set()
    boxes = 0  # of positive size: what the training learns from
    problem, warning = findings.problem, findings.warning
    for number, ann in enumerate(data.annotations, 1):
        if number % 65536 == 0:
            advance(65536)
        ann_id = ann.id
        if ann_id is None:
            problem("annotation without id", f"{split}: the annotation at position {number} has no id")
        elif ann_id in seen:
            problem("duplicate annotation id", f"{split}: annotation id {ann_id} is used twice")
        seen.add(ann_id)
        size = sizes.get(ann.image_id)
        if size is None:
            problem("annotation of an unknown image", f"{split}: annotation {ann_id} names image {ann.image_id}, "
                                                      "which is not listed")
        if ann.category_id not in category_ids:
            problem("unknown category id", f"{split}: annotation {ann_id} has category {ann.category_id}, "
                                           "which is not in categories")
        if ann.iscrowd not in (0, 1):
            problem("iscrowd not 0 or 1", f"{split}: annotation {ann_id} has iscrowd {ann.iscrowd}")
        box = ann.bbox
        if box is None or len(box) != 4:
            problem("box not [x, y, w, h]", f"{split}: annotation {ann_id} has bbox {box}")
            continue
        x, y, w, h = box
        if w < 0 or h < 0:
            problem("box of negative width or height", f"{split}: annotation {ann_id} has bbox {box}")
        elif w == 0 or h == 0:
            warning("box of zero width or height (mmdet skips it)", f"{split}: annotation {ann_id} bbox {box}")
        elif size is not None and size[0] is not None and (
                x < -BOX_SLACK or y < -BOX_SLACK or x + w > size[0] + BOX_SLACK or y + h > size[1] + BOX_SLACK):
            problem("box outside its image", f"{split}: annotation {ann_id} bbox {box} is outside image "
                                             f"{ann.image_id} ({size[0]:g}x{size[1]:g})")
        else:
            boxes += 1
    if not boxes:
        problem("no box", f"{split}: no annotation has a box of positive size (mmdet trains and evaluates on "
                          f"images with boxes; {len(data.annotations)} annotations listed)")


def check_categories(split: str, data: CocoFile, expected: dict[int, str] | None, findings: Findings) -> None:
    """expected: the benchmark's categories by id (COCO's 80 for the COCO benchmark); None: any."""
    ids = [category.id for category in data.categories]
    if len(set(ids)) != len(ids):
        findings.problem("duplicate category id", f"{split}: a category id is listed twice in {sorted(ids)}")
    if expected is None:
        return
    found = {category.id: category.name for category in data.categories}
    if found != expected:
        missing = sorted(set(expected.items()) - set(found.items()))
        extra = sorted(set(found.items()) - set(expected.items()), key=str)
        findings.problem("categories not the benchmark's",
                         f"{split}: categories are not the benchmark's {len(expected)} (missing {missing[:3]}, "
                         f"unexpected {extra[:3]})")
