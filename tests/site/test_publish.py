"""`harness publish` and `harness compare --group`, offline: on the golden store of real smoke runs
(tests/data/store, made by tests/golden/make_store.py) and on records made in memory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.edges.host import Machine
from harness.errors import BadInput
from harness.run import repro
from harness.site import collect, output
from harness.store import layout
from harness.verdict import group_compare
from harness.verdict.group_compare import GroupSide

from conftest import one_line_error
from store_records import make_record
from support import GOLDEN

STORE = GOLDEN / "store"


@pytest.fixture
def golden(tmp_path, monkeypatch) -> Path:
    results = tmp_path / "results"
    shutil.copytree(STORE, results)
    monkeypatch.setenv("HARNESS_RESULTS", str(results))
    return results


def side(group_id: str, values: list[float], speed: float | None = 10.0, **facts) -> GroupSide:
    import statistics

    return GroupSide(group_id=group_id, values=values, unfinished=0, mean=statistics.fmean(values),
                     std=statistics.stdev(values) if len(values) > 1 else None, images_per_second=speed,
                     facts={fact: "-" for fact in group_compare.FACTS} | facts)


def test_b_well_below_a_is_significantly_worse_and_exits_1():
    result = group_compare.compare_sides(side("a", [75.6, 74.3, 77.2]), side("b", [60.1, 61.9, 59.4]), "smoke")
    assert result.worse and result.exit_code == 1
    assert result.difference == pytest.approx(-15.233, abs=1e-3)
    assert result.p_value < 0.01 and result.p_worse < 0.05
    assert "significantly worse" in result.finding


def test_b_below_a_but_within_the_tolerance_is_not_worse():
    result = group_compare.compare_sides(side("a", [75.6, 74.3, 77.2]), side("b", [72.0, 71.1, 73.5]), "smoke")
    assert result.p_value < 0.05, "the difference itself is significant ..."
    assert not result.worse and result.exit_code == 0, "... but smaller than the benchmark's 8 AP tolerance"


def test_a_wide_spread_leaves_a_large_drop_not_significant():
    result = group_compare.compare_sides(side("a", [75.0, 55.0, 95.0]), side("b", [50.0, 80.0, 40.0]), "smoke")
    assert result.difference < -8 and result.p_worse > 0.05 and not result.worse


def test_identical_runs_without_spread_are_judged_by_the_difference_alone():
    same = group_compare.compare_sides(side("a", [70.0, 70.0]), side("b", [70.0, 70.0]), "smoke")
    assert same.p_value is None and same.p_worse is None and not same.worse and "not tested" in same.finding
    single = group_compare.compare_sides(side("a", [70.0]), side("b", [50.0]), "smoke")
    assert single.p_value is None and single.worse, "20 AP below with nothing to test: beyond the tolerance"


def test_throughput_ratio_and_the_environment_facts_that_differ():
    a = side("a", [75.0, 76.0], speed=100.0, platform="cuda", **{"gpu model": "NVIDIA A100-SXM4-80GB", "cuda": "12.1"})
    b = side("b", [75.5, 76.5], speed=150.0, platform="ixuca", **{"gpu model": "Iluvatar BI-V150", "sdk": "4.2.0"})
    result = group_compare.compare_sides(a, b, "smoke")
    assert result.throughput_ratio == 1.5
    assert [(d.fact, d.a, d.b) for d in result.differences] == [
        ("platform", "cuda", "ixuca"), ("gpu model", "NVIDIA A100-SXM4-80GB", "Iluvatar BI-V150"),
        ("cuda", "12.1", "-"), ("sdk", "-", "4.2.0")]


def test_a_group_s_facts_are_what_its_runs_agree_on():
    first = make_record("r1")
    other = first.environment.model_copy(update={"machine": Machine(gpu_model="BI-V150", sdk="4.2.0")})
    facts = group_compare.group_facts([first, make_record("r2", environment=other)])
    assert facts["torch"] == "2.1.0" and facts["platform"] == "cpu"
    assert facts["gpu model"] == "mixed: -, BI-V150"


def test_compare_group_on_real_groups_exits_1_when_b_is_worse(cli, golden):
    worse = cli("compare", "--group", "golden-a", "--group", "golden-b", "--json")
    document = json.loads(worse.stdout)
    assert worse.exit_code == 1 and document["worse"] and document["exit_code"] == 1
    assert document["schema_version"] == 1 and len(document["a"]["values"]) == 3 and len(document["b"]["values"]) == 3
    assert document["difference"] < -8 and document["p_worse"] < 0.05
    assert document["differences"] == [], "the same machine and stack ran both"
    assert document["throughput_ratio"] > 0
    better = cli("compare", "--group", "golden-b", "--group", "golden-a")
    assert better.exit_code == 0 and "B is not significantly worse" in better.stdout
    assert "golden-a" in better.stdout and "images / s" in better.stdout


@pytest.mark.parametrize("args, message", [
    (("--group", "golden-a"), "--group takes exactly two groups"),
    (("--group", "golden-a", "--group", "nope"), "no group 'nope'"),
    (("--group", "golden-a", "--group", "golden-b", "--tolerance", "1"), "--group takes exactly two groups"),
    ((), "compare needs two runs (A B) or two groups"),
])
def test_compare_group_refuses_bad_input_in_one_line(cli, golden, args, message):
    result = cli("compare", *args)
    assert result.exit_code == 2 and message in one_line_error(result)


def test_groups_of_different_benchmarks_do_not_compare(golden):
    group = layout.read_group("golden-a")
    other = group.model_copy(update={"group_id": "other", "spec": group.spec.model_copy(update={"benchmark": "x"})})
    layout.group_dir("other").mkdir()
    layout.write_group(other)
    with pytest.raises(Exception, match="ran different benchmarks"):
        repro.compare_groups("golden-a", "other")


def test_the_site_data_holds_every_run_newest_first_and_every_pair_of_groups(golden):
    site = collect.collect(golden)
    started = [run.started for run in site.runs]
    assert started == sorted(started, reverse=True) and len(site.runs) == len(list(golden.glob("*/run.json")))
    verdicts = {run.status: run.verdict for run in site.runs if run.group is None and run.kind == "train"}
    assert verdicts == {"succeeded": "pass", "diverged": "diverged", "failed": "incomplete"}
    assert {(c.a.group_id, c.b.group_id) for c in site.comparisons} == {("golden-a", "golden-b"),
                                                                        ("golden-b", "golden-a")}
    (row,) = site.stacks
    failed = next(run for run in site.runs if run.status == "failed")
    assert (row.source, row.verdict) == (failed.run_id, "incomplete"), "the newest verdict, a failed run's too"
    bench = next(run for run in site.runs if run.kind == "bench")
    assert row.bench_run == bench.run_id and row.images_per_second == bench.bench["images_per_second"]
    passed = next(run for run in site.runs if run.verdict == "pass")
    assert (row.last_pass, row.last_pass_kind) == (passed.run_id, "run"), "the newest pass, older than the failure"


def test_an_unreadable_record_is_listed_not_fatal(cli, golden, tmp_path):
    (golden / "broken").mkdir()
    (golden / "broken" / "run.json").write_text("{not json")
    result = cli("publish", "--out", tmp_path / "site")
    assert result.exit_code == 0, result.output
    index = (tmp_path / "site" / "index.html").read_text()
    assert "broken" in index and "v-unreadable" in index


def test_publishing_again_replaces_only_what_it_wrote(cli, golden, tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert cli("publish", "--out", out).exit_code == 0
    first = set(json.loads((out / output.MANIFEST).read_text())["files"])
    gone = next(name for name in sorted(first) if name.startswith("runs/") and name.endswith(".html"))
    shutil.rmtree(golden / Path(gone).stem)  # that run is no longer in the store
    again = cli("publish", "--out", out)
    assert again.exit_code == 0 and "2 stale file(s) removed" in again.stdout
    assert not (out / gone).exists() and (out / "notes.txt").read_text() == "mine"


def test_a_foreign_file_in_the_way_stops_the_publish_before_anything_is_written(cli, golden, tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("someone else's")
    result = cli("publish", "--out", out)
    assert result.exit_code == 2 and "is in the way and was not written by `harness publish`" in one_line_error(result)
    assert (out / "index.html").read_text() == "someone else's" and sorted(p.name for p in out.iterdir()) == ["index.html"]


def test_a_manifest_entry_outside_the_site_is_never_removed(tmp_path):
    out, outside = tmp_path / "site", tmp_path / "keep.txt"
    outside.write_text("keep")
    out.mkdir()
    (out / output.MANIFEST).write_text(json.dumps({"schema_version": 1, "files": ["../keep.txt", str(outside)]}))
    output.write_site(out, {"index.html": b"x"})
    assert outside.read_text() == "keep"


def test_publish_with_no_store_is_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_RESULTS", str(tmp_path / "none"))
    result = cli("publish", "--out", tmp_path / "site")
    assert result.exit_code == 2 and "no results store at" in one_line_error(result)


def test_text_from_a_record_cannot_close_the_page_s_data_element(golden, tmp_path):
    from harness.site import render

    assert "</script>" not in render._script_json({"error": "</script><script>alert(1)</script>"})


# Issue 24, item 1: no path the harness writes comes from a string inside a record.
def _tampered(golden: Path, name: str, **changes) -> Path:
    run_dir = golden / name
    shutil.copytree(golden / "20261203-085910-smoke", run_dir)
    data = json.loads((run_dir / "run.json").read_text()) | {"run_id": name} | changes
    (run_dir / "run.json").write_text(json.dumps(data))
    return run_dir


@pytest.mark.parametrize("field, value, words", [
    ("run_id", "../../escaped", "run_id: Value error, '../../escaped' is not a run or group id"),
    ("console_log", "../../escaped.log", "console_log: Value error, '../../escaped.log' is not a path inside the run"),
    ("work_dir", "/etc", "work_dir: Value error, '/etc' is not a path inside the run directory"),
    ("group", "../g", "group: Value error, '../g' is not a run or group id"),
])
def test_a_record_naming_a_path_outside_its_run_is_unreadable_and_writes_nothing(cli, golden, tmp_path, field,
                                                                                   value, words):
    _tampered(golden, "tampered", **{field: value})
    site = tmp_path / "site"  # site/runs/../../escaped.html would be tmp_path/escaped.html
    for _ in range(2):  # a second publish into the same site works as well
        result = cli("publish", "--out", site)
        assert result.exit_code == 0, result.output + result.stderr
    listed = {r["run_dir"].split("/")[-1]: r for r in json.loads(cli("runs", "--json").stdout) if "run_dir" in r}
    assert words in listed["tampered"]["error"]
    assert not list(tmp_path.glob("escaped*")) and not (golden.parent / "escaped.log").exists()
    assert (site / "runs" / "tampered.html").is_file(), "listed under its folder's name, as unreadable"
    verified = cli("verify", golden / "tampered")
    assert verified.exit_code == 2 and words in one_line_error(verified)


def test_a_record_copied_into_another_folder_is_listed_as_such(cli, golden, tmp_path):
    shutil.copytree(golden / "20261203-085910-smoke", golden / "copy")
    listed = {r["run_dir"].split("/")[-1]: r for r in json.loads(cli("runs", "--json").stdout) if "run_dir" in r}
    assert "names run '20261203-085910-smoke', not its folder's name 'copy'" in listed["copy"]["error"]
    assert cli("publish", "--out", tmp_path / "site").exit_code == 0
    page = (tmp_path / "site" / "runs" / "copy.html").read_text()
    assert "not its folder&#39;s name" in page or "not its folder's name" in page


def test_publish_refuses_the_root_and_the_store_itself(cli, golden):
    for out in ("/", golden, golden / "."):
        result = cli("publish", "--out", out)
        assert result.exit_code == 2, out
        assert "the file system's root" in one_line_error(result) or "is the results store itself" in \
            one_line_error(result)
    assert not (golden / "index.html").exists()


def test_a_site_file_name_that_would_climb_out_is_never_written(tmp_path):
    with pytest.raises(BadInput, match="would not be inside"):
        output.write_site(tmp_path / "site", {"../outside.html": b"x"})
    assert not (tmp_path / "outside.html").exists() and not (tmp_path / "site").exists()
