"""Writing the site into its directory: each file atomically, and a manifest of what was written, so that
publishing again replaces (and removes) only the files an earlier publish made there; a file of anyone
else's in the way stops the publish before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

from harness.errors import BadInput
from harness.files import write_bytes_atomic, write_json_atomic

MANIFEST = ".harness-publish.json"
MANIFEST_VERSION = 1


def write_site(out: Path, files: dict[str, bytes]) -> int:
    """Write files (relative path -> content) under out; returns how many earlier files were removed."""
    outside = sorted(name for name in files if not _inside(name))
    if outside:  # names come from folder names; one that climbs out would be a bug, never written
        raise BadInput(f"the site's file {outside[0]!r} would not be inside {out}; nothing was written")
    earlier = _earlier_files(out)
    clashes = sorted(name for name in files if name not in earlier and (out / name).exists())
    if clashes:
        raise BadInput(f"{out / clashes[0]} is in the way and was not written by `harness publish` "
                       f"({len(clashes)} such file(s)); choose another --out")
    for name, content in files.items():
        _write_file(out / name, content)
    removed = 0
    for stale in sorted(earlier - files.keys()):
        if (out / stale).is_file():
            (out / stale).unlink()
            removed += 1
    write_json_atomic(out / MANIFEST, {"schema_version": MANIFEST_VERSION, "files": sorted(files)})
    return removed


def _earlier_files(out: Path) -> set[str]:
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} is a file, not a directory")
    manifest = out / MANIFEST
    if not manifest.is_file():
        return set()
    try:
        data = json.loads(manifest.read_text())
        files = set(data["files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{manifest} is not a readable publish manifest ({exc}); remove it or choose another --out") from exc
    if data.get("schema_version") != MANIFEST_VERSION:
        raise BadInput(f"{manifest} has manifest version {data.get('schema_version')!r}; this harness writes "
                       f"{MANIFEST_VERSION}")
    return {name for name in files if _inside(name)}


def _inside(name: str) -> bool:
    """A manifest entry names a file below the output directory, never ../ or an absolute path."""
    path = Path(name)
    return not path.is_absolute() and ".." not in path.parts


def _write_file(path: Path, content: bytes) -> None:
    """One file of the site, atomically, its directories made first."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot create {path.parent}: {exc.strerror}") from exc
    write_bytes_atomic(path, content)
