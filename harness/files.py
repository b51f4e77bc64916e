"""Files the harness writes: atomically (a temporary file, then a rename), and where a new path would be created.

The lowest floor with harness.errors: every step may import it, it imports nothing of the harness."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_json_atomic(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    _replace_atomic(path, "w", text)


def write_bytes_atomic(path: Path, content: bytes) -> None:
    _replace_atomic(path, "wb", content)


def _replace_atomic(path: Path, mode: str, content: str | bytes) -> None:
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.fchmod(handle, 0o666 & ~_umask())  # mkstemp makes the file private; a record is an ordinary file
    try:
        with os.fdopen(handle, mode) as out:
            out.write(content)
        os.replace(tmp, path)
    except BaseException:  # a full disk, say: no half-written temporary file left behind
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def nearest_existing(path: Path) -> Path:
    """path itself, or its closest ancestor that exists (where a new directory would be created)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
