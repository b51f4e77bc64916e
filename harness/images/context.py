"""The exact set of files an image is built from, its content hash, and the tar the engine receives.

The context is assembled file by file instead of sending the repository: only what the Dockerfiles
COPY goes in, so the hash (and the image tag made from it) changes exactly when the image would.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

REPO_PARTS = ("pyproject.toml", "README.md", "harness", "configs", "docker")
SKIPPED_NAMES = {"__pycache__", ".DS_Store"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST_APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
CHUNK = 1 << 20


@dataclass
class BuildContext:
    """Files by their path inside the context (posix), plus small generated ones held in memory."""

    files: dict[str, Path] = field(default_factory=dict)
    generated: dict[str, bytes] = field(default_factory=dict)

    def add_tree(self, root: Path, part: str) -> None:
        source = root / part
        paths = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        for path in paths:
            relative = path.relative_to(root)
            if not (SKIPPED_NAMES & set(relative.parts)) and path.suffix not in SKIPPED_SUFFIXES:
                self.files[relative.as_posix()] = path

    def names(self) -> list[str]:
        return sorted({*self.files, *self.generated})


def assemble(root: Path, wheels: list[Path], weights: list[Path]) -> BuildContext:
    """The repository's image parts, the chosen wheels and weights, and the host files builds need.

    host/ca.crt: the host's CA bundle, for pip behind a TLS-inspecting proxy (empty if the host has none).
    host/debian.sources: the host's Debian mirror, for a base image made offline with debootstrap.
    """
    context = BuildContext()
    for part in REPO_PARTS:
        context.add_tree(root, part)
    for wheel in wheels:
        context.files[f"wheelhouse/{wheel.name}"] = wheel
    for weight in weights:
        context.files[f"weights/{weight.name}"] = weight
    context.generated["weights/.keep"] = b""  # COPY weights/ needs the folder even when none is given
    context.generated["wheelhouse/.keep"] = b""
    for name, host_file in (("host/ca.crt", HOST_CA_BUNDLE), ("host/debian.sources", HOST_APT_SOURCES)):
        context.generated[name] = host_file.read_bytes() if host_file.is_file() else b""
    return context


def copy_sources(root: Path, destination: Path) -> Path:
    """A copy of the repository's image parts: a source tree to build from elsewhere (tests, benchmarks)."""
    destination.mkdir(parents=True)
    for part in REPO_PARTS:
        if (root / part).is_dir():
            shutil.copytree(root / part, destination / part, ignore=shutil.ignore_patterns(*SKIPPED_NAMES))
        else:
            shutil.copy2(root / part, destination / part)
    return destination


def content_hash(context: BuildContext, dockerfile: str, build_args: dict[str, str]) -> str:
    """sha256 over the Dockerfile's name, the build arguments and every file's name, mode and bytes."""
    digest = hashlib.sha256(json.dumps({"dockerfile": dockerfile, "args": build_args}, sort_keys=True).encode())
    for name in context.names():
        data_hash = hashlib.sha256()
        if name in context.generated:
            data_hash.update(context.generated[name])
        else:
            with context.files[name].open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    data_hash.update(chunk)
        digest.update(f"{name}\0{_mode(context, name):o}\0{data_hash.hexdigest()}\n".encode())
    return digest.hexdigest()


def write_tar(context: BuildContext, out: BinaryIO) -> None:
    """An uncompressed tar with fixed owners and times, so the engine's layer cache sees only content."""
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in context.names():
            info = tarfile.TarInfo(name)
            info.mode = _mode(context, name)
            if name in context.generated:
                info.size = len(context.generated[name])
                tar.addfile(info, io.BytesIO(context.generated[name]))
            else:
                info.size = context.files[name].stat().st_size
                with context.files[name].open("rb") as handle:
                    tar.addfile(info, handle)
    out.seek(0)


def _mode(context: BuildContext, name: str) -> int:
    if name in context.generated:
        return 0o644
    return 0o755 if context.files[name].stat().st_mode & 0o111 else 0o644
