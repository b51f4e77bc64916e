"""Offline: a record left `running` by a lost supervisor is finished from the evidence, on the golden store's real
runs (a finished 20-epoch run, a run SIGKILLed after epoch 1); the live listing; attach and stop of ended runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from harness.cli import output as cli_output
from harness.report import terminal
from harness.run import reconcile
from harness.run.live import live_status
from harness.run.outcome import LOST
from harness.run.reconcile import LOST_NOTE
from harness.runtime.local import EXIT_FILE
from harness.store import layout

from conftest import one_line_error, read_json
from support import GOLDEN, wait_for

STORE = GOLDEN / "store"
FINISHED, KILLED, DIVERGED = "20261203-085910-smoke", "20261203-090324-smoke", "20261203-090314-smoke"


def left_running(name: str, where: Path, host: str | None = None) -> Path:
    """A golden run as a lost supervisor leaves it: its record still says running."""
    run = shutil.copytree(STORE / name, where / name, ignore=shutil.ignore_patterns("*.pth"))
    data = read_json(run / "run.json")
    last = {**data["attempts"][-1], "status": "running", "finished": None, "exit_code": None, "error": None,
            "host": host or data["attempts"][-1]["host"]}
    data.update(status="running", finished=None, exit_code=None, error=None, final_metrics=None,
                attempts=[*data["attempts"][:-1], last])
    import socket

    if host is None:
        data["attempts"][-1]["host"] = socket.gethostname()
    (run / "run.json").write_text(json.dumps(data))
    return run


def test_a_finished_training_is_recorded_as_it_ended(tmp_path):
    run = left_running(FINISHED, tmp_path)
    done = reconcile.current(run)
    assert done.status == "succeeded" and done.final_metrics["bbox_mAP"] == 77.2 and done.error is None
    assert done.attempts[-1].reconciled.startswith(LOST_NOTE) and "exit code: unknown" in done.attempts[-1].reconciled
    assert layout.read(run) == done


def test_the_exit_status_the_job_left_decides(tmp_path):
    run = left_running(FINISHED, tmp_path)
    (run / EXIT_FILE).write_text("exit 1\n")  # the waiter's word: the training failed after its last evaluation
    done = reconcile.current(run)
    assert done.status == "failed" and done.exit_code == 1 and done.error.startswith(f"{LOST}; training exited with code 1")


def test_a_training_that_did_not_finish_is_failed_and_resumable(tmp_path):
    run = left_running(KILLED, tmp_path)
    (run / EXIT_FILE).write_text("signal 9\n")
    done = reconcile.current(run)
    assert done.status == "failed" and done.exit_code == -9
    assert done.error == f"{LOST}; training exited with code -9: the training process was killed by SIGKILL"
    from harness.run.resuming import resumable

    assert resumable(run).status == "failed"  # --resume takes it


def test_a_diverged_training_is_a_divergence(tmp_path):
    run = left_running(DIVERGED, tmp_path)
    (run / EXIT_FILE).write_text("exit 1\n")
    assert reconcile.current(run).status == "diverged"


def test_a_run_on_another_host_or_with_its_supervisor_alive_is_left_running(tmp_path):
    elsewhere = left_running(FINISHED, tmp_path / "a", host="another-host")
    assert reconcile.current(elsewhere).status == "running"
    run = left_running(FINISHED, tmp_path / "b")
    # a process whose command line is a supervisor's for this run (what reconcile looks for)
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "harness.run.supervisor",
                                 str(run.resolve())])
    try:  # until the child has exec'd, its command line is this test's
        assert wait_for(lambda: reconcile.supervisors_of(run) == [stand_in.pid], 10)
        assert reconcile.current(run).status == "running"
    finally:
        stand_in.kill()
        stand_in.wait()
    assert reconcile.current(run).status == "succeeded"


def test_runs_reconciles_before_it_filters_and_fits_100_columns(cli, tmp_path, monkeypatch):
    for name in (FINISHED, DIVERGED):
        shutil.copytree(STORE / name, tmp_path / name, ignore=shutil.ignore_patterns("*.pth"))
    left_running(KILLED, tmp_path)
    monkeypatch.setenv("HARNESS_RESULTS", str(tmp_path))
    running = cli("runs", "--status", "running")
    assert running.exit_code == 0 and "no runs" in running.stdout, "the lost run is no longer running"
    monkeypatch.setattr(cli_output, "console", Console(force_terminal=True, color_system=None, width=100))
    listing = cli("runs")
    lines = listing.stdout.splitlines()
    assert all(len(line) <= 100 for line in lines), listing.stdout
    rows = [line for line in lines if line.startswith("2026")]
    assert len(rows) == 3, "one line a run, nothing wrapped"
    assert [row.split()[0] for row in rows] == ["20261203-085910", "20261203-090314", "20261203-090324"]
    assert "platform" not in listing.stdout and "platform" in cli("runs", "--wide").stdout
    assert FINISHED in cli("runs", "--wide").stdout, "--wide shows the whole run id"
    monkeypatch.setattr(cli_output, "console", Console(width=60))  # not a terminal: piped into grep
    piped = [line for line in cli("runs").stdout.splitlines() if line.startswith("2026")]
    assert [row.split()[0] for row in piped] == [FINISHED, DIVERGED, KILLED], "whole ids, one line each"
    judged = cli("verify", "20261203-085910", "--json")  # the short id names the run
    assert judged.exit_code == 0 and f"/{FINISHED}/work_dir/" in json.loads(judged.stdout)["runs"][0]["source"]
    ambiguous = cli("verify", "20261203-0903")
    assert ambiguous.exit_code == 2 and "is the start of 2 run ids" in one_line_error(ambiguous)


def test_a_running_run_shows_where_it_is(tmp_path):
    run = left_running(FINISHED, tmp_path)
    now = live_status(run, layout.read(run))
    assert now.progress == "epoch 20/20 100%" and now.last_map == 77.2 and now.loss is not None
    entry = layout.Entry(run, layout.read(run))
    console = Console(width=100, record=True)
    console.print(terminal.runs_listing([entry], {run: now}))
    text = console.export_text()
    assert "running" in text and "epoch 20/20 100%" in text and "77.20" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_the_mission_s_run_fits_100_columns_too():
    """The longest cells a run of the mission has: its 37-character id, its benchmark, a day of ETA."""
    from harness.run.live import LiveStatus

    from store_records import make_record

    run_id = "20261207-151500-reppoints-r101-dcn-2x"
    record = make_record(run_id, status="running")
    record = record.model_copy(update={"spec": record.spec.model_copy(update={"benchmark": "reppoints-r101-dcn-2x",
                                                                              "epochs": 24})})
    now = LiveStatus("epoch 12/24 49%", 0.6123, 38.41, "1 day, 2:03:04")
    console = Console(width=100, record=True)
    path = Path("/results") / run_id
    console.print(terminal.runs_listing([layout.Entry(path, record)], {path: now}, short=layout.short_ids([run_id])))
    (row,) = [line for line in console.export_text().splitlines() if line.startswith("2026")]
    assert row.split() == ["20261207-151500", "reppoints-r101-dcn-2x", "running", "epoch", "12/24", "49%",
                           "0.6123", "38.41", "1d", "2:03:04"]


def test_short_ids_are_the_shortest_unique_starts():
    ids = ["20261203-085910-smoke", "20261203-085910-smoke-2", "20261203-090314-smoke-bench"]
    assert layout.short_ids(ids) == {"20261203-085910-smoke": "20261203-085910-smoke",
                                    "20261203-085910-smoke-2": "20261203-085910-smoke-",
                                    "20261203-090314-smoke-bench": "20261203-090314"}


@pytest.mark.parametrize("name, code, message", [
    (FINISHED, 0, None),
    (DIVERGED, 1, "error: training diverged: the loss was 1.843e+05 at iteration 5"),
    (KILLED, 3, "error: training exited with code -9: the training process was killed by SIGKILL"),
])
def test_attach_to_an_ended_run_prints_its_summary_and_exits_with_its_code(cli, tmp_path, monkeypatch, name, code,
                                                                         message):
    monkeypatch.setenv("HARNESS_RESULTS", str(STORE))
    result = cli("attach", name)
    assert result.exit_code == code, result.stdout + result.stderr
    if message is None:
        assert result.stdout.startswith(f"succeeded: {name}, final bbox_mAP 77.20 AP")
    else:
        assert one_line_error(result).startswith(message)
    stopped = cli("stop", name)
    assert stopped.exit_code == 2 and "is not running" in one_line_error(stopped)


def test_attach_and_stop_of_nothing_are_one_line_errors(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_RESULTS", str(tmp_path))
    for command in ("attach", "stop"):
        result = cli(command, "no-such-run")
        assert result.exit_code == 2 and "no run or repro group of that name" in one_line_error(result)


def test_a_launched_supervisor_is_visible_at_once():
    """Popen returns as the exec begins: for a moment the new process's command line reads empty (seen in 28 of
    200 launches, with others starting beside them), and a reader would take a starting run for one whose
    supervisor was lost. spawn() waits it out."""
    from harness.run.supervisor import _wait_visible

    alive = []
    try:
        for attempt in range(200):
            marker = f"/nonexistent/run-{attempt}"
            alive.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "harness.run.supervisor",
                                           marker], stdin=subprocess.DEVNULL, start_new_session=True))
            _wait_visible(alive[-1].pid)
            assert reconcile.processes_with([b"harness.run.supervisor", marker.encode()]) == [alive[-1].pid]
            if len(alive) > 20:  # twenty interpreters starting at a time: the load under which the gap shows
                alive.pop(0).kill()
    finally:
        for process in alive:
            process.kill()
            process.wait()
