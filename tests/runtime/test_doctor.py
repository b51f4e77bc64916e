"""`harness doctor` against the real engine: ok rows, failing rows with their fix, the exit code."""

from __future__ import annotations

import docker
from harness.edges import docker_engine


def test_a_ready_cpu_host_is_all_ok(cli, cpu_image):
    result = cli("doctor", "--platform", "cpu")
    assert result.exit_code == 0, result.stdout + result.stderr
    # 7 doctor rows, the preflight row's detail and the preflight table's 4 checks
    assert result.stdout.count(" ok ") == 12 and "FAIL" not in result.stdout
    assert "preflight on" in result.stdout and "DeformConv2d forward+backward, nms on cpu" in result.stdout


def test_failing_rows_say_how_to_fix_them_and_exit_3(cli, docker_host, tmp_path):
    result = cli("doctor", "--platform", "ixuca", "--data", tmp_path)
    assert result.exit_code == 3
    assert "harness build --platform ixuca" in result.stdout and "dataset invalid" in result.stdout
    assert result.stderr.strip() == "error: not ready: image, GPUs through the engine, dataset"


def test_no_engine_is_a_failing_row(cli, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = cli("doctor", "--platform", "cpu")
    assert result.exit_code == 3 and "start dockerd" in result.stdout
    assert result.stderr.strip() == "error: not ready: Docker engine, image"


def test_the_gpu_probe_runs_a_container_with_the_platform_request(cli, docker_host, cpu_image):
    """No NVIDIA runtime here: the engine refuses the nvidia device request, and doctor says so."""
    client = docker.DockerClient(base_url=docker_host)
    client.images.get(cpu_image["image_id"]).tag("harness-cuda", "latest")
    try:
        result = cli("doctor", "--platform", "cuda", "--gpus", "8")
    finally:
        client.images.remove("harness-cuda:latest")
    assert result.exit_code == 3
    assert result.stderr.strip() == "error: not ready: GPUs through the engine"
    assert "nvidia" in result.stdout.lower() and "NVIDIA Container Toolkit" in result.stdout
    assert docker_engine.leftover_containers(client) == []
