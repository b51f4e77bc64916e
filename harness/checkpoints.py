"""Checking that a file is an mmengine checkpoint before a run is started on it."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

from harness.errors import BadInput


def check(path: Path) -> None:
    """A torch checkpoint is a zip archive holding data.pkl; mmengine's also hold a state_dict.

    The archive's directory is read first (instant, any size); where torch is installed the file is
    then loaded memory-mapped, which reads the pickle but not the tensors."""
    if not path.is_file():
        raise BadInput(f"checkpoint {path} does not exist or is not a file")
    if not _is_torch_archive(path):
        raise BadInput(f"checkpoint {path} is not a torch checkpoint (not a zip archive holding data.pkl)")
    if importlib.util.find_spec("torch") is None:
        return
    try:
        loaded = _load(path)
    except Exception as exc:  # torch raises many kinds on a damaged archive
        raise BadInput(f"checkpoint {path} does not load: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(loaded, dict) or "state_dict" not in loaded:
        raise BadInput(f"checkpoint {path} loads, but holds no state_dict (not an mmengine checkpoint)")


def _is_torch_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/data.pkl") or name == "data.pkl" for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _load(path: Path):
    import torch  # only here: the CLI must not pay for torch on every command

    # Our own runs' checkpoints hold mmengine objects (HistoryBuffer), which weights_only refuses.
    return torch.load(path, map_location="cpu", mmap=True, weights_only=False)
