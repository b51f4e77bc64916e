"""COCO 2017 layout check: fail in seconds, before any GPU hour is spent."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

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


class DatasetSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    splits: list[SplitSummary]


class DatasetInvalid(BadInput):
    def __init__(self, problems: list[str]):
        self.problems = problems
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(f"dataset invalid: {problems[0]}{more}")


def check_dataset(root: Path) -> DatasetSummary:
    """Validate a COCO 2017 detection layout; raise DatasetInvalid naming the first problem."""
    root = Path(root)
    if not root.exists():
        raise DatasetInvalid([f"{root} does not exist"])
    if not root.is_dir():
        raise DatasetInvalid([f"{root} is not a directory"])
    problems: list[str] = []
    loaded = {split: _load_annotations(root, split, problems) for split in SPLITS}
    summaries = [_check_split(root, split, data, problems) for split, data in loaded.items() if data]
    if all(loaded.values()):
        _check_same_categories(loaded["train2017"], loaded["val2017"], problems)
    if problems:
        raise DatasetInvalid(problems)
    return DatasetSummary(path=str(root.resolve()), splits=summaries)


def _load_annotations(root: Path, split: str, problems: list[str]) -> dict | None:
    path = annotation_file(root, split)
    if not path.is_file():
        problems.append(f"missing annotation file {path}")
        return None
    try:
        with path.open("rb") as handle:
            data = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{path} is not valid JSON ({exc})")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path} is not a COCO detection file (top level is not an object)")
        return None
    missing = [key for key in ("images", "annotations", "categories") if not isinstance(data.get(key), list)]
    if missing:
        problems.append(f"{path} is not a COCO detection file (no list {', '.join(missing)})")
        return None
    return data


def _check_split(root: Path, split: str, data: dict, problems: list[str]) -> SplitSummary:
    image_dir = root / split
    present = _file_names(image_dir)
    if present is None:
        problems.append(f"missing image directory {image_dir}")
        present = set()
    image_ids = set()
    for image in data["images"]:
        image_ids.add(image.get("id"))
        if image.get("file_name") not in present:
            problems.append(f"image listed in {split} but absent: {image_dir / str(image.get('file_name'))}")
    category_ids = {c.get("id") for c in data["categories"]}
    for ann in data["annotations"]:
        if ann.get("image_id") not in image_ids or ann.get("category_id") not in category_ids:
            problems.append(f"{split} annotation {ann.get('id')} names an unknown image or category")
    return SplitSummary(
        split=split, images=len(data["images"]), annotations=len(data["annotations"]), categories=len(category_ids)
    )


def _file_names(directory: Path) -> set[str] | None:
    try:
        with os.scandir(directory) as entries:
            return {entry.name for entry in entries}
    except (FileNotFoundError, NotADirectoryError):
        return None


def _check_same_categories(train: dict, val: dict, problems: list[str]) -> None:
    def categories(data: dict) -> set[tuple]:
        return {(c.get("id"), c.get("name")) for c in data["categories"]}

    if categories(train) != categories(val):
        diff = sorted(categories(train) ^ categories(val), key=str)
        problems.append(f"categories differ between train2017 and val2017: {diff[:5]}")
