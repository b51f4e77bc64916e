"""Real training through the lifecycle of a long run: killed and resumed, diverged, stopped below the curve."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from harness import logs
from harness.runtime.local import processes_in

from conftest import one_line_error, read_json
from support import harness_process, in_epoch_2, wait_for

EPOCHS = "3"


def evaluations(run: Path) -> list[tuple[int, dict]]:
    return [(e.epoch, e.metrics) for e in logs.parse_path(run / "work_dir").evaluations]


@pytest.fixture(scope="module")
def uninterrupted(session_env) -> Path:
    from typer.testing import CliRunner

    from harness.cli import app

    run = session_env / "uninterrupted"
    result = CliRunner().invoke(app, ["train", "--epochs", EPOCHS, "--work-dir", str(run)])
    assert result.exit_code == 0, result.stdout + result.stderr
    return run


@pytest.mark.real
def test_killed_and_resumed_run_ends_identical_to_the_uninterrupted_one(cli, session_env, uninterrupted):
    run = session_env / "killed"
    harness = harness_process(run, "--epochs", EPOCHS)
    try:
        assert wait_for(lambda: in_epoch_2(run), 240), "the run never reached epoch 2"
        running = cli("train", "--resume", run)
        assert running.exit_code == 2 and "it is still running (supervisor " in one_line_error(running)
        for pid in processes_in(run):  # the machine loses the training process: no clean shutdown
            os.kill(pid, signal.SIGKILL)
        harness.communicate(timeout=60)
    finally:
        harness.kill()
    assert harness.returncode == 3
    killed = read_json(run / "run.json")
    assert killed["status"] == "failed" and "killed by SIGKILL" in killed["error"]

    conflict = cli("train", "--resume", run, "--epochs", "4")
    assert conflict.exit_code == 2
    assert one_line_error(conflict) == ("error: --epochs 4 conflicts with the run's 3: a resume continues the run as "
                                        "it was started (start a new run to change it)")
    same = cli("train", "--resume", run, "--epochs", EPOCHS, "--seed", "0")  # the same values are no conflict
    assert same.exit_code == 0, same.stdout + same.stderr
    assert "attempt 2, from epoch_1.pth (after epoch 1)" in same.stdout

    record = read_json(run / "run.json")
    first, second = record["attempts"]
    assert first["status"] == "failed" and first["exit_code"] == -9 and first["resumed_from"] is None
    assert second["status"] == "succeeded" and second["resumed_from"] == "epoch_1.pth" and second["resumed_epoch"] == 1
    assert "--resume" in second["command"] and record["status"] == "succeeded"
    assert "===== harness: attempt 2" in (run / "console.log").read_text(), "attempt 1's output is kept above"
    assert evaluations(run) == evaluations(uninterrupted), "every metric of every epoch, bit for bit"
    assert cli("compare", uninterrupted, run, "--tolerance", "0").exit_code == 0
    assert cli("verify", run).exit_code in (0, 1)


def test_a_finished_run_is_not_resumable(cli, uninterrupted):
    result = cli("train", "--resume", uninterrupted)
    assert result.exit_code == 2 and "not resumable: it already finished" in one_line_error(result)
    moved = cli("train", "--resume", uninterrupted, "--work-dir", "elsewhere")
    assert moved.exit_code == 2 and "--work-dir cannot go with --resume" in moved.stderr


@pytest.mark.real
def test_a_huge_learning_rate_is_stopped_as_a_divergence_without_a_crash(cli, session_env):
    run = session_env / "diverging"
    result = cli("train", "--epochs", "2", "--cfg-option", "optim_wrapper.optimizer.lr=1000", "--work-dir", run)
    assert result.exit_code == 1, result.stdout + result.stderr
    line = one_line_error(result)
    assert line.startswith("error: training diverged: the loss was ") and "stopped by the harness's divergence check" in line
    record = read_json(run / "run.json")
    assert record["status"] == "diverged" and record["exit_code"] == 1, "the hook ended it: no SIGSEGV (139)"
    assert record["spec"]["cfg_options"] == ["optim_wrapper.optimizer.lr=1000"]
    parsed = logs.parse_path(run / "work_dir")
    stop = parsed.diverged_at.iter
    trained_after = [s.iter for s in parsed.steps if s.iter > stop]
    assert trained_after == [], "no training iteration after the one that tripped the check"
    assert all(s.iter >= stop - 4 for s in parsed.steps if not s.finite), "within one logging interval of the anomaly"
    assert "lr=1000" in (run / "work_dir" / "config.py").read_text(), "the override reached mmengine's config"
    verdict = cli("verify", run, "--json")
    document = json.loads(verdict.stdout)
    assert verdict.exit_code == 1 and document["verdict"] == "diverged"
    assert document["overrides"] == ["optim_wrapper.optimizer.lr=1000"] and "not the benchmark as specified" in \
        document["reason"]
    refused = cli("train", "--resume", run)
    assert refused.exit_code == 2 and "resuming would repeat the divergence" in one_line_error(refused)


@pytest.mark.real
def test_a_run_below_the_reference_curve_is_stopped_when_asked(cli, session_env):
    run = session_env / "hopeless"
    result = cli("train", "--epochs", "4", "--stop-below-curve", "0.5", "--cfg-option",
                 "optim_wrapper.optimizer.lr=0.0", "--work-dir", run)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "stopped below the reference curve" in one_line_error(result)
    record = read_json(run / "run.json")
    assert record["status"] == "stopped" and "epoch 3" in record["error"]
    assert [e for e, _ in evaluations(run)] == [1, 2, 3], "stopped after the second evaluation in a row below"
    verdict = cli("verify", run)
    assert verdict.exit_code == 1 and "stopped below the reference curve" in verdict.stderr


@pytest.mark.parametrize("option, message", [
    ("lr", "is not KEY=VALUE"),
    ("randomness.seed=3", "set by the harness: use --seed instead"),
    ("train_cfg.max_epochs=3", "use --epochs instead"),
])
def test_bad_cfg_options_are_refused_before_anything_runs(cli, tmp_path, option, message):
    result = cli("train", "--cfg-option", option, "--work-dir", tmp_path / "run")
    assert result.exit_code == 2 and message in one_line_error(result)
    assert not (tmp_path / "run").exists()


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def small_disk(tmp_path):
    """A real file system of 150 MiB (a tmpfs; the tests run as root): the smoke model's first checkpoint (95 MB
    with its optimizer state) fits, the second does not."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=150M", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.real
def test_a_disk_that_fills_during_a_checkpoint_save(cli, small_disk):
    """The run is recorded failed with the cause named, in the room it reserved for its record; once there is
    space again, --resume continues from the last complete checkpoint, never from the one cut short."""
    import subprocess

    run_dir = small_disk / "run"
    result = cli("train", "--epochs", "2", "--work-dir", run_dir)
    assert result.exit_code == 3, result.stdout + result.stderr
    assert "training exited with code 1: no space left on device: the file system of" in result.stderr
    record = read_json(run_dir / "run.json")
    assert record["status"] == "failed" and "no space left on device" in record["error"]
    assert (run_dir / "job.exit").read_text().split() == ["exit", "1"], "the job's status survived the full disk"
    work = run_dir / "work_dir"
    partial, complete = work / "epoch_2.pth", work / "epoch_1.pth"
    assert partial.stat().st_size < complete.stat().st_size  # cut short
    (work / "last_checkpoint").write_text(str(partial))  # as if the pointer had been moved to it before the end

    subprocess.run(["mount", "-o", "remount,size=400M", str(small_disk)], check=True)
    resumed = cli("train", "--resume", run_dir)
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    assert "from epoch_1.pth (after epoch 1)" in resumed.stdout
    record = read_json(run_dir / "run.json")
    assert record["status"] == "succeeded" and record["attempts"][1]["resumed_from"] == "epoch_1.pth"
    assert not (run_dir / ".space-reserve").exists(), "the room is given back when the attempt ends"
