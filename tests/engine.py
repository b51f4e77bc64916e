"""A real Docker engine for the tests: the one DOCKER_HOST names if it answers, else dockerd started here.

Tests that need it fail (never skip) when it cannot be had: CI must prove the container paths.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

import docker
from harness.bootstrap import ROOT

START_TIMEOUT = 60
STOP_TIMEOUT = 30
BASE_IMAGE = "local/debian:bookworm"


def answers(host: str | None) -> bool:
    try:
        client = docker.DockerClient(base_url=host, timeout=5) if host else docker.from_env(timeout=5)
        return bool(client.ping())
    except Exception:  # any failure means: not this engine
        return False


@contextmanager
def running_engine(fresh: bool = False):
    """Yields a DOCKER_HOST value; an engine started here is stopped (by its pid) on exit.

    fresh: always start a new engine (its pid file is docker.pid beside the socket)."""
    given = os.environ.get("DOCKER_HOST")
    if given and not fresh and answers(given):
        yield given
        return
    if not shutil.which("dockerd"):
        pytest.fail("no Docker engine: dockerd is not installed (run `python3 -m harness.bootstrap --dev --engine`)")
    # A short path: the socket path must fit a sockaddr_un (108 bytes).
    root = Path(tempfile.mkdtemp(prefix="hd-", dir="/tmp"))
    host = f"unix://{root}/docker.sock"
    log = (root / "dockerd.log").open("w")
    daemon = subprocess.Popen(["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
                               "--pidfile", str(root / "docker.pid"), "-H", host],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_answering(host, daemon, root)
        yield host
    finally:
        stop_daemon(daemon)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_answering(host: str, daemon: subprocess.Popen, root: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not answers(host):
        if daemon.poll() is not None or time.monotonic() > deadline:
            tail = (root / "dockerd.log").read_text()[-2000:]
            pytest.fail(f"dockerd did not come up (exit {daemon.poll()}):\n{tail}")
        time.sleep(0.5)


def stop_daemon(daemon: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL to its process group after STOP_TIMEOUT."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()


def ensure_base_image(host: str, cache: Path) -> str:
    """local/debian:bookworm, made offline by docker/make-base-image.sh (its tarball kept in cache) if missing."""
    client = docker.DockerClient(base_url=host)
    if not client.images.list(name=BASE_IMAGE):
        done = subprocess.run(["bash", str(ROOT / "docker" / "make-base-image.sh"), BASE_IMAGE],
                              env={**os.environ, "DOCKER_HOST": host, "HARNESS_CACHE": str(cache)}, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    return BASE_IMAGE
