"""Synthetic data generation and the COCO 2017 layout check."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO

from harness.data.check import DatasetInvalid, annotation_file, check_dataset
from harness.data.synth import SynthParams, write_synthetic
from harness.errors import BadInput

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


def test_a_field_of_the_wrong_type_is_named_with_its_place(dataset):
    edit(dataset, "train2017", lambda d: d["annotations"][1].update(bbox="10,10,5,5"))
    [problem] = problems_of(dataset)
    assert "is not a COCO detection file" in problem and "$.annotations[1].bbox" in problem


def test_every_absent_image_is_counted(dataset):
    images = sorted((dataset / "val2017").iterdir())
    for image in images[:2]:
        image.unlink()
    problems = problems_of(dataset)
    assert len(problems) == 2
    assert problems[0] == f"image listed in val2017 but absent: {images[0]}"
    with pytest.raises(DatasetInvalid, match=r"\(and 1 more: 1 x image absent\)$"):
        check_dataset(dataset)


def test_categories_must_match_between_splits(dataset):
    edit(dataset, "val2017", lambda d: d["categories"][0].update(name="cube"))
    assert "categories differ" in problems_of(dataset)[0]


def edit(root: Path, split: str, change) -> None:
    path = annotation_file(root, split)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def first_annotation(field: str, value):
    return lambda data: data["annotations"][0].update({field: value})


def duplicate(key: str):
    return lambda data: data[key].append(dict(data[key][-1]))


def _second_image_named_like_the_first(data):
    data["images"][1]["id"] = data["images"][0]["id"]


# (how the training would break, the change, the words that name it)
BROKEN = [
    ("duplicate image id", _second_image_named_like_the_first, "image id 1 is listed twice"),
    ("duplicate annotation id", duplicate("annotations"), "is used twice"),
    ("annotation of an unknown image", first_annotation("image_id", 999), "names image 999, which is not listed"),
    ("unknown category", first_annotation("category_id", 42), "has category 42, which is not in categories"),
    ("iscrowd", first_annotation("iscrowd", 2), "has iscrowd 2"),
    ("short box", first_annotation("bbox", [1, 2, 3]), "has bbox [1.0, 2.0, 3.0]"),
    ("box outside", first_annotation("bbox", [60.0, 10.0, 20.0, 20.0]), "is outside image 1 (64x64)"),
    ("negative corner", first_annotation("bbox", [-5.0, 10.0, 20.0, 20.0]), "is outside image 1"),
    ("no file_name", lambda d: d["images"][0].pop("file_name"), "image 1 has no file_name"),
    ("no size", lambda d: d["images"][0].update(width=0), "image 1 has no positive width and height"),
]


@pytest.mark.parametrize("change, named", [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_what_the_training_needs_is_checked(dataset, change, named):
    edit(dataset, "train2017", change)
    problems = problems_of(dataset)
    assert named in problems[0], problems


def test_a_box_within_a_pixel_of_the_border_is_rounding_not_a_problem(dataset):
    edit(dataset, "train2017", first_annotation("bbox", [0.0, 0.0, 64.6, 10.0]))
    check_dataset(dataset)


def test_a_zero_size_box_is_a_warning_mmdet_skips_it(dataset):
    """COCO 2017's train split has two (height 0): the check must pass real COCO."""
    edit(dataset, "train2017", first_annotation("bbox", [10.0, 10.0, 5.0, 0.0]))
    summary = check_dataset(dataset)
    [warning] = summary.warnings
    assert warning.startswith("1 x box of zero width or height (mmdet skips it), first: train2017: annotation 1")


def test_the_first_problem_is_named_and_the_rest_counted_by_kind(dataset):
    def break_many(data):
        for ann in data["annotations"][:3]:
            ann["bbox"] = [500.0, 0.0, 1.0, 1.0]
        data["annotations"] += [dict(a) for a in data["annotations"][:2]]

    edit(dataset, "train2017", break_many)
    with pytest.raises(DatasetInvalid) as caught:
        check_dataset(dataset)
    message = str(caught.value)
    assert message.startswith("dataset invalid: train2017: annotation 1 bbox [500.0, 0.0, 1.0, 1.0] is outside image")
    # the two copies keep their changed boxes: 4 more outside, 2 duplicate ids
    assert message.endswith("(and 6 more: 4 x box outside its image, 2 x duplicate annotation id)"), message


def coco_categories(data):
    from harness.spec.coco_categories import COCO_80

    data["categories"] = [{"id": i, "name": n, "supercategory": "x"} for i, n in COCO_80.items()]


def test_the_coco_benchmark_expects_coco_s_80_categories(dataset):
    from harness.spec.benchmarks import benchmark

    expected = benchmark("reppoints-r101-dcn-2x").expected_categories
    assert problems_of_with(dataset, expected)[0].startswith("train2017: categories are not the benchmark's 80")
    for split in ("train2017", "val2017"):
        edit(dataset, split, coco_categories)
    check_dataset(dataset, expected)
    edit(dataset, "val2017", lambda d: d["categories"][-1].update(name="hair dryer"))
    problems = problems_of_with(dataset, expected)
    assert "unexpected [(90, 'hair dryer')]" in problems[0]


def test_coco_s_category_names_are_mmdet_s():
    from mmdet.datasets import CocoDataset

    from harness.spec.coco_categories import NAMES

    assert NAMES == tuple(CocoDataset.METAINFO["classes"])


def problems_of_with(root: Path, expected) -> list[str]:
    with pytest.raises(DatasetInvalid) as caught:
        check_dataset(root, expected)
    return caught.value.problems


def test_deep_decodes_every_image_and_names_the_broken_ones(dataset):
    summary = check_dataset(dataset, deep=True)
    assert [s.decoded for s in summary.splits] == [6, 3]
    images = sorted((dataset / "train2017").iterdir())
    images[0].write_bytes(images[0].read_bytes()[:300])  # truncated
    images[1].write_text("not an image")
    edit(dataset, "val2017", lambda d: d["images"][0].update(width=65))
    check_dataset(dataset)  # the shallow check opens no image; the size only counts for the box check
    problems = problems_of_deep(dataset)
    assert sorted(problems) == sorted([
        f"{images[0]} cannot be decoded (Truncated File Read)",
        f"{images[1]} is not an image file Pillow can read",
        f"{sorted((dataset / 'val2017').iterdir())[0]} is 64x64 but its annotation says 65x64",
    ]), problems


def problems_of_deep(root: Path) -> list[str]:
    with pytest.raises(DatasetInvalid) as caught:
        check_dataset(root, deep=True)
    return caught.value.problems


def test_dataset_check_cli_deep_and_its_one_line_error(cli, dataset):
    result = cli("dataset", "check", dataset, "--deep")
    assert result.exit_code == 0, result.output
    assert "decoded" in result.stdout and "valid COCO 2017 layout" in result.stdout
    (dataset / "val2017" / sorted(p.name for p in (dataset / "val2017").iterdir())[0]).write_text("x")
    result = cli("dataset", "check", dataset, "--deep")
    assert result.exit_code == 2
    assert "is not an image file Pillow can read" in result.stderr.strip().splitlines()[-1]
