"""A dataset's fingerprint for the run record: what a rerun compares to tell the same data from drifted data.

Per split: the annotation file's sha256 and size, and the image directory's file count and total bytes
(cheap at COCO scale: one hash of the annotation file and one stat per image). Deep: also the sha256 of
every image, hashed across threads (hashlib releases the GIL), reported per image for a progress bar.
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ConfigDict

from harness.data.check import SPLITS, annotation_file, regular_file

CHUNK = 1 << 20


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SplitFingerprint(Frozen):
    split: str
    annotation_sha256: str
    annotation_bytes: int
    images: int  # files in the split's image directory
    image_bytes: int
    images_sha256: str | None = None  # deep: sha256 over every image's name and sha256, in name order


class DatasetFingerprint(Frozen):
    path: str
    deep: bool = False
    splits: list[SplitFingerprint]
    seconds: float = 0.0  # what fingerprinting cost

    def differences(self, other: "DatasetFingerprint") -> list[str]:
        """What differs from another fingerprint of the same dataset, one phrase per difference."""
        mine, theirs = {s.split: s for s in self.splits}, {s.split: s for s in other.splits}
        found = [f"split {name} {'missing' if name in mine else 'added'}" for name in sorted(set(mine) ^ set(theirs))]
        for name in sorted(set(mine) & set(theirs)):
            a, b = mine[name].model_dump(), theirs[name].model_dump()
            found += [f"{name} {key} {a[key]} -> {b[key]}" for key in a if a[key] != b[key]
                      and not (key == "images_sha256" and None in (a[key], b[key]))]
        return found


def fingerprint(root: Path, deep: bool = False, on_image: Callable[[], None] | None = None) -> DatasetFingerprint:
    start = time.perf_counter()
    splits = [_split(Path(root), split, deep, on_image) for split in SPLITS]
    return DatasetFingerprint(path=str(Path(root).resolve()), deep=deep, splits=splits,
                              seconds=round(time.perf_counter() - start, 3))


def image_count(root: Path) -> int:
    """How many images a deep fingerprint will hash (for its progress bar)."""
    return sum(len(_images(Path(root) / split)) for split in SPLITS)


def _split(root: Path, split: str, deep: bool, on_image: Callable[[], None] | None) -> SplitFingerprint:
    annotations = annotation_file(root, split)
    images = _images(root / split)
    return SplitFingerprint(split=split, annotation_sha256=sha256_file(annotations),
                            annotation_bytes=annotations.stat().st_size, images=len(images),
                            image_bytes=sum(size for _, size in images),
                            images_sha256=_hash_images(root / split, images, on_image) if deep else None)


def _images(directory: Path) -> list[tuple[str, int]]:
    with os.scandir(directory) as entries:
        return sorted(found for entry in entries if (found := regular_file(entry)) is not None)


def _hash_images(directory: Path, images: list[tuple[str, int]], on_image: Callable[[], None] | None) -> str:
    def one(name: str) -> str:
        digest = sha256_file(directory / name)
        if on_image:
            on_image()
        return f"{name} {digest}\n"

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        lines = pool.map(one, [name for name, _ in images])
        return hashlib.sha256("".join(lines).encode()).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
