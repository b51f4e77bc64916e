"""JUnit XML (read back with junitparser), markdown, GitHub step summaries, and `harness references`."""

from __future__ import annotations

import json
import re

from junitparser import Error, Failure, JUnitXml

from conftest import one_line_error
from support import GOLDEN, copy_run


def read_case(path):
    (suite,) = JUnitXml.fromfile(str(path))
    (case,) = suite
    return suite, case


def test_a_pass_is_a_passing_testcase(cli, smoke_run, tmp_path):
    result = cli("verify", smoke_run, "--junit", tmp_path / "v.xml", "--markdown", tmp_path / "v.md")
    assert result.exit_code == 0
    suite, case = read_case(tmp_path / "v.xml")
    assert (suite.tests, suite.failures, suite.errors) == (1, 0, 0)
    assert case.classname == "harness.smoke" and case.name == "pinned-cpu" and case.is_passed
    text = (tmp_path / "v.md").read_text()
    assert "harness verify: smoke — **pass**" in text and "| bbox_mAP |" in text


def with_final_map(run, value: float):
    """A copy of a real run whose last evaluation scored `value` (0-1 scale, as mmengine writes)."""
    (scalars,) = run.glob("work_dir/*/vis_data/scalars.json")
    rows = [json.loads(line) for line in scalars.read_text().splitlines()]
    last = max(i for i, row in enumerate(rows) if "coco/bbox_mAP" in row)
    rows[last]["coco/bbox_mAP"] = value
    scalars.write_text("".join(json.dumps(row) + "\n" for row in rows))
    (text_log,) = run.glob("work_dir/*/*.log")  # kept consistent, or the cross-check warns
    lines = text_log.read_text().splitlines(keepends=True)
    last_val = max(i for i, line in enumerate(lines) if "Epoch(val)" in line and "coco/bbox_mAP:" in line)
    lines[last_val] = re.sub(r"coco/bbox_mAP: [0-9.]+", f"coco/bbox_mAP: {value:.4f}", lines[last_val])
    text_log.write_text("".join(lines))
    return run


def test_out_of_tolerance_is_a_failure_with_the_reason(cli, smoke_run, tmp_path):
    low = with_final_map(copy_run(smoke_run, tmp_path / "low"), 0.5)
    result = cli("verify", low, "--junit", tmp_path / "v.xml")
    assert result.exit_code == 1
    warning, verdict = result.stderr.strip().splitlines()
    assert warning.startswith("warning: the final bbox_mAP 50.00 (epoch 20) is ") and "below the best" in warning
    reason = verdict.removeprefix("out_of_tolerance: ")
    assert reason.startswith("bbox_mAP 50.00 vs 75.70")
    _, case = read_case(tmp_path / "v.xml")
    (failure,) = case.result
    assert isinstance(failure, Failure) and failure.message == reason and failure.type == "out_of_tolerance"


def test_an_incomplete_run_is_an_error(cli, smoke_run, tmp_path):
    failed = copy_run(smoke_run, tmp_path / "failed", status="failed", error="exit 1")
    assert cli("verify", failed, "--junit", tmp_path / "v.xml").exit_code == 2
    suite, case = read_case(tmp_path / "v.xml")
    (error,) = case.result
    assert isinstance(error, Error) and error.message.startswith("the run failed: exit 1")
    assert (suite.failures, suite.errors) == (0, 1)


def test_step_summary_is_appended(cli, smoke_run, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert cli("verify", smoke_run).exit_code == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "**pass**" in text


def test_junit_into_a_missing_directory_is_bad_input(cli, smoke_run, tmp_path):
    result = cli("verify", smoke_run, "--junit", tmp_path / "nope" / "v.xml")
    assert result.exit_code == 2
    assert one_line_error(result) == f"error: --junit {tmp_path / 'nope' / 'v.xml'}: directory {tmp_path / 'nope'} does not exist"


def test_references_lists_every_reference_with_provenance(cli):
    result = cli("references")
    assert result.exit_code == 0
    for text in ("deepsparkhub-bi-v100 (default)", "43.2", "mmdet-zoo-v100", "42.9", "BI-V100", "pinned-cpu"):
        assert text in result.stdout


def test_report_writes_plots_of_the_expected_size_and_markdown(cli, smoke_run, tmp_path):
    from PIL import Image

    out = tmp_path / "report"
    result = cli("report", smoke_run, "--out", out)
    assert result.exit_code == 0, result.stderr
    for name in ("loss.png", "bbox_mAP.png"):
        with Image.open(out / name) as image:
            assert image.size == (800, 450)
            assert len(set(image.convert("L").getdata())) > 10, f"{name} is blank"
    text = (out / "report.md").read_text()
    assert "![bbox mAP per epoch](bbox_mAP.png)" in text and "| 20 |" in text
    again = cli("report", smoke_run, "--out", out)
    assert again.exit_code == 2 and "already exists and is not empty" in one_line_error(again)


def test_compare_a_run_with_itself_and_with_a_lower_copy(cli, smoke_run, tmp_path):
    same = cli("compare", smoke_run, smoke_run)
    assert same.exit_code == 0 and "never part" in same.stdout
    low = with_final_map(copy_run(smoke_run, tmp_path / "low"), 0.5)
    parted = json.loads(cli("compare", smoke_run, low, "--json").stdout)
    assert parted["parted_at"] == 20 and parted["rows"][-1]["delta"] < -8
    assert cli("compare", smoke_run, low).exit_code == 1


def test_compare_a_run_with_an_old_log_needs_nothing_else(cli, smoke_run):
    result = cli("compare", smoke_run, GOLDEN / "20230601_101500.log.json", "--tolerance", "100", "--json")
    document = json.loads(result.stdout)
    assert result.exit_code == 0 and document["rows"][0]["b"] == 18.2
