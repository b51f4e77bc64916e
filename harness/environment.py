"""Best-effort facts about the machine and the stack, for the run record."""

from __future__ import annotations

import os
import platform
import socket
from importlib import metadata

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
