"""Benchmark specs in configs/: the shipped ones load, and broken ones are named precisely."""

from __future__ import annotations

import pytest

from harness.errors import BadInput
from harness.spec import benchmarks


def test_shipped_benchmarks():
    names = set(benchmarks.benchmarks())
    assert {"reppoints-r101-dcn-2x", "smoke", "smoke-dcn"} <= names


def test_mission_benchmark_runs_mmdet_config_unchanged_with_provenance():
    bench = benchmarks.benchmark("reppoints-r101-dcn-2x")
    assert bench.mmdet_config == "mmdet::reppoints/reppoints-moment_r101-dconv-c3-c5_fpn-gn_head-gn_2x_coco.py"
    assert bench.overrides == {}
    assert (bench.schedule.epochs, bench.schedule.batch_per_gpu, bench.schedule.base_batch_size) == (24, 2, 16)
    primary = bench.reference()
    assert (primary.value, primary.unit) == (43.2, "AP points")
    assert "BI-V100" in primary.provenance.hardware and "2.22" in primary.provenance.framework
    assert bench.reference("mmdet-zoo-v100").value == 42.9


def test_smoke_has_its_own_recorded_reference():
    ref = benchmarks.benchmark("smoke").reference()
    assert "2.13.0" in ref.provenance.framework and ref.tolerance > 0


def test_unknown_benchmark_lists_the_known_ones():
    with pytest.raises(BadInput, match=r"unknown benchmark 'nope' \(known: .*smoke"):
        benchmarks.benchmark("nope")


def test_unknown_reference():
    with pytest.raises(BadInput, match="unknown reference 'x' for benchmark 'smoke'"):
        benchmarks.benchmark("smoke").reference("x")


def test_benchmark_without_reference():
    with pytest.raises(BadInput, match="has no reference"):
        benchmarks.benchmark("smoke-dcn").reference()


@pytest.mark.parametrize("text, message", [
    ("description = ", "not valid TOML"),
    ('description = "d"\nmmdet_config = "x.py"', "schedule: Field required"),
    ('description = "d"\nmmdet_config = "x.py"\n[schedule]\nepochs = 0\nbatch_per_gpu = 1\nbase_batch_size = 1',
     "schedule.epochs: Input should be greater than or equal to 1"),
    ('description = "d"\nmmdet_config = "x.py"\ndefault_reference = "r"\n'
     '[schedule]\nepochs = 1\nbatch_per_gpu = 1\nbase_batch_size = 1', "default_reference 'r' is not one of"),
])
def test_broken_spec_files(tmp_path, text, message):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(BadInput, match=message):
        benchmarks.load_benchmark_file(path)
