"""Training logs of every era -> typed metrics (AP points). Files are streamed, never loaded whole.

mmengine (mmdet 3.x) work_dirs: `vis_data/scalars.json` first, the text log as fallback and
cross-check; several timestamp folders (a resumed run) are merged in order. mmdet 2.x: `*.log.json`.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import BadInput
from harness.logs import mmdet2, mmengine
from harness.logs.mmengine import parse_line
from harness.logs.models import BBOX_KEYS, Evaluation, ParsedLog, TrainStep

__all__ = ["BBOX_KEYS", "Evaluation", "ParsedLog", "TrainStep", "parse_line", "parse_path"]


def parse_path(path: Path) -> ParsedLog:
    """A work_dir, one of its timestamp folders, a scalars.json, a text log or an mmdet 2.x log.json."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"{path} does not exist")
    if path.is_file():
        return _parse_file(path)
    runs = mmengine.timestamp_dirs(path)
    if runs:
        return merge([mmengine.parse_timestamp_dir(run) for run in runs], _max_epochs_from_dump(path))
    old_logs = sorted(path.glob("*.log.json"))
    if old_logs:
        return mmdet2.parse(old_logs[-1])
    raise BadInput(f"no mmengine logs under {path} (expected <work_dir>/<YYYYmmdd_HHMMSS>/ or *.log.json)")


def _parse_file(path: Path) -> ParsedLog:
    if mmdet2.is_mmdet2_log(path):
        return mmdet2.parse(path)
    if path.suffix == ".json":
        return mmengine.parse_scalars(path)
    return mmengine.parse_text(path)


def merge(parts: list[ParsedLog], max_epochs: int | None) -> ParsedLog:
    """Timestamp folders in order (a resumed run): a later evaluation of an epoch replaces an earlier one,
    training steps a later folder repeats (resumed from a checkpoint before them) are counted once."""
    evaluations: dict[int, Evaluation] = {}
    steps: list[TrainStep] = []
    diverged: TrainStep | None = None
    for part in parts:
        evaluations.update({e.epoch: e for e in part.evaluations})
        resumed_at = (part.steps[0].epoch, part.steps[0].iter) if part.steps else None
        steps = [s for s in steps if resumed_at is None or (s.epoch, s.iter) < resumed_at] + part.steps
        if diverged and resumed_at and (diverged.epoch, diverged.iter) >= resumed_at:
            diverged = None  # resumed from a checkpoint before the divergence
        diverged = diverged or part.diverged_at
    last = parts[-1]
    return last.model_copy(update={
        "evaluations": [evaluations[k] for k in sorted(evaluations)], "steps": steps,
        "last_step": next((p.last_step for p in reversed(parts) if p.last_step), None),
        "max_epochs": max_epochs or next((p.max_epochs for p in reversed(parts) if p.max_epochs), None),
        "diverged_at": diverged, "warnings": [w for p in parts for w in p.warnings],
    })


def _max_epochs_from_dump(work_dir: Path) -> int | None:
    for candidate in (work_dir, work_dir / "work_dir"):
        for dump in sorted(candidate.glob("*.py")):
            found = mmengine.max_epochs_in(dump)
            if found:
                return found
    return None
