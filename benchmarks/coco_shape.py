"""A file tree of COCO 2017's shape, for scale figures: 118,287 train and 5,000 val image files (hard links to a
few small 640x480 JPEGs, so `--deep` decodes real images) and annotation files of COCO's size
(instances_train2017.json about 450 MB, 860,001 annotations with polygon segmentations, COCO's 80 categories),
valid for `harness dataset check`, written once and reused.

    .venv/bin/python benchmarks/coco_shape.py DIR     (write it; about a minute)
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
from pathlib import Path

from PIL import Image

from harness.spec.coco_categories import COCO_80

TRAIN_IMAGES, VAL_IMAGES = 118_287, 5_000
TRAIN_ANNOTATIONS, VAL_ANNOTATIONS = 860_001, 36_781
POLYGON_POINTS = 24  # COCO's polygons average ~24 points; the file then weighs what COCO's does
CATEGORIES = [{"id": i, "name": name, "supercategory": "thing"} for i, name in COCO_80.items()]
DONE = ".complete-v3"
CATEGORY_IDS = list(COCO_80)
LINKS_PER_FILE = 60_000  # ext4 allows 65,000 hard links to one inode


def make_coco_tree(root: Path) -> Path:
    if (root / DONE).exists():
        return root
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split, images, annotations in (("train2017", TRAIN_IMAGES, TRAIN_ANNOTATIONS),
                                       ("val2017", VAL_IMAGES, VAL_ANNOTATIONS)):
        _write_split(root, split, images, annotations)
    (root / DONE).write_text("")
    return root


def _write_split(root: Path, split: str, images: int, annotations: int) -> None:
    folder = root / split
    folder.mkdir(exist_ok=True)
    rng = random.Random(split)
    names = [f"{n:012d}.jpg" for n in range(1, images + 1)]
    for number, name in enumerate(names):
        source = root / f".source-{split}-{number // LINKS_PER_FILE}.jpg"
        if not source.exists():
            source.write_bytes(_jpeg(640, 480, rng))
        if not (folder / name).exists():
            os.link(source, folder / name)
    with open(root / "annotations" / f"instances_{split}.json", "w") as out:
        out.write('{"info": {"description": "COCO-shaped"}, "licenses": [], "images": ')
        json.dump([{"id": n, "file_name": name, "width": 640, "height": 480} for n, name in enumerate(names, 1)], out)
        out.write(', "annotations": [')
        for n in range(1, annotations + 1):
            x, y = rng.uniform(0, 500), rng.uniform(0, 350)
            polygon = [round(rng.uniform(0, 100) + (x if i % 2 == 0 else y), 2) for i in range(POLYGON_POINTS * 2)]
            ann = {"id": n, "image_id": rng.randint(1, images), "category_id": rng.choice(CATEGORY_IDS), "iscrowd": 0,
                   "area": 1000.0, "bbox": [round(x, 2), round(y, 2), 100.0, 100.0], "segmentation": [polygon]}
            out.write(("," if n > 1 else "") + json.dumps(ann))
        out.write('], "categories": ')
        json.dump(CATEGORIES, out)
        out.write("}")


def _jpeg(width: int, height: int, rng: random.Random) -> bytes:
    encoded = io.BytesIO()
    Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3))).save(encoded, format="JPEG")
    return encoded.getvalue()


if __name__ == "__main__":
    print(make_coco_tree(Path(sys.argv[1])))
