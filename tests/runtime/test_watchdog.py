"""The hang watchdog: its rule on real log lines (a clock the test moves), and real stalled trainings
(a training process stopped with SIGSTOP mid-epoch, locally and in a container)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from harness.runtime.watchdog import DEFAULT_SECONDS, STARTUP_SECONDS, Watchdog, phase_of

from support import processes_mentioning, wait_for

TRAIN = ("2026/12/02 10:00:00 - mmengine - INFO - Epoch(train)  [1][ 4/16]  lr: 1.0e-02  eta: 0:01:10  "
         "time: 0.6000  data_time: 0.0100  memory: 0  loss: 3.2000")
VAL = "2026/12/02 10:00:10 - mmengine - INFO - Epoch(val)  [1][ 4/4]    eta: 0:00:00  time: 0.2000"
SAVING = "2026/12/02 10:00:12 - mmengine - INFO - Saving checkpoint at 1 epochs"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_lines_are_told_from_the_rest():
    assert phase_of(TRAIN) == "train" and phase_of(VAL) == "evaluation" and phase_of(SAVING) == "checkpoint"
    assert phase_of("Iter(train) [  40/1000]  lr: 1e-02  eta: 0:10:00  time: 0.5") == "train"
    assert phase_of("Evaluating bbox...") == "evaluation" and phase_of("DONE (t=0.05s).") == "evaluation"
    assert phase_of("UserWarning: the NCCL watchdog is still waiting") is None


def test_the_default_limit_is_fifteen_minutes_or_thirty_median_gaps():
    clock = Clock()
    dog = Watchdog(clock=clock)
    assert dog.limit() == STARTUP_SECONDS
    for _ in range(5):  # a progress line every 60 s: 30 x 60 s = 30 min, above the 15 min floor
        clock.now += 60
        dog.saw(TRAIN)
    assert dog.limit() == 30 * 60
    clock.now += 30 * 60
    assert dog.silence() is None
    clock.now += 1
    silence = dog.silence()
    assert silence is not None and silence.phase == "train" and "Epoch(train)  [1][ 4/16]" in silence.reason()
    fast = Watchdog(clock=clock)
    fast.saw(TRAIN)
    clock.now += 2
    fast.saw(TRAIN)
    assert fast.limit() == DEFAULT_SECONDS


def test_other_output_is_no_sign_of_life_and_slow_phases_get_twice_the_limit():
    clock = Clock()
    dog = Watchdog(timeout=100, clock=clock)
    dog.saw(TRAIN)
    clock.now += 90
    dog.saw("a warning, printed again and again by a stuck rank")
    clock.now += 11
    assert dog.silence() is not None
    dog.saw(SAVING)
    clock.now += 199
    assert dog.silence() is None and dog.limit() == 200
    dog.saw(VAL)
    clock.now += 201
    assert dog.silence().phase == "evaluation"


def test_start_up_gets_at_least_fifteen_minutes_whatever_the_timeout():
    clock = Clock()
    dog = Watchdog(timeout=10, clock=clock)
    clock.now += STARTUP_SECONDS - 1
    assert dog.silence() is None
    dog.saw(TRAIN)
    clock.now += 11
    assert dog.silence() is not None


def _stall_after_first_progress(run, harness: subprocess.Popen, training_processes) -> list[int]:
    """SIGSTOP the training process once the run has logged training progress: it hangs as a deadlocked
    collective would, alive and silent."""
    assert wait_for(lambda: "Epoch(train)" in _read(run / "console.log"), 240), _read(run / "console.log")
    stopped = training_processes()
    assert stopped, "no training process found"
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    return stopped


def _read(path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _assert_hung(run, harness: subprocess.Popen, timeout: int) -> dict:
    out, err = harness.communicate(timeout=timeout + 120)
    assert harness.returncode == 3, out + err
    assert err.strip().startswith("error: the run hung: no progress for "), err
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "hung" and record["attempts"][-1]["status"] == "hung"
    assert "Epoch(train)" in record["error"] and f"limit {timeout} s" in record["error"]
    assert "Epoch(train)" in (run / "console.log").read_text()  # the logs are kept
    return record


@pytest.mark.real
def test_a_stalled_local_training_is_stopped_as_hung_and_resumable(session_env):
    run, timeout = session_env / "hung-local", 8
    harness = subprocess.Popen([sys.executable, "-m", "harness", "train", "--epochs", "2", "--hang-timeout",
                                str(timeout), "--work-dir", str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        _stall_after_first_progress(run, harness, lambda: [p for p in processes_mentioning(str(run / "config.py"))
                                                            if p != harness.pid])
        _assert_hung(run, harness, timeout)
    finally:
        harness.kill()
    assert not processes_mentioning(str(run / "config.py")), "the stopped training processes are gone"
    resumed = subprocess.run([sys.executable, "-m", "harness", "train", "--resume", str(run), "--hang-timeout", "0",
                              "--skip-preflight"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "succeeded" and record["spec"]["hang_timeout"] == 0 and record["spec"]["skip_preflight"]
    assert [a["status"] for a in record["attempts"]] == ["hung", "succeeded"]
    first, second = record["attempts"]
    assert first["preflight"]["nodes"] and second["preflight"] == {"skipped": True, "nodes": []}
    assert "preflight.py" in " ".join(first["command"]) and "preflight.py" not in " ".join(second["command"])


@pytest.mark.real
def test_a_stalled_training_in_a_container_is_stopped_as_hung(session_env, docker_host, cpu_image):
    import docker
    from harness.edges import docker_engine

    run, timeout = session_env / "hung-docker", 8
    client = docker.DockerClient(base_url=docker_host)
    harness = subprocess.Popen([sys.executable, "-m", "harness", "train", "--runtime", "docker", "--epochs", "1",
                                "--hang-timeout", str(timeout), "--work-dir", str(run)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)

    try:  # the container's processes, as this host sees them, name the config by its path in the container
        _stall_after_first_progress(run, harness, lambda: processes_mentioning("/work/run/config.py"))
        _assert_hung(run, harness, timeout)
    finally:
        harness.kill()
    assert docker_engine.leftover_containers(client) == []
