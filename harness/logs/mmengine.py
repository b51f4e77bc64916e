"""mmengine (mmdet 3.x) logs: `vis_data/scalars.json` (JSON lines) and the text log.

Epoch-based loops log `Epoch(train) [E][i/n]` and `Epoch(val) [E][n/n]`; iteration-based loops log
`Iter(train) [i/N]` and `Iter(val) [n/n]` (the val line names no iteration: it follows the last
training line). The text log alone says when an evaluation was empty and when the harness's hooks
stopped the run, so it is read beside scalars.json.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from harness.errors import BadInput
from harness.logs.models import Evaluation, ParsedLog, StepCollector, TrainStep, build, number, whole

TIMESTAMP_DIR = re.compile(r"^\d{8}_\d{6}$")
LOOP_LINE = re.compile(
    r"Epoch\((?P<mode>train|val)\)\s*\[(?P<epoch>\d{1,9})\]\[\s*(?P<iter>\d{1,12})/(?P<total>\d{1,12})\]")
ITER_LINE = re.compile(r"Iter\((?P<mode>train|val)\)\s*\[\s*(?P<iter>\d{1,12})/(?P<total>\d{1,12})\]")
KEY_VALUE = re.compile(r"(?P<key>[A-Za-z_][\w/]*): (?P<value>-?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))")
TEST_LINE = re.compile(r"Epoch\(test\)\s*\[\s*\d{1,12}/\d{1,12}\]")  # tools/test.py: no epoch in the line
ETA = re.compile(r"eta: (?P<eta>[^ ].*?)\s{2}")
MAX_EPOCHS = re.compile(r"train_cfg\s*=\s*dict\([^)]*?max_epochs\s*=\s*(\d{1,9})\b")
MAX_ITERS = re.compile(r"train_cfg\s*=\s*dict\([^)]*?max_iters\s*=\s*(\d{1,12})\b")
NON_FINITE_LOSS = re.compile(r"\bloss: (?:nan|-?inf)")
EMPTY_RESULTS = "The testing results of the whole dataset is empty"
# Written by harness.job.mmhooks inside the training process.
DIVERGED = re.compile(r"harness: training diverged at iteration (?P<iter>\d{1,12}) \(epoch (?P<epoch>\d{1,9})\): "
                      r"loss (?P<loss>\S+) \((?P<why>.*)\)\s*$")
BELOW_CURVE = re.compile(r"harness: stopped below the reference curve at epoch \d{1,9}: (?P<detail>.*?)\s*$")
STEP_KEYS = ("loss", "lr", "time", "memory")


def parse_line(line: str) -> TrainStep | Evaluation | None:
    """One text-log line -> a training step or an evaluation (used for live progress too).

    An iteration-based val line names no iteration: its evaluation comes back at position 0."""
    if "Epoch(" in line:
        match = LOOP_LINE.search(line)
        return None if match is None else _epoch_item(line, match)
    if "Iter(" in line:
        match = ITER_LINE.search(line)
        return None if match is None else _iter_item(line, match)
    return None


def _values(line: str, start: int) -> dict[str, float]:
    return {m["key"]: float(m["value"]) for m in KEY_VALUE.finditer(line, start)}


def _epoch_item(line: str, match: re.Match) -> TrainStep | Evaluation | None:
    values, epoch, eta = _values(line, match.end()), int(match["epoch"]), ETA.search(line)
    if match["mode"] == "val":
        # Progress lines inside the val loop carry an ETA; only the closing line is the evaluation.
        return None if eta else Evaluation.from_values(epoch, values, "coco/")
    per_epoch = int(match["total"])  # the text log counts within the epoch; scalars.json globally
    return TrainStep(epoch=epoch, iter=(epoch - 1) * per_epoch + int(match["iter"]), iters_per_epoch=per_epoch,
                     eta=eta["eta"] if eta else None, **{k: values.get(k) for k in STEP_KEYS})


def _iter_item(line: str, match: re.Match) -> TrainStep | Evaluation | None:
    values, eta = _values(line, match.end()), ETA.search(line)
    if match["mode"] == "val":
        return None if eta else Evaluation.from_values(0, values, "coco/")
    return TrainStep(epoch=0, iter=int(match["iter"]), total_iters=int(match["total"]),
                     eta=eta["eta"] if eta else None, **{k: values.get(k) for k in STEP_KEYS})


def candidates(path: Path, nested: str | None) -> tuple[Path, ...]:
    """Where a work_dir's folders may be: path itself, or the work_dir nested in it under that name."""
    return (path,) if nested is None else (path, path / nested)


def timestamp_dirs(path: Path, nested: str | None = None) -> list[Path]:
    if TIMESTAMP_DIR.match(path.name):
        return [path]
    for candidate in candidates(path, nested):
        found = sorted(p for p in candidate.glob("*") if p.is_dir() and TIMESTAMP_DIR.match(p.name))
        if found:
            return found
    return []


def parse_timestamp_dir(run: Path) -> ParsedLog:
    """scalars.json first; the text log as fallback, as a cross-check, and for what only it says."""
    text_log = run / f"{run.name}.log"
    scalars = run / "vis_data" / "scalars.json"
    text = parse_text(text_log) if text_log.is_file() else None
    if not (scalars.is_file() and scalars.stat().st_size > 0):
        if text is None:
            raise BadInput(f"{run} holds neither vis_data/scalars.json nor {run.name}.log")
        return text
    primary = parse_scalars(scalars, text.max_epochs if text else None)
    if text is not None and _goes_further(text, primary):
        return text.model_copy(update={"warnings": [
            f"{scalars} stops at {_last_position(primary)}, the text log goes on to {_last_position(text)}: read "
            "from the text log"]})
    return _with_text(primary, text) if text else primary


def _goes_further(text: ParsedLog, scalars: ParsedLog) -> bool:
    """A scalars.json cut short (a full disk, a copy stopped half-way) beside a text log that is not."""
    if not text.evaluations:
        return False
    return not scalars.evaluations or text.evaluations[-1].epoch > scalars.evaluations[-1].epoch


def _last_position(log: ParsedLog) -> str:
    return f"{log.unit} {log.final.epoch}" if log.final else "no evaluation"


def _with_text(scalars: ParsedLog, text: ParsedLog) -> ParsedLog:
    """Empty evaluations, the harness's stops and the disagreements come from the text log."""
    empty = {e.epoch for e in text.evaluations if e.empty}
    evaluations = [e.model_copy(update={"metrics": {}, "empty": True}) if e.epoch in empty else e
                   for e in scalars.evaluations]
    diverged = min((s for s in (scalars.diverged_at, text.diverged_at) if s), key=lambda s: s.iter, default=None)
    return scalars.model_copy(update={
        "evaluations": evaluations, "warnings": _disagreements(evaluations, text),
        "diverged_at": diverged, "diverged_why": text.diverged_why, "stopped_early": text.stopped_early})


def _disagreements(evaluations: list[Evaluation], text: ParsedLog) -> list[str]:
    by_epoch = {e.epoch: e.metrics.get("bbox_mAP") for e in text.evaluations}
    return [f"{text.unit} {e.epoch}: scalars.json has bbox_mAP {e.metrics.get('bbox_mAP')}, "
            f"the text log {by_epoch.get(e.epoch)}"
            for e in evaluations if e.epoch in by_epoch and by_epoch[e.epoch] != e.metrics.get("bbox_mAP")]


def parse_scalars(path: Path, max_epochs: int | None = None) -> ParsedLog:
    evaluations: dict[int, Evaluation] = {}
    steps, rows, by_iter, last_iter = StepCollector(), 0, False, 0
    for row in _json_rows(path):
        rows += 1
        step, epoch, iteration = whole(row.get("step")), whole(row.get("epoch")), whole(row.get("iter"))
        if step is not None and "loss" not in row and "lr" not in row:  # a val row: no training keys
            # Iteration loops log val rows at step 0 (the epoch) unless log_metric_by_epoch=False.
            where = (step or last_iter) if by_iter else step
            _add_evaluation(evaluations, Evaluation.from_values(where, row, "coco/"), path, by_iter)
        elif iteration is not None:
            by_iter = by_iter or epoch is None
            last_iter = iteration
            steps.add(TrainStep(epoch=epoch or 0, iter=iteration, **{k: number(row.get(k)) for k in STEP_KEYS}))
    if rows == 0:
        raise BadInput(f"{path} holds no mmengine scalar rows")
    return build(str(path), "mmengine-scalars", evaluations, steps, max_epochs, loop="iter" if by_iter else "epoch")


def _add_evaluation(evaluations: dict[int, Evaluation], evaluation: Evaluation, path: Path, by_iter: bool) -> None:
    """One evaluation a position: the same one logged twice with other values is a contradiction, named."""
    earlier = evaluations.get(evaluation.epoch)
    if earlier is not None and earlier.metrics != evaluation.metrics:
        unit = "iteration" if by_iter else "epoch"
        raise BadInput(f"{path} contradicts itself: the evaluation at {unit} {evaluation.epoch} is logged twice, "
                       f"with bbox_mAP {earlier.metrics.get('bbox_mAP')} and then "
                       f"{evaluation.metrics.get('bbox_mAP')}; which one ran cannot be told")
    evaluations[evaluation.epoch] = evaluation


def _json_rows(path: Path) -> Iterable[dict]:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):  # ValueError: also integers past Python's digit limit
                continue
            if isinstance(row, dict):
                yield row


@dataclass
class _TextState:
    evaluations: dict[int, Evaluation] = field(default_factory=dict)
    steps: StepCollector = field(default_factory=StepCollector)
    seen: bool = False
    by_iter: bool = False
    last_iter: int = 0
    empty_pending: bool = False
    test: Evaluation | None = None
    diverged: TrainStep | None = None
    diverged_why: str | None = None
    stopped: str | None = None


def parse_text(path: Path) -> ParsedLog:
    state = _TextState()
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            _read_line(state, line)
    if not state.seen:
        raise BadInput(f"{path} holds no mmengine training or evaluation lines")
    schedule = max_iters_in(path) if state.by_iter else max_epochs_in(path)
    evaluations = state.evaluations
    if state.test is not None and not evaluations:  # a checkpoint's test: the evaluation of the whole schedule
        evaluations[schedule or 1] = state.test.model_copy(update={"epoch": schedule or 1})
    return build(str(path), "mmengine-text", evaluations, state.steps, schedule, loop="iter" if state.by_iter else
                 "epoch", diverged_at=state.diverged, diverged_why=state.diverged_why, stopped_early=state.stopped)


def _read_line(state: _TextState, line: str) -> None:
    if "Epoch(train)" in line and LOOP_LINE.search(line):
        state.steps.offer(line, parse_line, not _non_finite_loss(line))
        state.seen = True
    elif "Iter(train)" in line and (match := ITER_LINE.search(line)):
        state.steps.offer(line, parse_line, not _non_finite_loss(line))
        state.seen, state.by_iter, state.last_iter = True, True, int(match["iter"])
    elif "(val)" in line:
        item = parse_line(line)
        if isinstance(item, Evaluation):
            _evaluated(state, item.model_copy(update={"epoch": state.last_iter}) if state.by_iter else item)
    elif "Epoch(test)" in line and (tested := _test_evaluation(line)):
        state.test = _emptied(tested, state)
        state.seen = True
    elif EMPTY_RESULTS in line:
        state.empty_pending = True
    elif "harness: " in line:
        _harness_line(state, line)


def _evaluated(state: _TextState, evaluation: Evaluation) -> None:
    state.evaluations[evaluation.epoch] = _emptied(evaluation, state)
    state.seen = True


def _emptied(evaluation: Evaluation, state: _TextState) -> Evaluation:
    """After mmengine's 'results ... empty' warning, the next evaluation line re-prints stale values."""
    if not state.empty_pending:
        return evaluation
    state.empty_pending = False
    return evaluation.model_copy(update={"metrics": {}, "empty": True})


def _harness_line(state: _TextState, line: str) -> None:
    if (match := DIVERGED.search(line)) and state.diverged is None:
        loss = number(_float(match["loss"]))
        state.diverged = TrainStep(epoch=int(match["epoch"]), iter=int(match["iter"]), loss=loss)
        state.diverged_why = match["why"]
        state.seen = True
    elif match := BELOW_CURVE.search(line):
        state.stopped = match["detail"]


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # "finite here": another rank's loss diverged


def _test_evaluation(line: str) -> Evaluation | None:
    match = TEST_LINE.search(line)
    if match is None or ETA.search(line):  # progress lines of the test loop carry an ETA
        return None
    return Evaluation.from_values(0, _values(line, match.end()), "coco/")


def _non_finite_loss(line: str) -> bool:
    return ("nan" in line or "inf" in line) and NON_FINITE_LOSS.search(line) is not None


def max_epochs_in(path: Path, head_bytes: int = 1 << 20) -> int | None:
    """The config mmengine dumps (alone, or at the head of the text log) names the schedule."""
    return _schedule_in(path, MAX_EPOCHS, head_bytes)


def max_iters_in(path: Path, head_bytes: int = 1 << 20) -> int | None:
    return _schedule_in(path, MAX_ITERS, head_bytes)


def _schedule_in(path: Path, pattern: re.Pattern, head_bytes: int) -> int | None:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        match = pattern.search(handle.read(head_bytes))
    return int(match[1]) if match else None
