"""`harness eval CHECKPOINT`: mmdet's test of a checkpoint, judged like a training run, locally and in docker."""

from __future__ import annotations

from pathlib import Path

from conftest import one_line_error, read_json, training_command


def final_checkpoint(smoke_run: Path) -> Path:
    return max(smoke_run.glob("work_dir/epoch_*.pth"), key=lambda p: int(p.stem.split("_")[1]))


def test_eval_of_the_smoke_checkpoint_reproduces_its_final_map(cli, smoke_run, session_env):
    result = cli("eval", final_checkpoint(smoke_run), "--work-dir", session_env / "eval-local")
    assert result.exit_code == 0, result.stdout + result.stderr
    run = read_json(session_env / "eval-local" / "run.json")
    trained = read_json(smoke_run / "run.json")
    assert run["spec"]["kind"] == "eval" and run["spec"]["checkpoint"] == str(final_checkpoint(smoke_run))
    assert run["final_metrics"]["bbox_mAP"] == trained["final_metrics"]["bbox_mAP"]
    assert cli("verify", session_env / "eval-local").exit_code == 0


def test_eval_in_the_cpu_image_gives_the_same_verdict(cli, smoke_run, cpu_image, session_env):
    result = cli("eval", final_checkpoint(smoke_run), "--runtime", "docker", "--work-dir", session_env / "eval-docker")
    assert result.exit_code == 0, result.stdout + result.stderr
    run = read_json(session_env / "eval-docker" / "run.json")
    assert run["spec"]["runtime"] == "docker" and training_command(run["attempts"][0])[2].startswith("/work/run/")
    mounts = {m["target"]: m for m in run["container"]["mounts"]}
    assert mounts["/work/checkpoint"] == {"source": str(final_checkpoint(smoke_run).parent),
                                          "target": "/work/checkpoint", "read_only": True}
    assert run["final_metrics"]["bbox_mAP"] == read_json(smoke_run / "run.json")["final_metrics"]["bbox_mAP"]


def test_eval_into_a_work_dir_outside_the_current_directory(cli, smoke_run, tmp_path):
    result = cli("eval", final_checkpoint(smoke_run), "--work-dir", tmp_path / "elsewhere" / "eval")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert read_json(tmp_path / "elsewhere" / "eval" / "run.json")["spec"]["kind"] == "eval"


def test_a_missing_checkpoint_is_bad_input(cli, tmp_path):
    result = cli("eval", tmp_path / "epoch_24.pth")
    assert result.exit_code == 2
    assert "epoch_24.pth does not exist" in one_line_error(result)
