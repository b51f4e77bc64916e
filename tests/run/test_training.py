"""Real training paths beyond the default smoke run: several CPU processes, and the DCN architecture."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch
from mmcv.ops import DeformConv2d, ModulatedDeformConv2d
from typer.testing import CliRunner

from harness import logs
from harness.cli import app
from harness.data.synth import SynthParams, write_synthetic

from conftest import one_line_error, training_command
from support import harness_process, processes_mentioning, wait_for


def test_compiled_deformable_convolutions_forward_and_backward():
    x = torch.randn(1, 4, 8, 8, requires_grad=True)
    offset = torch.randn(1, 18, 8, 8) * 0.5
    mask = torch.sigmoid(torch.randn(1, 9, 8, 8))
    for out in (DeformConv2d(4, 6, 3, padding=1)(x, offset), ModulatedDeformConv2d(4, 6, 3, padding=1)(x, offset, mask)):
        out.sum().backward()
        assert out.shape == (1, 6, 8, 8) and torch.isfinite(x.grad).all()


@pytest.mark.real
def test_two_cpu_processes_train_and_evaluate(cli, session_env):
    result = cli("train", "--gpus", "2", "--epochs", "2", "--work-dir", session_env / "two")
    assert result.exit_code == 0, result.stdout + result.stderr
    record = json.loads((session_env / "two" / "run.json").read_text())
    assert record["status"] == "succeeded" and record["spec"]["gpus"] == 2 and record["total_batch"] == 16
    assert training_command(record["attempts"][0])[1:7] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m"]
    # Rank 0's own log file: console.log interleaves both ranks' output (writes over 4 KiB are not atomic).
    (text_log,) = (session_env / "two" / "work_dir").glob("*/*.log")
    log = text_log.read_text()
    assert "Distributed launcher: pytorch" in log and "GPU number: 2" in log  # mmengine's name for world size
    assert "dist_cfg: {'backend': 'gloo'}" in log
    # 32 val images, batch 8, 2 ranks: the val line counts 2 batches per rank.
    assert "Epoch(val) [2][2/2]" in log
    assert record["final_metrics"] is not None
    parsed = logs.parse_path(session_env / "two" / "work_dir")
    assert [e.epoch for e in parsed.evaluations] == [1, 2] and parsed.warnings == []


@pytest.mark.real
def test_mission_architecture_with_dcn_trains(cli, session_env):
    run = session_env / "dcn"
    # An override that restates the config's own value: the run is marked as overridden all the same.
    result = cli("train", "--benchmark", "smoke-dcn", "--work-dir", run, "--cfg-option", "model.test_cfg.score_thr=0.0")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "overridden with --cfg-option model.test_cfg.score_thr=0.0" in result.stdout
    dumped = (run / "work_dir" / "config.py").read_text()
    assert "depth=101" in dumped and "type='DCN'" in dumped and "stage_with_dcn=(" in dumped
    assert json.loads((run / "run.json").read_text())["status"] == "succeeded"
    verdict = cli("verify", run)
    assert verdict.exit_code == 2 and "has no reference" in one_line_error(verdict)


@pytest.mark.real
def test_ctrl_c_stops_training_and_records_it(session_env):
    run = session_env / "interrupted"
    harness = harness_process(run, "--epochs", "5")
    try:
        started = wait_for(lambda: "Epoch(train)" in _read(run / "console.log"), 180)
        assert started, "training never reached its first logged iteration"
        harness.send_signal(signal.SIGINT)
        _, stderr = harness.communicate(timeout=60)
    finally:
        harness.kill()
    assert harness.returncode == 130 and stderr.strip() == "error: interrupted; the training processes were stopped"
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "interrupted" and record["finished"]
    assert "Epoch(train)" in (run / "console.log").read_text(), "the partial log is kept"
    assert wait_for(lambda: not processes_mentioning(str(run)), 10), "a training process outlived the harness"
    verdict = CliRunner().invoke(app, ["verify", str(run)])
    assert verdict.exit_code == 2 and "incomplete: " in verdict.stderr


@pytest.mark.real
@pytest.mark.parametrize("runtime", ["local", "docker"])
def test_training_crash_is_an_infrastructure_failure(cli, tmp_path, runtime, request):
    if runtime == "docker":
        request.getfixturevalue("cpu_image")
    data = write_synthetic(tmp_path / "broken", SynthParams(train=4, val=2))
    for image in (data / "train2017").iterdir():
        image.write_bytes(b"not a jpeg")
    run = tmp_path / "run"
    result = cli("train", "--runtime", runtime, "--data", data, "--epochs", "1", "--work-dir", run)
    assert result.exit_code == 3
    line = one_line_error(result)
    assert line.startswith("error: training exited with code 1: ") and f"(full output: {run / 'console.log'})" in line
    shown = [text[4:] for text in result.stdout.splitlines() if text.startswith("  | ")]  # the traceback's end
    assert shown and shown[-1].strip() in line
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "failed" and record["exit_code"] == 1 and record["error"] in line


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
