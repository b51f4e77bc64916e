"""docker-compose.yml with Compose v1 (Debian's docker-compose 1.29) against the real engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml

import docker
from harness.bootstrap import ROOT
from harness.edges import docker_engine

PROJECT = "harness-compose-test"


def compose(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose (Compose v1) is installed by `python3 -m harness.bootstrap --engine`"
    return subprocess.run([binary, "-p", PROJECT, "-f", str(ROOT / "docker-compose.yml"), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def compose_env(docker_host, tmp_path):
    (tmp_path / "coco").mkdir()
    (tmp_path / "results").mkdir()
    return {**os.environ, "DOCKER_HOST": docker_host, "HARNESS_DATA": str(tmp_path / "coco"),
            "HARNESS_OUT": str(tmp_path / "results"), "HARNESS_UID": str(os.getuid()), "HARNESS_GID": str(os.getgid())}


def test_every_platform_has_a_service_with_its_gpus(compose_env):
    done = compose("config", env=compose_env)
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert set(services) == {"cpu", "cuda", "ixuca"}
    for service in services.values():
        assert service["user"] == f"{os.getuid()}:{os.getgid()}"
        assert f"{compose_env['HARNESS_DATA']}:/data/coco:ro" in _volumes(service)
    assert services["cuda"]["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert services["ixuca"]["runtime"] == "iluvatar"
    assert services["ixuca"]["environment"]["IX_VISIBLE_DEVICES"] == "0,1,2,3,4,5,6,7"
    assert "privileged" not in services["cuda"] and "privileged" not in services["ixuca"]


def _volumes(service: dict) -> list[str]:
    """Compose v1 prints volumes as strings; v2 as mappings."""
    return [v if isinstance(v, str) else f"{v['source']}:{v['target']}{':ro' if v.get('read_only') else ''}"
            for v in service["volumes"]]


def test_a_run_through_docker_compose_lands_on_the_host_and_is_judged(cli, compose_env, cpu_image):
    """The compose wiring (image, user, mounts, results on the host): one epoch of two processes is enough; that
    the full smoke run passes verify in this image is test_containers' two-process run."""
    try:
        done = compose("run", "--rm", "cpu", "harness", "train", "--gpus", "2", "--epochs", "1", env=compose_env)
    finally:
        compose("down", env=compose_env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = compose_env["HARNESS_OUT"]
    (run_dir,) = [p for p in os.scandir(results) if p.is_dir()]
    assert {os.stat(os.path.join(run_dir.path, f)).st_uid for f in os.listdir(run_dir.path)} == {os.getuid()}
    verdict = cli("verify", run_dir.path, "--json")
    judged = json.loads(verdict.stdout)  # one epoch from scratch is far below the 20-epoch reference
    assert verdict.exit_code == 1 and judged["verdict"] == "out_of_tolerance", verdict.stdout + verdict.stderr
    assert judged["runs"][0]["status"] == "finished" and judged["value"] < 10
    assert docker_engine.leftover_containers(docker.from_env()) == []
    assert not docker.from_env().containers.list(all=True, filters={"label": f"com.docker.compose.project={PROJECT}"})
