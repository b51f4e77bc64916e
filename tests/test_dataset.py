"""Synthetic data generation and the COCO 2017 layout check."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO

from harness.dataset import DatasetInvalid, annotation_file, check_dataset
from harness.errors import BadInput
from harness.synth import SynthParams, write_synthetic

SMALL = SynthParams(train=6, val=3, seed=7, image_size=64)


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def dataset(tmp_path) -> Path:
    return write_synthetic(tmp_path / "coco", SMALL)


def test_synthetic_layout_is_coco_2017(dataset):
    for split in ("train2017", "val2017"):
        assert annotation_file(dataset, split).is_file()
        assert (dataset / split).is_dir()
    summary = check_dataset(dataset)
    assert [(s.split, s.images, s.categories) for s in summary.splits] == [("train2017", 6, 3), ("val2017", 3, 3)]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, dataset):
    again = write_synthetic(tmp_path / "again", SMALL)
    other = write_synthetic(tmp_path / "other", SynthParams(train=6, val=3, seed=8, image_size=64))
    assert tree_digest(again) == tree_digest(dataset)
    assert tree_digest(other) != tree_digest(dataset)


def test_synth_refuses_a_non_empty_directory(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(BadInput, match="refusing to overwrite"):
        write_synthetic(out, SMALL)
    assert (out / "keep.txt").read_text() == "mine"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(train=st.integers(1, 5), val=st.integers(1, 3), seed=st.integers(0, 2**32 - 1),
       size=st.sampled_from([32, 48, 96]))
def test_any_synthetic_dataset_loads_in_pycocotools(tmp_path_factory, train, val, seed, size):
    root = write_synthetic(tmp_path_factory.mktemp("synth") / "d", SynthParams(train, val, seed, size))
    check_dataset(root)
    coco = COCO(str(annotation_file(root, "train2017")))
    assert len(coco.getImgIds()) == train
    for ann in coco.loadAnns(coco.getAnnIds()):
        x, y, w, h = ann["bbox"]
        assert 0 <= x and 0 <= y and x + w <= size and y + h <= size and w > 0 and h > 0


def problems_of(root: Path) -> list[str]:
    with pytest.raises(DatasetInvalid) as caught:
        check_dataset(root)
    return caught.value.problems


def test_missing_directory(tmp_path):
    assert problems_of(tmp_path / "absent") == [f"{tmp_path / 'absent'} does not exist"]


def test_a_file_is_not_a_dataset(tmp_path):
    (tmp_path / "file").write_text("x")
    assert "is not a directory" in problems_of(tmp_path / "file")[0]


def test_missing_annotation_file(dataset):
    annotation_file(dataset, "val2017").unlink()
    assert problems_of(dataset) == [f"missing annotation file {annotation_file(dataset, 'val2017')}"]


def test_annotation_file_that_is_not_json(dataset):
    annotation_file(dataset, "train2017").write_text("{ not json")
    assert "is not valid JSON" in problems_of(dataset)[0]


def test_json_that_is_not_coco(dataset):
    annotation_file(dataset, "train2017").write_text(json.dumps({"images": []}))
    assert "no list annotations, categories" in problems_of(dataset)[0]


def test_every_absent_image_is_counted(dataset):
    images = sorted((dataset / "val2017").iterdir())
    for image in images[:2]:
        image.unlink()
    problems = problems_of(dataset)
    assert len(problems) == 2
    assert problems[0] == f"image listed in val2017 but absent: {images[0]}"
    with pytest.raises(DatasetInvalid, match=r"\(and 1 more problems\)"):
        check_dataset(dataset)


def test_categories_must_match_between_splits(dataset):
    path = annotation_file(dataset, "val2017")
    data = json.loads(path.read_text())
    data["categories"][0]["name"] = "cube"
    path.write_text(json.dumps(data))
    assert "categories differ" in problems_of(dataset)[0]
