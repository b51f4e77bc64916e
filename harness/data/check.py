"""COCO 2017 layout check: fail in seconds, before any GPU hour is spent, on a COCO-sized tree too.

Layout (annotation files, image folders), then per split what the training needs (harness.data.coco_rules),
then with deep=True every image decoded (harness.data.image_check). The first problem is named, the rest
counted by kind."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from harness.data import coco_file, coco_rules
from harness.errors import BadInput

SPLITS = ("train2017", "val2017")


def annotation_file(root: Path, split: str) -> Path:
    return root / "annotations" / f"instances_{split}.json"


class SplitSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    split: str
    images: int
    annotations: int
    categories: int
    decoded: int | None = None  # deep: images opened and decoded


class DatasetSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    splits: list[SplitSummary]
    warnings: list[str] = []


class DatasetInvalid(BadInput):
    def __init__(self, findings: coco_rules.Findings):
        self.problems = [detail for _, detail in findings.samples]
        self.counts = findings.counts
        first_kind, first = findings.samples[0]
        rest = findings.counts.copy()
        rest[first_kind] -= 1
        rest = +rest  # drops the kinds at zero
        more = ", ".join(f"{count} x {kind}" for kind, count in rest.most_common())
        total = sum(rest.values())
        super().__init__(f"dataset invalid: {first}" + (f" (and {total} more: {more})" if total else ""))


class Silent:
    """No progress shown; harness.report.progress.StepBars draws it."""

    @contextmanager
    def step(self, what: str, total: int | None) -> Iterator[Callable[[int], None]]:
        yield lambda count: None


def check_dataset(root: Path, categories: dict[int, str] | None = None, deep: bool = False,
                  progress=Silent()) -> DatasetSummary:
    """Validate a COCO 2017 detection layout; raise DatasetInvalid naming the first problem.

    categories: the benchmark's by id (None: any, the same in both splits). deep: decode every image too."""
    root = Path(root)
    findings = coco_rules.Findings()
    if not root.exists():
        findings.problem("no dataset", f"{root} does not exist")
    elif not root.is_dir():
        findings.problem("no dataset", f"{root} is not a directory")
    else:
        loaded = {split: _load(root, split, findings, progress) for split in SPLITS}
        summaries = [_check_split(root, split, data, categories, deep, findings, progress)
                     for split, data in loaded.items() if data is not None]
        if all(data is not None for data in loaded.values()):
            _check_same_categories(loaded["train2017"], loaded["val2017"], findings)
    if findings.samples:
        raise DatasetInvalid(findings)
    return DatasetSummary(path=str(root.resolve()), splits=summaries, warnings=findings.warnings)


def _load(root: Path, split: str, findings: coco_rules.Findings, progress) -> coco_file.CocoFile | None:
    path = annotation_file(root, split)
    if not path.is_file():
        findings.problem("missing annotation file", f"missing annotation file {path}")
        return None
    try:
        with progress.step(f"reading {path.name}", path.stat().st_size) as advance:
            return coco_file.read(path, advance)
    except coco_file.NotCoco as exc:
        findings.problem("not a COCO file", str(exc))
        return None


def _check_split(root: Path, split: str, data: coco_file.CocoFile, categories: dict[int, str] | None, deep: bool,
                 findings: coco_rules.Findings, progress) -> SplitSummary:
    image_dir = root / split
    present = _files(image_dir, findings)
    if present is None:
        findings.problem("missing image directory", f"missing image directory {image_dir}")
        present = {}
    images = coco_rules.check_images(split, image_dir, data, present, findings)
    with progress.step(f"checking {split} annotations", len(data.annotations)) as advance:
        coco_rules.check_annotations(split, data, images.sizes, findings, advance)
    coco_rules.check_categories(split, data, categories, findings)
    decoded = _decode_images(image_dir, images.rows, findings, progress) if deep else None
    return SplitSummary(split=split, images=len(data.images), annotations=len(data.annotations),
                        categories=len(data.categories), decoded=decoded)


def _decode_images(image_dir: Path, rows: list, findings: coco_rules.Findings, progress) -> int:
    from harness.data.image_check import check_images  # Pillow and a process pool: only for --deep

    with progress.step(f"decoding {image_dir.name} images", len(rows)) as advance:
        for kind, detail in check_images(image_dir, rows, advance):
            findings.problem(kind, detail)
    return len(rows)


def _files(directory: Path, findings: coco_rules.Findings) -> dict[str, int] | None:
    """The directory's regular files (symbolic links followed) and their sizes; a link that loops is a problem
    (nothing can read or stat it), a dangling one is absent."""
    try:
        with os.scandir(directory) as entries:
            return dict(found for entry in entries if (found := regular_file(entry, findings)) is not None)
    except (FileNotFoundError, NotADirectoryError):
        return None


def regular_file(entry: os.DirEntry, findings: coco_rules.Findings | None = None) -> tuple[str, int] | None:
    """A regular file (links followed) and its size; None for anything else, and for what cannot be stat'ed
    (findings, if given, are told of a link that loops or an entry that cannot be read)."""
    try:
        info = entry.stat()
    except FileNotFoundError:  # a dangling link
        return None
    except OSError as exc:
        if findings is not None:
            findings.problem("unreadable entry", f"{entry.path} cannot be read: {exc.strerror}")
        return None
    return (entry.name, info.st_size) if stat.S_ISREG(info.st_mode) else None


def _check_same_categories(train: coco_file.CocoFile, val: coco_file.CocoFile,
                           findings: coco_rules.Findings) -> None:
    def categories(data: coco_file.CocoFile) -> set[tuple]:
        return {(c.id, c.name) for c in data.categories}

    if categories(train) != categories(val):
        diff = sorted(categories(train) ^ categories(val), key=str)
        findings.problem("categories differ between splits", f"categories differ between train2017 and val2017: "
                                                               f"{diff[:5]}")
