"""The preflight for real: the probe on this machine's stack (mmcv's CPU ops forward and backward), the
cuda and ixuca paths as far as a machine without GPUs takes them, and runs it refuses before training."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from harness.bootstrap import CONSTRAINTS, pins
from harness.job import preflight
from harness.job.preflight_probe import MARKER, devices, ops, rendezvous, shared_memory, stack

from conftest import one_line_error


def probe(spec: dict, *command: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(preflight.PROBE_SOURCE), json.dumps(spec)] + (["--", *command] if command else [])
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def report(done: subprocess.CompletedProcess) -> dict:
    (line,) = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    return {c["name"]: c for c in json.loads(line[len(MARKER):])["checks"]}


def test_on_this_machine_every_check_passes_and_the_probe_becomes_the_command():
    expected = preflight.expected_stack("cpu", None)
    assert set(expected) == {"torch", "mmcv", "mmengine", "mmdet", "numpy"} and expected["mmcv"] == "2.1.0"
    done = probe({"platform": "cpu", "processes": 1, "expect": expected, "config": None},
                 sys.executable, "-c", "print('the training ran')")
    assert done.returncode == 0, done.stdout + done.stderr
    checks = report(done)
    assert all(c["ok"] for c in checks.values()), checks
    assert checks["mmcv ops"]["detail"] == "DeformConv2d forward+backward, nms on cpu"
    assert done.stdout.splitlines()[-1] == "the training ran"


def test_a_version_off_the_pins_fails_the_stack():
    failed = stack({"mmcv": "2.2.0", "torch": pins(CONSTRAINTS)["torch"]})
    assert not failed["ok"] and failed["detail"] == "mmcv 2.1.0 (pinned 2.2.0)" and "harness build" in failed["fix"]
    assert stack({"torch": pins(CONSTRAINTS)["torch"] + "+cpu"})["ok"]  # a local version part is no difference


@pytest.mark.parametrize("platform", ["cuda", "ixuca"])
def test_the_gpu_platforms_run_the_same_checks_on_the_cuda_device(platform):
    """Iluvatar's torch presents its GPUs as cuda devices: one path, the platform a parameter. With this
    machine's CPU torch it ends where the GPUs would be needed, and says so."""
    found = devices(platform, 8)
    assert not found["ok"] and found["detail"].endswith(f"sees no {platform} GPU")
    op = ops(platform)
    assert not op["ok"] and op["detail"].startswith("DeformConv2d/nms on cuda:0: ")


def test_more_cpu_processes_than_cores_fail_the_devices_check():
    import os

    cores = len(os.sched_getaffinity(0))
    assert devices("cpu", cores)["ok"] and not devices("cpu", cores + 1)["ok"]


def test_shared_memory_is_measured_against_the_loaders_batches_in_flight(tmp_path):
    config = tmp_path / "config.py"
    config.write_text("train_dataloader = dict(batch_size=2, num_workers=2, dataset=dict(pipeline=[\n"
                      "    dict(type='Resize', scale=(100000, 100000))]))\n")
    found = shared_memory(str(config), 8)
    assert not found["ok"] and "8 x 2 workers x 2 batches of 2 at 100000x100000" in found["detail"]
    assert "--shm-size" in found["fix"]
    config.write_text("train_dataloader = dict(batch_size=2, num_workers=0)\n")
    assert shared_memory(str(config), 8) == {"name": "/dev/shm", "ok": True, "detail": "no loader workers", "fix": ""}


def test_a_rendezvous_port_in_use_fails_on_the_first_node_only(monkeypatch):
    with socket.socket() as holder:
        holder.bind(("", 0))
        holder.listen()
        port = holder.getsockname()[1]
        monkeypatch.setenv("PET_MASTER_PORT", str(port))
        monkeypatch.setenv("PET_NODE_RANK", "0")
        taken = rendezvous()
        assert not taken["ok"] and f"port {port} is taken" in taken["detail"]
        monkeypatch.setenv("PET_NODE_RANK", "1")
        assert rendezvous()["ok"]
    monkeypatch.setenv("PET_NODE_RANK", "0")
    assert rendezvous()["detail"] == f"port {port} is free"


def test_every_run_starts_with_the_preflight(smoke_run):
    record = json.loads((smoke_run / "run.json").read_text())
    (node,) = record["attempts"][0]["preflight"]["nodes"]
    assert all(c["ok"] for c in node["checks"]) and node["seconds"] < 60
    assert record["attempts"][0]["command"][1] == str(smoke_run / preflight.PROBE_FILE)
    console = (smoke_run / "console.log").read_text()
    assert console.index(MARKER) < console.index("Epoch(train)")


@pytest.mark.real
def test_a_run_the_preflight_refuses_fails_at_once_and_records_why(cli, session_env):
    import os

    run, cores = session_env / "preflight-refused", len(os.sched_getaffinity(0))
    result = cli("train", "--gpus", cores + 1, "--epochs", "1", "--work-dir", run)
    assert result.exit_code == 3
    line = one_line_error(result)
    assert line.startswith(f"error: preflight failed on {socket.gethostname()}: devices: {cores} CPU cores for "
                           f"{cores + 1} process(es); fix: ask for at most {cores} processes")
    assert "preflight on" in result.stdout  # the table
    record = json.loads((run / "run.json").read_text())
    (node,) = record["attempts"][0]["preflight"]["nodes"]
    assert record["status"] == "failed" and [c["name"] for c in node["checks"] if not c["ok"]] == ["devices"]
    assert not list((run / "work_dir").glob("*/*.log")), "no training started"


def test_doctor_runs_the_preflight_in_this_environment(cli):
    result = cli("doctor", "--runtime", "local", "--platform", "cpu")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "preflight on" in result.stdout and "DeformConv2d forward+backward, nms on cpu" in result.stdout
