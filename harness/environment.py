"""Best-effort facts about the machine and the stack, for the run record."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
from importlib import metadata
from pathlib import Path

import harness

PACKAGES = ("torch", "mmcv", "mmengine", "mmdet", "pycocotools", "numpy")


def collect() -> dict[str, str]:
    """Versions read from package metadata: no torch import, so it costs milliseconds."""
    facts = {
        "harness": harness.__version__,
        "python": platform.python_version(),
        "hostname": socket.gethostname(),
        "machine": platform.machine(),
        "cpu_count": str(os.cpu_count()),
    }
    for package in PACKAGES:
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts[package] = "absent"
    return facts


def source_revision(root: Path) -> str:
    """The git commit the code comes from, with `-dirty` when the work tree has changes; `unknown` outside git."""
    commit = _git(root, "rev-parse", "HEAD")
    if not commit:
        return "unknown"
    return f"{commit}-dirty" if _git(root, "status", "--porcelain", "--untracked-files=no") else commit


def source_location(root: Path) -> str:
    """Where the code comes from: the git remote `origin` when there is one, else the checkout's path."""
    return _git(root, "remote", "get-url", "origin") or root.resolve().as_uri()


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


GPU_TOOLS = {"cuda": "nvidia-smi", "ixuca": "ixsmi"}  # ixsmi is the vendor's nvidia-smi


def gpu_inventory(platform_name: str) -> list[str] | None:
    """One line per GPU the vendor's tool lists (`-L`), or None when it cannot be known here."""
    tool = GPU_TOOLS.get(platform_name)
    if tool is None or not shutil.which(tool):
        return None
    try:
        done = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return [line.strip() for line in done.stdout.splitlines() if line.startswith("GPU ")] if done.returncode == 0 else None
