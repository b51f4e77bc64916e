"""Shared fixtures. The training fixtures run real RepPoints through the real stack (minutes).

Two tiers: a test that trains, or needs the Docker engine, the Slurm cluster or Chromium, is marked `real`
(explicitly, or here because it uses one of REAL_FIXTURES); `python -m pytest -m "not real"` runs the rest,
offline, in minutes. A test left unmarked that starts a run fails, naming the marker it needs."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.bootstrap import default_cache
from harness.cli import app
from harness.store.layout import is_run

from engine import ensure_base_image, running_engine
from slurm_cluster import running_cluster

# The user's cache, read before the session points HARNESS_CACHE at a temporary one: the cpu image's
# wheelhouse and the debootstrap tarball live there (filled by `python3 -m harness.bootstrap --engine`).
USER_CACHE = default_cache()


# fixtures that train, start the Docker engine or the Slurm cluster, build an image or drive Chromium: their
# users are real
REAL_FIXTURES = {"smoke_run", "smoke_log", "docker_host", "cpu_image", "slurm", "browser", "uninterrupted", "resumed_run"}


def pytest_collection_modifyitems(items):
    for item in items:
        if REAL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real)


@pytest.fixture(autouse=True)
def offline_tier_starts_no_run(request, monkeypatch):
    """The offline tier stays fast: a test not marked real that starts a run's (or campaign's) supervisor fails."""
    if request.node.get_closest_marker("real") is None:
        from harness.run import supervisor

        def refuse(*args, **kwargs):
            pytest.fail("this test starts a run: mark it @pytest.mark.real", pytrace=False)

        monkeypatch.setattr(supervisor, "spawn", refuse)


@pytest.fixture(scope="session")
def session_env(tmp_path_factory):
    """The session works in a temporary directory, with the default relative results/ as README users do."""
    root = tmp_path_factory.mktemp("harness")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.delenv("HARNESS_RESULTS", raising=False)
        patch.setenv("HARNESS_CACHE", str(root / "cache"))
        patch.setenv("COLUMNS", "200")
        yield root
    stop_leftovers(root)


def stop_leftovers(root: Path) -> None:
    """A run outlives the command that started it, so a test that failed half-way can leave a supervisor (and
    its job) running: nothing the session started under its directory outlives the session. SIGTERM first (a
    supervisor records its run interrupted), then SIGKILL for what is left, jobs in run directories included."""
    import os
    import signal
    import time

    from harness.run.reconcile import processes_with

    root = root.resolve()
    for sig, jobs_too in ((signal.SIGTERM, False), (signal.SIGKILL, True)):
        found = [pid for pid in processes_with([]) if pid != os.getpid() and _left_by_the_session(pid, root, jobs_too)]
        for pid in found:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if found and not jobs_too:
            time.sleep(10)


def _left_by_the_session(pid: int, root: Path, jobs_too: bool) -> bool:
    """A supervisor of a run or campaign of the session's, or (jobs_too) a process working in one of its runs."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        cwd = Path(f"/proc/{pid}/cwd").resolve()
    except OSError:
        return False
    if b"harness.run.supervisor" in argv:
        return cwd.is_relative_to(root) or any(str(root).encode() in arg for arg in argv)
    return jobs_too and cwd.is_relative_to(root) and (cwd / "run.json").is_file()


@pytest.fixture
def cli(session_env):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


def one_line_error(result) -> str:
    """What a user reads on bad input: exactly one line on stderr, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture(scope="session")
def smoke_run(session_env) -> Path:
    """The embedded default, exactly as README command 1 runs it: `harness train` with no arguments."""
    result = CliRunner().invoke(app, ["train"])
    assert result.exit_code == 0, result.output + result.stderr
    runs = sorted(p for p in (session_env / "results").iterdir() if is_run(p))
    assert len(runs) == 1
    return runs[0]


@pytest.fixture(scope="session")
def smoke_log(smoke_run) -> Path:
    (text_log,) = smoke_run.glob("work_dir/*/*.log")
    return text_log


def training_command(attempt: dict) -> list[str]:
    """An attempt's command behind the preflight (python RUN/preflight.py SPEC -- COMMAND...)."""
    command = attempt["command"]
    return command[command.index("--") + 1:] if "--" in command else command


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def docker_host(session_env):
    """A real engine (started here when none answers) with the offline Debian base image; DOCKER_HOST set."""
    with running_engine() as host, pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_HOST", host)
        ensure_base_image(host, USER_CACHE)
        yield host


@pytest.fixture(scope="session")
def cpu_image(docker_host, session_env) -> dict:
    """The cpu image built by `harness build`, and its build record."""
    result = CliRunner().invoke(app, ["build", "--platform", "cpu", "--wheelhouse", str(USER_CACHE / "wheelhouse" / "cpu")])
    assert result.exit_code == 0, result.output + result.stderr
    (build_record,) = (session_env / "results" / "images").glob("cpu-*.json")
    return read_json(build_record) | {"output": result.stdout}


@pytest.fixture(scope="session")
def slurm(session_env):
    """A real two-node Slurm cluster on this machine (network namespaces); SLURM_CONF set for the session."""
    root = Path(tempfile.mkdtemp(prefix="hs-", dir="/tmp"))  # short: munge's socket path must fit a sockaddr_un
    try:
        with running_cluster(root) as cluster, pytest.MonkeyPatch.context() as patch:
            patch.setenv("SLURM_CONF", str(cluster.conf))
            yield cluster
    finally:
        shutil.rmtree(root, ignore_errors=True)
