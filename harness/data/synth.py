"""A synthetic COCO 2017-layout detection dataset: coloured shapes on noise, deterministic per seed.

One mount and one config serve it and the real COCO: same folders, same file names.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

from harness.data.check import annotation_file
from harness.errors import BadInput
from harness.files import nearest_existing

# Each category has its own shape and hue family, so a small detector can learn it in minutes.
CATEGORIES = (
    {"id": 1, "name": "square", "supercategory": "shape"},
    {"id": 2, "name": "disc", "supercategory": "shape"},
    {"id": 3, "name": "triangle", "supercategory": "shape"},
)
BASE_COLOURS = {1: (220, 60, 50), 2: (50, 200, 70), 3: (60, 90, 230)}
MAX_OBJECTS = 3
ANNOTATION_BYTES_PER_IMAGE = 500  # an image entry and up to three annotations in the JSON


@dataclass(frozen=True)
class SynthParams:
    train: int = 64
    val: int = 16
    seed: int = 0
    image_size: int = 128


def write_synthetic(out: Path, params: SynthParams, on_image: Callable[[], None] | None = None) -> Path:
    """Write the dataset to `out`, which must not exist or be empty; the write is all-or-nothing.

    on_image is called after each image written (progress)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInput(f"{out} already exists and is not an empty directory; refusing to overwrite it")
    check_room(out, params)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        rng = np.random.default_rng(params.seed)
        first_id = 1
        for split, count in (("train2017", params.train), ("val2017", params.val)):
            _write_split(staging, split, range(first_id, first_id + count), params.image_size, rng, on_image)
            first_id += count
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def estimated_bytes(params: SynthParams) -> int:
    """One sample image encoded as the dataset's are (noise makes them all about that size), plus its annotations."""
    sample, _ = _draw_image(params.image_size, np.random.default_rng(params.seed + 1))
    encoded = io.BytesIO()
    sample.save(encoded, format="JPEG", quality=95)
    return int((params.train + params.val) * (encoded.tell() * 1.2 + ANNOTATION_BYTES_PER_IMAGE))


def check_room(out: Path, params: SynthParams) -> None:
    needed = estimated_bytes(params)
    free = shutil.disk_usage(nearest_existing(out.parent)).free
    if needed > free:
        raise BadInput(f"{params.train + params.val} images of {params.image_size} px need about "
                       f"{needed / 1e9:.1f} GB, and {nearest_existing(out.parent)} has {free / 1e9:.1f} GB free")


def _write_split(root: Path, split: str, image_ids: range, size: int, rng: np.random.Generator,
                 on_image: Callable[[], None] | None = None) -> None:
    (root / split).mkdir(parents=True)
    images, annotations = [], []
    for image_id in image_ids:
        file_name = f"{image_id:012d}.jpg"
        image, objects = _draw_image(size, rng)
        image.save(root / split / file_name, quality=95)
        if on_image:
            on_image()
        images.append({"id": image_id, "file_name": file_name, "width": size, "height": size})
        for category_id, box, area in objects:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category_id,
                    "bbox": box,
                    "area": area,
                    "iscrowd": 0,
                }
            )
    path = annotation_file(root, split)
    path.parent.mkdir(exist_ok=True)
    document = {"info": {"description": f"harness synthetic {split}"}, "licenses": [],
                "images": images, "annotations": annotations, "categories": list(CATEGORIES)}
    path.write_text(json.dumps(document))


def _draw_image(size: int, rng: np.random.Generator) -> tuple[Image.Image, list]:
    background = rng.integers(90, 170, size=3)
    noise = rng.normal(0, 12, size=(size, size, 3))
    pixels = np.clip(background + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    placed: list[list[float]] = []
    objects = []
    for _ in range(int(rng.integers(1, MAX_OBJECTS + 1))):
        box = _free_box(size, placed, rng)
        if box is None:
            continue
        category_id = int(rng.integers(1, len(CATEGORIES) + 1))
        colour = tuple(int(c) for c in np.clip(np.array(BASE_COLOURS[category_id]) + rng.integers(-25, 26, 3), 0, 255))
        area = _draw_shape(draw, category_id, box, colour)
        placed.append(box)
        objects.append((category_id, box, area))
    return image, objects


def _free_box(size: int, placed: list[list[float]], rng: np.random.Generator) -> list[float] | None:
    """An [x, y, w, h] box of 20-45% of the image that overlaps no placed box."""
    for _ in range(20):
        side = float(rng.integers(int(size * 0.2), int(size * 0.45)))
        x, y = (float(v) for v in rng.integers(0, int(size - side), size=2))
        box = [x, y, side, side]
        if not any(_overlaps(box, other) for other in placed):
            return box
    return None


def _overlaps(a: list[float], b: list[float]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _draw_shape(draw: ImageDraw.ImageDraw, category_id: int, box: list[float], colour: tuple) -> float:
    x, y, w, h = box
    corners = (x, y, x + w - 1, y + h - 1)
    if category_id == 1:
        draw.rectangle(corners, fill=colour)
        return w * h
    if category_id == 2:
        draw.ellipse(corners, fill=colour)
        return float(np.pi * w * h / 4)
    draw.polygon([(x + w / 2, y), (x + w - 1, y + h - 1), (x, y + h - 1)], fill=colour)
    return w * h / 2
