"""`harness train --runtime docker`: GPU requests for both vendors, and real runs in the cpu image."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import docker
from harness.edges import docker_engine
from harness.errors import BadInput
from harness.runtime.container import (
    CONFIGS_MOUNT, DATA_MOUNT, RUN_MOUNT, DeviceRequest, GpuOptions, HostFacts, Mount, container_spec
)

from conftest import USER_CACHE, one_line_error, read_json
from engine import ensure_base_image, running_engine

HOST = HostFacts(uid=1234, gid=5678)
COMMAND = ["python3", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "8", "/opt/mmdet-tools/train.py"]


def spec_for(platform: str, host: HostFacts = HOST, sources=("/datasets/coco", "/results/run", "/src/configs"), **gpu):
    options = GpuOptions(platform=platform, gpus=gpu.pop("gpus", 8), **gpu)
    return container_spec("harness-run", "sha256:abc", COMMAND, *map(Path, sources), options, host, "2g", False, {"io.harness.run-id": "run"})


def test_cuda_with_8_gpus_is_one_nvidia_device_request_and_nothing_privileged():
    spec = spec_for("cuda")
    assert spec.device_requests == [DeviceRequest(driver="nvidia", count=8, capabilities=[["gpu"]])]
    assert (spec.runtime, spec.devices, spec.privileged, spec.ipc_mode, spec.shm_size) == (None, [], False, None, "2g")
    assert spec.mounts == [Mount(source="/datasets/coco", target=DATA_MOUNT, read_only=True),
                           Mount(source="/results/run", target=RUN_MOUNT, read_only=False),
                           Mount(source="/src/configs", target=CONFIGS_MOUNT, read_only=True)]
    assert spec.user == "1234:5678" and spec.environment["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] == "1"


def test_cuda_explicit_gpu_ids_are_device_ids():
    spec = spec_for("cuda", gpus=2, gpu_ids=["3", "5"])
    assert spec.device_requests == [DeviceRequest(driver="nvidia", device_ids=["3", "5"], capabilities=[["gpu"]])]
    with pytest.raises(BadInput, match="--gpu-ids names 1 GPUs but --gpus is 2"):
        spec_for("cuda", gpus=2, gpu_ids=["3"])


def test_ixuca_uses_the_vendor_runtime_when_the_engine_has_it():
    spec = spec_for("ixuca", HostFacts(uid=0, gid=0, runtimes=["iluvatar", "runc"]))
    assert spec.runtime == "iluvatar" and spec.environment["IX_VISIBLE_DEVICES"] == "0,1,2,3,4,5,6,7"
    assert (spec.device_requests, spec.devices, spec.privileged, len(spec.mounts)) == ([], [], False, 3)


def test_ixuca_without_the_runtime_gets_device_nodes_and_read_only_driver_mounts():
    nodes = [f"/dev/iluvatar{i}" for i in range(8)]
    spec = spec_for("ixuca", HostFacts(uid=0, gid=0, runtimes=["runc"], iluvatar_devices=nodes))
    assert spec.runtime is None and not spec.privileged
    assert spec.devices == [f"/dev/iluvatar{i}:/dev/iluvatar{i}:rwm" for i in range(8)]
    assert spec.mounts[3:] == [Mount(source="/usr/src", target="/usr/src", read_only=True),
                               Mount(source="/lib/modules", target="/lib/modules", read_only=True)]
    assert spec.environment["IX_VISIBLE_DEVICES"] == "0,1,2,3,4,5,6,7"


def test_ixuca_with_neither_asks_for_the_runtime_and_privileged_is_explicit():
    with pytest.raises(BadInput, match="no Iluvatar runtime in the engine"):
        spec_for("ixuca", HostFacts(uid=0, gid=0, runtimes=["runc"]))
    assert spec_for("ixuca", HostFacts(uid=0, gid=0), privileged=True).privileged


@pytest.mark.real
def test_the_engine_receives_exactly_the_nvidia_request(docker_host, cpu_image, tmp_path):
    """Created (not started: there is no GPU here) on the real engine, then read back from its HostConfig."""
    sources = [tmp_path / name for name in ("coco", "run", "configs")]
    for source in sources:
        source.mkdir()
    spec = spec_for("cuda", sources=sources).model_copy(update={"image": cpu_image["image_id"], "name": "harness-device-request-probe"})
    client = docker.DockerClient(base_url=docker_host)
    container = docker_engine.create_container(client, spec)
    try:
        host_config = client.api.inspect_container(container.id)["HostConfig"]
    finally:
        container.remove(force=True)
    assert host_config["DeviceRequests"] == [{"Driver": "nvidia", "Count": 8, "DeviceIDs": [],
                                              "Capabilities": [["gpu"]], "Options": {}}]
    assert host_config["Privileged"] is False and host_config["ShmSize"] == 2 * 1024 ** 3
    assert [(m["Source"], m["Target"], m.get("ReadOnly", False)) for m in host_config["Mounts"]] == [
        (str(sources[0]), DATA_MOUNT, True), (str(sources[1]), RUN_MOUNT, False), (str(sources[2]), CONFIGS_MOUNT, True)]


# --- real runs in the cpu image ---------------------------------------------------------------------


def harness_process(session_env: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "harness", "train", "--runtime", "docker", *args], cwd=session_env,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_for_container(client, run_dir_parent: Path, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = client.containers.list(filters={"label": docker_engine.RUN_LABEL})
        if running and any(run_dir_parent.glob("*/console.log")):
            return running[0]
        time.sleep(0.5)
    pytest.fail("the training container did not start")


def assert_no_container_left(client) -> None:
    assert docker_engine.leftover_containers(client) == []


def test_smoke_in_the_cpu_image_with_two_processes_passes_verify(cli, docker_host, cpu_image, session_env):
    result = cli("train", "--runtime", "docker", "--platform", "cpu", "--gpus", "2", "--work-dir",
                 session_env / "docker-smoke")
    assert result.exit_code == 0, result.stdout + result.stderr
    run = read_json(session_env / "docker-smoke" / "run.json")
    assert run["spec"]["runtime"] == "docker" and run["status"] == "succeeded" and run["total_batch"] == 16
    assert run["learning_rate"] == {"base_lr": 0.01, "base_batch": 8, "total_batch": 16, "scale": 2.0,
                                    "effective_lr": 0.02}
    assert run["image"]["id"] == cpu_image["image_id"] and run["image"]["labels"]["io.harness.platform"] == "cpu"
    assert run["container"]["user"] == f"{os.getuid()}:{os.getgid()}"
    assert "--nproc_per_node" in run["attempts"][0]["command"] and "/opt/mmdet-tools/train.py" in run["attempts"][0]["command"]
    owners = {p.stat().st_uid for p in (session_env / "docker-smoke").rglob("*")}
    assert owners == {os.getuid()}
    verdict = cli("verify", session_env / "docker-smoke", "--json")
    assert verdict.exit_code == 0, verdict.stdout + verdict.stderr
    assert json.loads(verdict.stdout)["verdict"] == "pass"
    assert_no_container_left(docker.DockerClient(base_url=docker_host))


def test_a_docker_run_records_the_image_as_its_stack_and_a_rerun_needs_that_image(cli, docker_host, cpu_image,
                                                                                 session_env, tmp_path):
    run = read_json(session_env / "docker-smoke" / "run.json")  # the run of the test above
    stack = run["environment"]["stack"]
    assert stack["where"] == "image" and stack["digest"] == cpu_image["image_id"]
    assert stack["packages"]["mmdet"] == "3.3.0" and run["image"]["digests"] == []  # built here, never pushed
    gone = dict(run, run_id="image-gone", image=dict(run["image"], id="sha256:" + "0" * 64))
    (tmp_path / "image-gone").mkdir()
    (tmp_path / "image-gone" / "run.json").write_text(json.dumps(gone))
    refused = cli("rerun", tmp_path / "image-gone")
    assert refused.exit_code == 2
    assert one_line_error(refused) == (f"error: rerun image-gone: the original's image sha256:{'0' * 64} is no longer in "
                                       "the engine; --allow-drift runs it in the spec's image and records the drift")


@pytest.mark.real
def test_ctrl_c_stops_and_removes_the_container(docker_host, cpu_image, session_env):
    client = docker.DockerClient(base_url=docker_host)
    process = harness_process(session_env, "--work-dir", str(session_env / "docker-ctrl-c" / "run"))
    try:
        wait_for_container(client, session_env / "docker-ctrl-c")
        time.sleep(3)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=90)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    run = read_json(session_env / "docker-ctrl-c" / "run" / "run.json")
    assert run["status"] == "interrupted" and (session_env / "docker-ctrl-c" / "run" / "console.log").exists()
    assert_no_container_left(client)


@pytest.mark.real
def test_a_killed_container_is_a_truthful_failure(docker_host, cpu_image, session_env):
    client = docker.DockerClient(base_url=docker_host)
    process = harness_process(session_env, "--work-dir", str(session_env / "docker-killed" / "run"))
    try:
        wait_for_container(client, session_env / "docker-killed").kill()
        _, stderr = process.communicate(timeout=90)
    finally:
        process.kill()
    assert process.returncode == 3, stderr
    assert "killed by SIGKILL" in stderr.strip().splitlines()[-1]
    run = read_json(session_env / "docker-killed" / "run" / "run.json")
    assert run["status"] == "failed" and run["exit_code"] == 137 and "SIGKILL" in run["error"]
    assert_no_container_left(client)


def test_an_image_that_does_not_exist_says_build_it(cli, docker_host, session_env):
    result = cli("train", "--runtime", "docker", "--image", "harness-cpu:does-not-exist")
    assert result.exit_code == 2
    assert "run `harness build --platform cpu`" in one_line_error(result)


def test_more_gpus_than_the_host_shows_is_refused(cli, tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"  # what nvidia-smi -L prints on a 2-GPU host
    fake.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA A100 (UUID: GPU-0)'\necho 'GPU 1: NVIDIA A100 (UUID: GPU-1)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    result = cli("train", "--runtime", "docker", "--platform", "cuda", "--gpus", "8")
    assert result.exit_code == 2
    assert "--gpus 8 but this host shows 2 cuda GPUs" in one_line_error(result)


def test_a_dataset_path_that_is_a_file_is_refused(cli, tmp_path):
    data = tmp_path / "coco.zip"
    data.write_bytes(b"PK")
    result = cli("train", "--runtime", "docker", "--data", data)
    assert result.exit_code == 2
    assert "coco.zip" in one_line_error(result)


def test_an_unwritable_results_directory_is_refused(cli, tmp_path, monkeypatch, session_env):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("HARNESS_RESULTS", str(blocker / "results"))
    result = cli("train", "--runtime", "docker")
    assert result.exit_code == 2
    assert "is not writable" in one_line_error(result)


@pytest.mark.real
def test_the_engine_stopping_mid_run_is_a_one_line_infrastructure_error(docker_host, session_env):
    """A second engine of its own, stopped while a container runs in it (the container only waits)."""
    with running_engine(fresh=True) as host:
        client = docker.DockerClient(base_url=host)
        ensure_base_image(host, USER_CACHE)
        dockerfile = (b"FROM local/debian:bookworm\n"
                      b"RUN printf '#!/bin/sh\\necho started\\nsleep 600\\n' > /usr/local/bin/python3 "
                      b"&& chmod +x /usr/local/bin/python3\n")
        client.images.build(fileobj=io.BytesIO(dockerfile), tag="harness-waits:1", rm=True)
        process = subprocess.Popen([sys.executable, "-m", "harness", "train", "--runtime", "docker", "--image",
                                    "harness-waits:1", "--work-dir", str(session_env / "engine-lost")], cwd=session_env,
                                   env={**os.environ, "DOCKER_HOST": host}, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            console_log = session_env / "engine-lost" / "console.log"
            deadline = time.monotonic() + 60
            while not (console_log.exists() and "started" in console_log.read_text()):
                assert time.monotonic() < deadline, "the container did not start"
                time.sleep(0.3)
            pid = int((Path(host.removeprefix("unix://")).parent / "docker.pid").read_text())
            os.kill(pid, signal.SIGTERM)
            _, stderr = process.communicate(timeout=120)
        finally:
            process.kill()
    assert process.returncode == 3, stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("error: lost the Docker engine mid-run") and "Traceback" not in stderr
    run = read_json(session_env / "engine-lost" / "run.json")
    assert run["status"] == "failed" and run["error"]
    assert "started" in (session_env / "engine-lost" / "console.log").read_text()


@pytest.mark.real
def test_a_killed_container_run_resumes_in_the_same_image(cli, docker_host, cpu_image, session_env):
    from support import in_epoch_2, wait_for

    client = docker.DockerClient(base_url=docker_host)
    run = session_env / "docker-resume" / "run"
    process = harness_process(session_env, "--epochs", "2", "--work-dir", str(run))
    try:
        container = wait_for_container(client, session_env / "docker-resume")
        assert wait_for(lambda: in_epoch_2(run), 240), "the run never reached epoch 2"
        running = cli("train", "--resume", run)
        assert running.exit_code == 2 and f"container {container.name}" in running.stderr
        container.kill()
        process.communicate(timeout=90)
    finally:
        process.kill()
    assert process.returncode == 3 and read_json(run / "run.json")["status"] == "failed"
    resumed = cli("train", "--resume", run)
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    record = read_json(run / "run.json")
    first, second = record["attempts"]
    assert first["exit_code"] == 137 and second["status"] == "succeeded" and second["resumed_from"] == "epoch_1.pth"
    assert record["spec"]["runtime"] == "docker" and record["image"]["id"] == cpu_image["image_id"]
    assert "--resume" in second["command"] and second["command"][0] == "python3"
    assert [e["epoch"] for e in json.loads(cli("verify", run, "--json").stdout)["evaluations"]] == [1, 2]
    assert_no_container_left(client)
