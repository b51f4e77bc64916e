"""Checking, before a run is started on it, that a file is a checkpoint of the benchmark's model.

torch.load's two formats are taken: the zip archive (torch >= 1.6, mmengine's) and the legacy pickle stream
(mmdet 2.x's model zoo). The weights are mmengine's 'state_dict' entry or a bare state_dict. The checkpoint
belongs to the model when it holds at least 95 % of the model's tensors (built from the run's config, with
its --cfg-option changes) under their names with their shapes; the preflight checks the same where the job
runs, for hosts without the training stack."""

from __future__ import annotations

import importlib.util
import tempfile
import zipfile
from pathlib import Path

from harness.errors import BadInput
from harness.job import preflight_probe
from harness.job.command import JobRequest, render_config

PICKLE_PROTOCOL = 0x80  # the first byte of a legacy torch.save stream (a pickle, protocol 2 and up)


def check(path: Path) -> dict | None:
    """The checkpoint's state_dict (None where torch is not installed: only the file's format is checked)."""
    if not path.is_file():
        raise BadInput(f"checkpoint {path} does not exist or is not a file")
    if not (_is_torch_archive(path) or _is_legacy_stream(path)):
        raise BadInput(f"checkpoint {path} is not a torch checkpoint (neither torch's zip archive holding data.pkl "
                       "nor its legacy pickle format)")
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        loaded = preflight_probe.load_checkpoint_file(str(path))
    except Exception as exc:  # torch raises many kinds on a damaged file
        raise BadInput(f"checkpoint {path} does not load: {type(exc).__name__}: {_first_line(exc)}") from exc
    try:
        return preflight_probe.state_dict_of(loaded)
    except ValueError as exc:
        raise BadInput(f"checkpoint {path} loads, but {exc}") from None


def belongs(request: JobRequest, state: dict | None) -> None:
    """Refuse a checkpoint of another model before anything starts (where this host has the training stack)."""
    if state is None or not stack_here():
        return
    with tempfile.TemporaryDirectory(prefix="harness-config-") as folder:
        config = Path(folder) / "config.py"
        config.write_text(render_config(request))
        found = preflight_probe.fit(str(request.checkpoint), state, preflight_probe.model_tensors(str(config), list(request.cfg_options)))
    if not found["ok"]:
        raise BadInput(f"checkpoint {found['detail']} ({request.benchmark.name}): {found['fix']}")


def stack_here() -> bool:
    """mmdet is installed here (a host that only drives containers or Slurm may not have it)."""
    return importlib.util.find_spec("mmdet") is not None


def _is_torch_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/data.pkl") or name == "data.pkl" for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _is_legacy_stream(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(1) == bytes([PICKLE_PROTOCOL])
    except OSError:
        return False


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""
