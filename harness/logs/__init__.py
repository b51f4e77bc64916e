"""Training logs of every era -> typed metrics (AP points). Files are streamed, never loaded whole.

mmengine (mmdet 3.x) work_dirs: `vis_data/scalars.json` first, the text log as fallback and
cross-check; several timestamp folders (a resumed run) are merged in order. mmdet 2.x: `*.log.json`.
`harness bench`'s timings (harness.logs.bench).

Imports harness.spec and below; knows nothing of the results store's layout.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import BadInput
from harness.logs import mmdet2, mmengine
from harness.logs.mmengine import parse_line
from harness.logs.models import BBOX_KEYS, Evaluation, ParsedLog, TrainStep

__all__ = ["BBOX_KEYS", "Evaluation", "ParsedLog", "TrainStep", "divergence_reason", "parse_line", "parse_path"]


def parse_path(path: Path, nested: str | None = None) -> ParsedLog:
    """A work_dir, one of its timestamp folders, a scalars.json, a text log or an mmdet 2.x log.json.

    nested: the name a work_dir may have inside path (the results store's run layout, which the caller knows)."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"{path} does not exist")
    if path.is_file():
        return _parse_file(path)
    runs = mmengine.timestamp_dirs(path, nested)
    if runs:
        return merge(_attempts(runs), _schedule_from_dump(path, nested))
    old_logs = sorted(path.glob("*.log.json"))
    if old_logs:
        return mmdet2.parse(old_logs[-1])
    raise BadInput(f"no mmengine logs under {path} (expected <work_dir>/<YYYYmmdd_HHMMSS>/ or *.log.json)")


def _attempts(runs: list[Path]) -> list[ParsedLog]:
    """Every timestamp folder that logged something; one that did not (an attempt that died at
    start-up) is skipped with a warning, unless no folder logged anything."""
    parsed, skipped, last_error = [], [], None
    for run in runs:
        try:
            parsed.append(mmengine.parse_timestamp_dir(run))
        except BadInput as exc:
            skipped.append(run.name)
            last_error = exc
    if not parsed:
        raise last_error
    if skipped:
        note = (f"skipped {len(skipped)} attempt folder(s) with no training or evaluation lines (an attempt that "
                f"ended at start-up?): {', '.join(skipped)}")
        parsed[0] = parsed[0].model_copy(update={"warnings": [note, *parsed[0].warnings]})
    return parsed


def divergence_reason(log: ParsedLog) -> str:
    step = log.diverged_at
    where = f"iteration {step.iter}" + (f" (epoch {step.epoch})" if log.loop == "epoch" else "")
    if log.diverged_why is None:
        return f"the loss became {step.loss} at {where}"
    shown = "not finite on another rank" if step.loss is None else f"{step.loss:.4g}"
    return f"the loss was {shown} at {where}: {log.diverged_why}; stopped by the harness's divergence check"


def _parse_file(path: Path) -> ParsedLog:
    if mmdet2.is_mmdet2_log(path):
        return mmdet2.parse(path)
    if path.suffix == ".json":
        return mmengine.parse_scalars(path)
    return mmengine.parse_text(path)


def merge(parts: list[ParsedLog], max_epochs: dict[str, int | None] | None = None) -> ParsedLog:
    """Timestamp folders in order (a resumed run): a later evaluation of an epoch replaces an earlier one,
    training steps a later folder repeats (resumed from a checkpoint before them) are counted once."""
    evaluations: dict[int, Evaluation] = {}
    steps: list[TrainStep] = []
    diverged, why = None, None
    for part in parts:
        evaluations.update({e.epoch: e for e in part.evaluations})
        resumed_at = (part.steps[0].epoch, part.steps[0].iter) if part.steps else None
        steps = [s for s in steps if resumed_at is None or (s.epoch, s.iter) < resumed_at] + part.steps
        if diverged and resumed_at and (diverged.epoch, diverged.iter) >= resumed_at:
            diverged, why = None, None  # resumed from a checkpoint before the divergence
        if diverged is None and part.diverged_at:
            diverged, why = part.diverged_at, part.diverged_why
    last = parts[-1]
    loop = "iter" if any(p.loop == "iter" for p in parts) else "epoch"
    return last.model_copy(update={
        "evaluations": [evaluations[k] for k in sorted(evaluations)], "steps": steps,
        "last_step": next((p.last_step for p in reversed(parts) if p.last_step), None),
        "max_epochs": (max_epochs.get(loop) if max_epochs else None)
        or next((p.max_epochs for p in reversed(parts) if p.max_epochs), None),
        "diverged_at": diverged, "diverged_why": why, "loop": loop,
        "warnings": [w for p in parts for w in p.warnings],
    })


def _schedule_from_dump(work_dir: Path, nested: str | None) -> dict[str, int | None]:
    """max_epochs and max_iters from the config mmengine dumped into the work_dir (the schedule as it ran)."""
    for candidate in mmengine.candidates(work_dir, nested):
        for dump in sorted(candidate.glob("*.py")):
            found = {"epoch": mmengine.max_epochs_in(dump), "iter": mmengine.max_iters_in(dump)}
            if any(found.values()):
                return found
    return {}
