"""The CLI as a user meets it: exit codes, one-line errors, nothing overwritten."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

from harness.data.synth import SynthParams, write_synthetic
from harness.store import layout

from conftest import one_line_error, training_command
from support import GOLDEN, copy_run


def test_help_lists_the_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("train", "verify", "dataset"):
        assert command in result.stdout


def test_train_missing_dataset_directory(cli, tmp_path):
    result = cli("train", "--data", tmp_path / "nowhere")
    assert result.exit_code == 2
    assert one_line_error(result) == f"error: dataset invalid: {tmp_path / 'nowhere'} does not exist"


def test_train_dataset_path_that_is_a_file(cli, tmp_path):
    (tmp_path / "f").write_text("")
    assert "is not a directory" in one_line_error(cli("train", "--data", tmp_path / "f"))


def test_train_image_listed_but_absent(cli, tmp_path):
    root = write_synthetic(tmp_path / "d", SynthParams(train=3, val=2))
    for image in (root / "train2017").iterdir():
        image.unlink()
    result = cli("train", "--data", root)
    assert result.exit_code == 2
    assert one_line_error(result).endswith("(and 2 more: 2 x image absent)")


def test_train_unknown_benchmark(cli):
    result = cli("train", "--benchmark", "nope")
    assert result.exit_code == 2
    assert one_line_error(result).startswith("error: unknown benchmark 'nope' (known: ")


def test_train_real_benchmark_needs_data(cli):
    result = cli("train", "--benchmark", "reppoints-r101-dcn-2x")
    assert "needs --data PATH" in one_line_error(result) and result.exit_code == 2


def test_train_zero_or_negative_gpus(cli, session_env):
    for gpus in ("0", "-2"):
        result = cli("train", "--gpus", gpus)
        assert result.exit_code == 2
        assert one_line_error(result) == f"error: --gpus must be at least 1, got {gpus}"
    results = session_env / "results"
    assert not results.exists() or all((p / "run.json").exists() for p in results.iterdir() if p.name != layout.GROUPS)


def test_train_unknown_platform(cli):
    result = cli("train", "--platform", "tpu")
    assert result.exit_code == 2 and "unknown platform 'tpu'" in result.stderr


def test_verify_directory_without_logs(cli, tmp_path):
    result = cli("verify", tmp_path)
    assert result.exit_code == 2
    assert one_line_error(result).startswith(f"error: no mmengine logs under {tmp_path}")


def test_verify_empty_and_garbage_logs(cli, tmp_path):
    for name, content in (("empty.log", b""), ("garbage.log", b"\xff\x00<html>nope</html>\n" * 50)):
        (tmp_path / name).write_bytes(content)
        result = cli("verify", tmp_path / name, "--benchmark", "smoke")
        assert result.exit_code == 2
        assert "holds no mmengine training or evaluation lines" in one_line_error(result)


def test_dataset_check_exit_codes(cli, tmp_path):
    root = write_synthetic(tmp_path / "d", SynthParams(train=2, val=2))
    ok = cli("dataset", "check", root)
    assert ok.exit_code == 0 and "valid COCO 2017 layout" in ok.stdout
    (root / "annotations" / "instances_val2017.json").write_text("nope")
    bad = cli("dataset", "check", root)
    assert bad.exit_code == 2 and "is not valid JSON" in one_line_error(bad)


def test_dataset_synth_writes_and_refuses_to_overwrite(cli, tmp_path):
    result = cli("dataset", "synth", tmp_path / "s", "--train", "3", "--val", "2", "--seed", "4")
    assert result.exit_code == 0 and "train2017" in result.stdout
    again = cli("dataset", "synth", tmp_path / "s")
    assert again.exit_code == 2 and "refusing to overwrite" in one_line_error(again)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The end-to-end smoke: README command 1 (`harness train` with no arguments, then `harness verify`).

def test_smoke_run_is_recorded(smoke_run):
    record = json.loads((smoke_run / "run.json").read_text())
    assert record["schema_version"] == 7 and record["status"] == "succeeded" and record["exit_code"] == 0
    assert record["spec"]["benchmark"] == "smoke" and record["spec"]["platform"] == "cpu" and record["synthetic_data"]
    assert record["spec"]["data"] is None and record["spec"]["epochs"] == 20 and record["spec"]["cfg_options"] == []
    stack = record["environment"]["stack"]
    assert stack["packages"]["mmcv"] == "2.1.0" and stack["packages"]["mmdet"] == "3.3.0" and stack["where"] == "local"
    (attempt,) = record["attempts"]
    assert attempt["status"] == "succeeded" and attempt["exit_code"] == 0 and attempt["resumed_from"] is None
    assert training_command(attempt)[1].endswith("mmdet/.mim/tools/train.py")
    # the run belonged to its supervisor, not to this (test) process; its job's output went straight to console.log
    assert attempt["pid"] != os.getpid() and attempt["job_started"] and attempt["log_offset"] == 0
    assert f"run {smoke_run.name}: succeeded" in (smoke_run / "supervisor.log").read_text()
    assert record["final_metrics"]["bbox_mAP"] >= 25.0, "the smoke benchmark must learn visibly"
    for name in ("config.py", "console.log", "work_dir/config.py"):
        assert (smoke_run / name).is_file()


def test_verify_latest_run_passes(cli, smoke_run):
    result = cli("verify")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "AP points (0-100)" in result.stdout and "pass" in result.stdout
    assert result.stderr == ""


def test_verify_by_run_id_as_train_suggests(cli, smoke_run):
    result = cli("verify", smoke_run.name)
    assert result.exit_code == 0 and f"{smoke_run.name}/work_dir/" in result.stdout


def test_verify_json(cli, smoke_run):
    result = cli("verify", smoke_run, "--json")
    document = json.loads(result.stdout)
    assert result.exit_code == document["exit_code"] == 0
    assert document["verdict"] == "pass" and document["schema_version"] == 1
    assert document["unit"].startswith("AP points")
    assert document["metrics"]["bbox_mAP"] == json.loads((smoke_run / "run.json").read_text())["final_metrics"]["bbox_mAP"]
    assert document["reference"]["provenance"]["framework"]
    assert len(document["evaluations"]) == 20


def test_verify_out_of_tolerance_exit_1(cli, smoke_run):
    result = cli("verify", smoke_run, "--tolerance", "0", "--json")
    document = json.loads(result.stdout)
    expected = 0 if document["delta"] >= 0 else 1
    assert result.exit_code == expected
    if document["delta"] < 0:
        assert document["verdict"] == "out_of_tolerance" and "below the reference" in result.stderr


def test_verify_bare_work_dir_needs_benchmark(cli, smoke_run):
    result = cli("verify", smoke_run / "work_dir")
    assert result.exit_code == 2 and "pass --benchmark" in one_line_error(result)
    assert cli("verify", smoke_run / "work_dir", "--benchmark", "smoke").exit_code == 0


def test_verify_cut_off_run_is_incomplete(cli, smoke_run, smoke_log, tmp_path):
    from support import cut_before_first_evaluation

    log = cut_before_first_evaluation(smoke_log, tmp_path / "cut.log")
    result = cli("verify", log, "--benchmark", "smoke")
    assert result.exit_code == 2
    assert one_line_error(result).startswith("incomplete: the log ended before any evaluation (stopped at iteration ")


def test_verify_unknown_reference(cli, smoke_run):
    result = cli("verify", smoke_run, "--reference", "nope")
    assert result.exit_code == 2 and "unknown reference 'nope'" in one_line_error(result)


def test_work_dir_holding_a_finished_run_is_never_overwritten(cli, smoke_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(smoke_run, copy)
    before = digest(copy / "run.json")
    result = cli("train", "--work-dir", copy)
    assert result.exit_code == 2 and "already holds a run" in one_line_error(result)
    assert digest(copy / "run.json") == before


def test_verify_several_runs_and_a_glob(cli, smoke_run, tmp_path):
    for name in ("a", "b", "c"):
        copy_run(smoke_run, tmp_path / f"seed-{name}")
    result = cli("verify", tmp_path / "seed-*", "--json")
    document = json.loads(result.stdout)
    assert result.exit_code == 0 and document["aggregate"]["n"] == 3 and len(document["runs"]) == 3
    assert document["aggregate"]["p_value"] is not None and "t-test" in document["reason"]
    table = cli("verify", tmp_path / "seed-a", tmp_path / "seed-b")
    assert "2 runs: mean" in table.stdout


def test_verify_two_unfinished_runs_fail(cli, smoke_run, tmp_path):
    runs = [copy_run(smoke_run, tmp_path / "ok"),
            copy_run(smoke_run, tmp_path / "x", status="failed", error="killed"),
            copy_run(smoke_run, tmp_path / "y", status="interrupted")]
    result = cli("verify", *runs)
    assert result.exit_code == 1
    assert one_line_error(result).startswith("failed: 2 of 3 runs did not finish (at most one may)")


def test_verify_refuses_runs_of_different_benchmarks(cli, smoke_run, tmp_path):
    other = copy_run(smoke_run, tmp_path / "other", {"benchmark": "smoke-dcn"})
    result = cli("verify", smoke_run, other)
    assert result.exit_code == 2
    assert one_line_error(result) == "error: runs of different benchmarks (smoke, smoke-dcn) cannot be judged together"


def test_verify_run_record_of_an_unknown_schema_version(cli, smoke_run, tmp_path):
    future = copy_run(smoke_run, tmp_path / "future", schema_version=99)
    result = cli("verify", future)
    assert result.exit_code == 2
    assert "has schema version 99, newer than this harness reads (up to 7); upgrade the harness" in one_line_error(result)


def test_verify_bad_tolerance_and_policy(cli, smoke_run):
    negative = cli("verify", smoke_run, "--tolerance", "-1")
    assert negative.exit_code == 2
    assert one_line_error(negative) == "error: tolerance must be a finite number >= 0, got -1.0"
    for not_a_number in ("nan", "inf"):
        refused = cli("verify", smoke_run, "--tolerance", not_a_number)
        assert refused.exit_code == 2 and "finite number" in one_line_error(refused)
    assert cli("verify", smoke_run, "--tolerance", "abc").exit_code == 2
    unknown = cli("verify", smoke_run, "--policy", "lenient")
    assert unknown.exit_code == 2 and "unknown policy 'lenient'" in unknown.stderr


def test_verify_an_old_mmdet2_log_against_the_mission_reference(cli):
    result = cli("verify", GOLDEN / "20230601_101500.log.json", "--benchmark", "reppoints-r101-dcn-2x", "--json")
    document = json.loads(result.stdout)
    assert result.exit_code == 2 and document["verdict"] == "incomplete"
    assert document["runs"][0]["reason"] == "last evaluation at epoch 3 of 24" and document["metrics"]["bbox_mAP"] == 43.2


def test_an_unexpected_error_is_one_line_and_exit_3_unless_debug(cli, monkeypatch):
    from harness.spec import benchmarks

    def broken():
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(benchmarks, "benchmarks", broken)
    result = cli("references")
    assert result.exit_code == 3
    assert one_line_error(result) == ("error: internal error: ZeroDivisionError: division by zero "
                                      "(rerun with --debug for the traceback)")
    debug = cli("--debug", "references")
    assert isinstance(debug.exception, ZeroDivisionError)


def test_runs_lists_results_including_unreadable_records(cli, smoke_run, session_env):
    broken = session_env / "results" / "99999999-000000-broken"
    broken.mkdir()
    (broken / "run.json").write_text("{ not json")
    try:
        result = cli("runs")
        assert result.exit_code == 0
        # the run by the start of its id that no other shares (at least its time stamp), which commands take too
        assert smoke_run.name[:15] in result.stdout and "succeeded" in result.stdout and "unreadable" in result.stdout
        listed = json.loads(cli("runs", "--benchmark", "smoke", "--json").stdout)
        assert [r["run_id"] for r in listed] == [smoke_run.name] and listed[0]["final_metrics"]["bbox_mAP"] > 25
    finally:
        shutil.rmtree(broken)


def test_compare_refuses_a_tolerance_that_is_not_a_finite_number(cli, smoke_run):
    for bad in ("nan", "-1"):
        result = cli("compare", smoke_run, smoke_run, "--tolerance", bad)
        assert result.exit_code == 2 and "tolerance must be a finite number >= 0" in one_line_error(result)


def test_importing_the_cli_leaves_the_heavy_stack_for_the_commands_that_use_it():
    import subprocess
    import sys

    heavy = ("scipy", "matplotlib", "torch", "mmengine", "mmdet", "mmcv", "docker", "pydantic", "typer.rich_utils")
    probe = f"import sys, harness.cli; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"importing harness.cli imported {loaded}"
