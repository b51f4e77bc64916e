"""A run outlives the terminal that started it: real runs of the smoke benchmark whose terminal is closed (a real
pseudo-terminal hang-up), whose attached command or supervisor is SIGKILLed, detached, attached, stopped and
resumed, on the local runtime, in a container and on the two-node Slurm cluster."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import docker
from harness import logs
from harness.edges import docker_engine
from harness.run.reconcile import LOST_NOTE, supervisors_of
from harness.runtime.local import processes_in

from conftest import read_json
from support import ACROSS_NODES, HALF_BATCH, harness_process, in_epoch_2, wait_for

HARNESS = [sys.executable, "-m", "harness"]


class Terminal:
    """A command whose controlling terminal is a real pseudo-terminal; hang_up() closes it as closing a terminal
    window (or losing the SSH session) does: the kernel sends the command SIGHUP."""

    def __init__(self, argv: list[str], cwd: Path):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: session leader, the terminal's slave side as its stdin, stdout and stderr
            os.chdir(cwd)
            os.execvpe(argv[0], argv, {**os.environ, "COLUMNS": "100", "TERM": "xterm"})
        self.output, self.closing = bytearray(), threading.Event()
        self.reader = threading.Thread(target=self._drain, daemon=True)  # a terminal shows what it is sent
        self.reader.start()

    def _drain(self) -> None:
        while not self.closing.is_set():
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return
                if not data:
                    return
                self.output += data

    def hang_up(self) -> None:
        self.closing.set()
        self.reader.join()
        os.close(self.fd)

    def wait(self, timeout: float) -> int:
        """The command's wait status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status
            time.sleep(0.2)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"the command in the terminal did not end: {bytes(self.output)[-2000:]!r}")


def hung_up(status: int) -> bool:
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGHUP


def progressing(run: Path) -> bool:
    return "Epoch(train)" in _read(run / "console.log")


def wait_for_end(run: Path, seconds: float = 400) -> dict:
    """The record once it no longer says running (read as `harness runs` would: reconciled)."""
    from harness.run.reconcile import current

    assert wait_for(lambda: current(run).status != "running", seconds), f"{run} is still running"
    return read_json(run / "run.json")


def first_epochs(run: Path, epochs: int) -> tuple[list, list]:
    """Every metric of the evaluations and every logged loss of the first epochs."""
    parsed = logs.parse_path(run / "work_dir")
    return ([(e.epoch, e.metrics) for e in parsed.evaluations if e.epoch <= epochs],
            [(s.iter, s.loss) for s in parsed.steps if s.epoch <= epochs])


def nothing_left(run: Path) -> bool:
    return not processes_in(run) and not supervisors_of(run)


@pytest.mark.real
def test_closing_the_terminal_leaves_the_run_to_finish_as_it_would_have(session_env, smoke_run):
    run = session_env / "hung-up"
    terminal = Terminal([*HARNESS, "train", "--epochs", "2", "--work-dir", str(run)], session_env)
    assert wait_for(lambda: progressing(run), 240), "training never reached its first progress line"
    assert wait_for(lambda: b"epoch 1/2" in terminal.output, 10), "the attached view draws the progress"
    terminal.hang_up()
    assert hung_up(terminal.wait(30)), "the command in the closed terminal ended with it"
    assert read_json(run / "run.json")["status"] == "running" and supervisors_of(run), "the run goes on"
    record = wait_for_end(run)
    assert record["status"] == "succeeded" and record["attempts"][0]["reconciled"] is None, record["error"]
    assert first_epochs(run, 2) == first_epochs(smoke_run, 2), "bit for bit the run it would have been"
    assert record["final_metrics"]["bbox_mAP"] == first_epochs(smoke_run, 2)[0][-1][1]["bbox_mAP"]
    assert wait_for(lambda: nothing_left(run), 10)
    assert f"run {run.name}: succeeded" in (run / "supervisor.log").read_text()


@pytest.mark.real
def test_a_killed_command_leaves_its_run_to_finish_and_viewers_follow_it(session_env, smoke_run):
    run = session_env / "owner-killed"
    owner = harness_process(run, "--epochs", "1")
    viewers = []
    try:
        assert wait_for(lambda: progressing(run), 240), "training never reached its first progress line"
        viewers = [subprocess.Popen([*HARNESS, "attach", str(run)], cwd=session_env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for _ in range(2)]
        time.sleep(2)
        owner.kill()  # SIGKILL: as the OOM killer would
        viewers[1].send_signal(signal.SIGINT)  # a viewer's Ctrl-C only detaches it
        _, detached = viewers[1].communicate(timeout=30)
        assert viewers[1].returncode == 0 and "detached; it goes on" in detached
        assert read_json(run / "run.json")["status"] == "running"
        out, err = viewers[0].communicate(timeout=400)
    finally:
        for process in [owner, *viewers]:
            process.kill()
    assert viewers[0].returncode == 0, out + err
    assert f"succeeded: {run.name}, final bbox_mAP" in out
    record = read_json(run / "run.json")
    assert record["status"] == "succeeded" and record["attempts"][0]["reconciled"] is None
    assert first_epochs(run, 1) == first_epochs(smoke_run, 1)
    assert wait_for(lambda: nothing_left(run), 10)


def test_a_run_whose_supervisor_is_killed_is_finished_from_the_evidence(cli, session_env, smoke_run):
    started = cli("train", "--detach", "--epochs", "1")  # in the store, where `harness runs` looks
    assert started.exit_code == 0, started.stdout + started.stderr
    run_id = re.search(r"^run (\S+) started; it goes on without this terminal$", started.stdout, re.M)[1]
    assert f"harness attach {run_id}\n" in started.stdout and f"harness stop {run_id}\n" in started.stdout
    run = session_env / "results" / run_id
    assert read_json(run / "run.json")["attempts"][0]["job_started"]
    (supervisor,) = supervisors_of(run)
    os.kill(supervisor, signal.SIGKILL)
    listed = {r["run_id"]: r for r in json.loads(cli("runs", "--json").stdout)}
    assert listed[run.name]["status"] == "running", "its training still runs"
    assert wait_for(lambda: not processes_in(run), 400), "the training never ended"
    listed = {r["run_id"]: r for r in json.loads(cli("runs", "--json").stdout)}
    record = listed[run.name]
    assert record["status"] == "succeeded" and record["exit_code"] == 0
    assert record["attempts"][0]["reconciled"].startswith(LOST_NOTE) and "exit code: 0" in record["attempts"][0]["reconciled"]
    assert first_epochs(run, 1) == first_epochs(smoke_run, 1)
    assert record["final_metrics"] == read_json(run / "run.json")["final_metrics"] is not None
    attached = cli("attach", run)
    assert attached.exit_code == 0 and f"succeeded: {run.name}" in attached.stdout


def test_a_detached_run_is_stopped_from_another_shell_and_resumed(cli, session_env, smoke_run):
    run = session_env / "stopped"
    assert cli("train", "--detach", "--epochs", "2", "--work-dir", run).exit_code == 0
    assert wait_for(lambda: in_epoch_2(run), 400), "the run never reached epoch 2"
    stopped = cli("stop", run)
    assert stopped.exit_code == 0, stopped.stdout + stopped.stderr
    assert f"{run.name}: interrupted; resume it with `harness train --resume {run.name}`" in stopped.stdout
    record = read_json(run / "run.json")
    assert record["status"] == "interrupted" and record["error"] == "interrupted; the training processes were stopped"
    assert nothing_left(run)
    again = cli("stop", run)
    assert again.exit_code == 2 and "is not running (it was interrupted)" in again.stderr
    attached = cli("attach", run)
    assert attached.exit_code == 130 and "interrupted" in attached.stderr
    resumed = cli("train", "--resume", run)
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    record = read_json(run / "run.json")
    assert [a["status"] for a in record["attempts"]] == ["interrupted", "succeeded"]
    assert first_epochs(run, 2) == first_epochs(smoke_run, 2)


@pytest.mark.real
def test_closing_the_terminal_of_a_container_run(docker_host, cpu_image, session_env):
    """The container goes on without the command and, once its supervisor is killed too, without any harness
    process: the next reader finishes the record from the container's state, then removes it."""
    client = docker.DockerClient(base_url=docker_host)
    run = session_env / "docker-hung-up"
    terminal = Terminal([*HARNESS, "train", "--runtime", "docker", "--epochs", "1", "--work-dir", str(run)],
                        session_env)
    assert wait_for(lambda: progressing(run), 240), _read(run / "console.log")
    terminal.hang_up()
    assert hung_up(terminal.wait(30))
    (supervisor,) = supervisors_of(run)
    os.kill(supervisor, signal.SIGKILL)
    assert client.containers.list(filters={"label": f"{docker_engine.RUN_LABEL}={run.name}"}), "the container goes on"
    record = wait_for_end(run)
    assert record["status"] == "succeeded" and record["exit_code"] == 0 and record["final_metrics"]
    assert record["attempts"][0]["reconciled"].startswith(LOST_NOTE)
    assert "Epoch(val) [1]" in (run / "console.log").read_text(), "the container's output completes console.log"
    assert docker_engine.leftover_containers(client) == []


@pytest.mark.real
def test_closing_the_terminal_of_a_two_node_slurm_run(slurm, session_env):
    """The batch job goes on; with its supervisor killed as well, the record is finished from scontrol."""
    run = session_env / "slurm-hung-up"
    terminal = Terminal([*HARNESS, "train", "--runtime", "slurm", "--nodes", "2", ACROSS_NODES, HALF_BATCH,
                         "--epochs", "1", "--work-dir", str(run)], session_env)
    assert wait_for(lambda: progressing(run), 240), _read(run / "console.log")
    terminal.hang_up()
    assert hung_up(terminal.wait(30))
    (supervisor,) = supervisors_of(run)
    os.kill(supervisor, signal.SIGKILL)
    job_id = read_json(run / "run.json")["slurm"]["job_id"]
    assert job_id in slurm.run("squeue", "-h", "-o", "%i"), "the batch job goes on"
    record = wait_for_end(run)
    assert record["status"] == "succeeded" and record["slurm"]["state"] == "COMPLETED", record["error"]
    assert record["attempts"][0]["reconciled"].startswith(LOST_NOTE) and record["final_metrics"]
    assert "Epoch(val) [1]" in (run / "console.log").read_text()


@pytest.mark.real
def test_a_detached_campaign_survives_its_terminal_and_judges_its_group(session_env, cli):
    group = "detached-campaign"
    terminal = Terminal([*HARNESS, "repro", "--detach", "--runs", "2", "--epochs", "1", "--group", group],
                        session_env)
    status = terminal.wait(120)
    terminal.hang_up()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, bytes(terminal.output)
    assert f"harness attach {group}".encode() in terminal.output
    record = session_env / "results" / "groups" / group / "group.json"
    assert wait_for(lambda: read_json(record)["campaign"]["status"] != "running", 600), "the campaign never ended"
    campaign = read_json(record)["campaign"]
    assert campaign["status"] == "finished" and Path(campaign["report"], "report.md").is_file()
    judged = cli("verify", "--group", group)
    attached = cli("attach", group)
    assert attached.exit_code == judged.exit_code == campaign["exit_code"], attached.stdout + attached.stderr
    assert "report written to" in attached.stdout
    assert cli("stop", group).exit_code == 2


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
