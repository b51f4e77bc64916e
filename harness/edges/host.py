"""This machine: platform detection, GPU inventory, and the environment facts a run record keeps.

Facts come from small best-effort collectors (pyperf's collect_metadata): each one's failure is
recorded by name in Environment.errors and never stops a run.
"""

from __future__ import annotations

import hashlib
import os
import platform as platform_module
import re
import shutil
import socket
import subprocess
import sysconfig
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ConfigDict

import harness

PACKAGES = ("torch", "torchvision", "mmcv", "mmengine", "mmdet", "pycocotools", "numpy")
GPU_TOOLS = {"cuda": "nvidia-smi", "ixuca": "ixsmi"}  # ixsmi is the vendor's nvidia-smi, with its flags
SOURCE_ROOT = Path(harness.__file__).resolve().parent.parent


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(Frozen):
    harness: str
    revision: str | None = None  # git commit of the harness checkout
    dirty: bool | None = None  # tracked files changed since that commit
    location: str | None = None


class Stack(Frozen):
    packages: dict[str, str] = {}  # the pinned stack's versions ("absent" when not installed)
    digest: str | None = None  # sha256 of every installed distribution's name==version, sorted
    where: str = "local"  # local: this Python environment; image: the docker image's labels


class Machine(Frozen):
    hostname: str | None = None
    python: str | None = None
    cpu_model: str | None = None
    cores: int | None = None
    memory_bytes: int | None = None
    kernel: str | None = None
    os: str | None = None
    gpus: list[str] | None = None  # the vendor tool's `-L` lines
    gpu_model: str | None = None
    driver: str | None = None
    cuda: str | None = None  # the CUDA version the driver reports (nvidia-smi's header; ixsmi's on Iluvatar)
    sdk: str | None = None  # IXUCA SDK (CoreX) version on Iluvatar


class Environment(Frozen):
    source: Source
    stack: Stack = Stack()
    machine: Machine = Machine()
    errors: dict[str, str] = {}  # collector name -> why it failed
    seconds: float = 0.0  # what collecting cost

    @classmethod
    def from_facts(cls, facts: dict[str, str]) -> "Environment":
        """A schema 1 or 2 record's flat facts (versions and a few host facts)."""
        return cls(source=Source(harness=facts.get("harness", "unknown")),
                   stack=Stack(packages={p: facts[p] for p in PACKAGES if p in facts}),
                   machine=Machine(hostname=facts.get("hostname"), python=facts.get("python"),
                                   cores=int(facts["cpu_count"]) if facts.get("cpu_count", "").isdigit() else None,
                                   gpus=facts["gpus"].split(" | ") if facts.get("gpus") else None))


def detect_platform() -> str:
    """The accelerator this machine exposes, judged by its vendor's management tool on PATH."""
    for name, tool in GPU_TOOLS.items():
        if shutil.which(tool):
            return name
    return "cpu"


def gpu_inventory(platform_name: str) -> list[str] | None:
    """One line per GPU the vendor's tool lists (`-L`), or None when it cannot be known here."""
    done = _gpu_tool(platform_name, "-L")
    return [line.strip() for line in done.splitlines() if line.startswith("GPU ")] if done is not None else None


def collect(platform_name: str, stack: Stack | None = None) -> Environment:
    """Every collector, timed; stack: already known (a docker run's image), else this Python environment's."""
    start = time.perf_counter()
    errors: dict[str, str] = {}
    source = _best_effort("source", _source, errors) or Source(harness=harness.__version__)
    stack = stack or _best_effort("stack", _stack, errors) or Stack()
    machine: dict = {}
    for name, collector in _machine_collectors(platform_name).items():
        machine.update(_best_effort(name, collector, errors) or {})
    return Environment(source=source, stack=stack, machine=Machine(**machine), errors=errors,
                       seconds=round(time.perf_counter() - start, 3))


def _best_effort(name: str, collector: Callable, errors: dict[str, str]):
    try:
        return collector()
    except Exception as exc:  # a collector must never stop a run: its failure is a fact too
        errors[name] = f"{type(exc).__name__}: {exc}"
        return None


def _machine_collectors(platform_name: str) -> dict[str, Callable[[], dict]]:
    return {
        "basics": lambda: {"hostname": socket.gethostname(), "python": platform_module.python_version(),
                           "cores": os.cpu_count(), "kernel": platform_module.release()},
        "cpu": lambda: {"cpu_model": _proc_field("/proc/cpuinfo", "model name")},
        "memory": lambda: {"memory_bytes": int(_proc_field("/proc/meminfo", "MemTotal").split()[0]) * 1024},
        "os": lambda: {"os": platform_module.freedesktop_os_release().get("PRETTY_NAME")},
        "gpus": lambda: _gpu_facts(platform_name),
    }


def _source() -> Source:
    commit, dirty = _revision(SOURCE_ROOT)
    return Source(harness=harness.__version__, revision=commit, dirty=dirty,
                  location=source_location(SOURCE_ROOT) if commit else str(SOURCE_ROOT))


def _stack() -> Stack:
    """Versions from package metadata: no torch import, so it costs milliseconds."""
    packages = {}
    for package in PACKAGES:
        try:
            packages[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            packages[package] = "absent"
    installed = sorted({f"{d.metadata['Name']}=={d.version}".lower() for d in metadata.distributions(path=_site())})
    return Stack(packages=packages, digest=hashlib.sha256("\n".join(installed).encode()).hexdigest())


def _site() -> list[str]:
    """Where this environment installs packages. Not sys.path: importing pkg_resources, for one, adds
    setuptools' vendored packages to it, and the digest would then differ from process to process."""
    paths = sysconfig.get_paths()
    return sorted({paths["purelib"], paths["platlib"]})


def image_stack(labels: dict[str, str], image_id: str) -> Stack:
    """A docker run's stack: the pinned versions the image's labels carry; the image id is its digest."""
    return Stack(packages=image_versions(labels), digest=image_id, where="image")


def image_versions(labels: dict[str, str]) -> dict[str, str]:
    """The pinned versions an image built by `harness build` carries in its labels, by package."""
    prefix = "io.harness.version."
    return {k[len(prefix):]: v for k, v in labels.items() if k.startswith(prefix)}


def _proc_field(path: str, field: str) -> str:
    for line in Path(path).read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == field:
            return value.strip()
    raise LookupError(f"no {field!r} in {path}")


def _gpu_facts(platform_name: str) -> dict:
    if platform_name not in GPU_TOOLS:
        return {}
    facts: dict = {"gpus": gpu_inventory(platform_name)}
    query = _gpu_tool(platform_name, "--query-gpu=name,driver_version", "--format=csv,noheader")
    if query:
        facts["gpu_model"], _, facts["driver"] = (part.strip() for part in query.splitlines()[0].partition(","))
    header = _gpu_tool(platform_name) or ""
    cuda = re.search(r"CUDA Version:\s*([\w.]+)", header)
    facts["cuda"] = cuda[1] if cuda else None
    if platform_name == "ixuca":
        sdk = re.search(r"IX-ML:\s*([\w.]+)", header)
        facts["sdk"] = sdk[1] if sdk else _corex_version()
    return facts


def _corex_version() -> str | None:
    version = Path("/usr/local/corex/version")
    return version.read_text().strip() or None if version.is_file() else None


def _gpu_tool(platform_name: str, *args: str) -> str | None:
    tool = GPU_TOOLS.get(platform_name)
    if tool is None or not shutil.which(tool):
        return None
    try:
        done = subprocess.run([tool, *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def source_revision(root: Path) -> str:
    """The git commit the code comes from, with `-dirty` when the work tree has changes; `unknown` outside git."""
    return revision_label(*_revision(root)) or "unknown"


def revision_label(commit: str | None, dirty: bool | None) -> str | None:
    """A commit as the harness shows it: `-dirty` when the checkout had uncommitted changes."""
    return f"{commit}-dirty" if commit and dirty else commit


def _revision(root: Path) -> tuple[str | None, bool | None]:
    """The checkout's commit and whether tracked files changed since it; (None, None) outside git."""
    commit = _git(root, "rev-parse", "HEAD")
    return (commit, bool(_git(root, "status", "--porcelain", "--untracked-files=no"))) if commit else (None, None)


def source_location(root: Path) -> str:
    """Where the code comes from: the git remote `origin` when there is one, else the checkout's path."""
    return _git(root, "remote", "get-url", "origin") or root.resolve().as_uri()


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
