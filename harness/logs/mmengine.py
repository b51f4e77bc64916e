"""mmengine (mmdet 3.x) logs: `vis_data/scalars.json` (JSON lines) and the text log."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable

from harness.errors import BadInput
from harness.logs.models import Evaluation, ParsedLog, StepCollector, TrainStep, build, number, whole

TIMESTAMP_DIR = re.compile(r"^\d{8}_\d{6}$")
LOOP_LINE = re.compile(
    r"Epoch\((?P<mode>train|val)\)\s*\[(?P<epoch>\d{1,9})\]\[\s*(?P<iter>\d{1,12})/(?P<total>\d{1,12})\]")
KEY_VALUE = re.compile(r"(?P<key>[A-Za-z_][\w/]*): (?P<value>-?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))")
TEST_LINE = re.compile(r"Epoch\(test\)\s*\[\s*\d{1,12}/\d{1,12}\]")  # tools/test.py: no epoch in the line
ETA = re.compile(r"eta: (?P<eta>[^ ].*?)\s{2}")
MAX_EPOCHS = re.compile(r"train_cfg\s*=\s*dict\([^)]*?max_epochs\s*=\s*(\d{1,9})\b")
NON_FINITE_LOSS = re.compile(r"\bloss: (?:nan|-?inf)")
STEP_KEYS = ("loss", "lr", "time", "memory")


def parse_line(line: str) -> TrainStep | Evaluation | None:
    """One text-log line -> a training step or an evaluation (used for live progress too)."""
    if "Epoch(" not in line:
        return None
    match = LOOP_LINE.search(line)
    if match is None:
        return None
    values = {m["key"]: float(m["value"]) for m in KEY_VALUE.finditer(line, match.end())}
    epoch, eta = int(match["epoch"]), ETA.search(line)
    if match["mode"] == "val":
        # Progress lines inside the val loop carry an ETA; only the closing line is the evaluation.
        return None if eta else Evaluation.from_values(epoch, values, "coco/")
    per_epoch = int(match["total"])  # the text log counts within the epoch; scalars.json globally
    return TrainStep(epoch=epoch, iter=(epoch - 1) * per_epoch + int(match["iter"]), iters_per_epoch=per_epoch,
                     eta=eta["eta"] if eta else None, **{k: values.get(k) for k in STEP_KEYS})


def timestamp_dirs(path: Path) -> list[Path]:
    if TIMESTAMP_DIR.match(path.name):
        return [path]
    for candidate in (path, path / "work_dir"):
        found = sorted(p for p in candidate.glob("*") if p.is_dir() and TIMESTAMP_DIR.match(p.name))
        if found:
            return found
    return []


def parse_timestamp_dir(run: Path) -> ParsedLog:
    """scalars.json first; the text log as fallback, and as a cross-check when both exist."""
    text_log = run / f"{run.name}.log"
    scalars = run / "vis_data" / "scalars.json"
    text = parse_text(text_log) if text_log.is_file() else None
    if not (scalars.is_file() and scalars.stat().st_size > 0):
        if text is None:
            raise BadInput(f"{run} holds neither vis_data/scalars.json nor {run.name}.log")
        return text
    primary = parse_scalars(scalars, text.max_epochs if text else None)
    return primary.model_copy(update={"warnings": _disagreements(primary, text)}) if text else primary


def _disagreements(scalars: ParsedLog, text: ParsedLog) -> list[str]:
    by_epoch = {e.epoch: e.metrics.get("bbox_mAP") for e in text.evaluations}
    return [f"epoch {e.epoch}: scalars.json has bbox_mAP {e.metrics.get('bbox_mAP')}, "
            f"the text log {by_epoch.get(e.epoch)}"
            for e in scalars.evaluations if e.epoch in by_epoch and by_epoch[e.epoch] != e.metrics.get("bbox_mAP")]


def parse_scalars(path: Path, max_epochs: int | None = None) -> ParsedLog:
    evaluations: dict[int, Evaluation] = {}
    steps, rows = StepCollector(), 0
    for row in _json_rows(path):
        rows += 1
        step, epoch, iteration = whole(row.get("step")), whole(row.get("epoch")), whole(row.get("iter"))
        if step is not None and "loss" not in row and "lr" not in row:  # a val row: no training keys
            evaluations[step] = Evaluation.from_values(step, row, "coco/")
        elif epoch is not None and iteration is not None:
            steps.add(TrainStep(epoch=epoch, iter=iteration, **{k: number(row.get(k)) for k in STEP_KEYS}))
    if rows == 0:
        raise BadInput(f"{path} holds no mmengine scalar rows")
    return build(str(path), "mmengine-scalars", evaluations, steps, max_epochs)


def _json_rows(path: Path) -> Iterable[dict]:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):  # ValueError: also integers past Python's digit limit
                continue
            if isinstance(row, dict):
                yield row


def parse_text(path: Path) -> ParsedLog:
    evaluations: dict[int, Evaluation] = {}
    steps, seen, test = StepCollector(), False, None
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if "Epoch(train)" in line and LOOP_LINE.search(line):
                steps.offer(line, parse_line, not _non_finite_loss(line))
                seen = True
            elif "Epoch(val)" in line:
                item = parse_line(line)
                if isinstance(item, Evaluation):
                    evaluations[item.epoch], seen = item, True
            elif "Epoch(test)" in line and (tested := _test_evaluation(line)):
                test, seen = tested, True
    if not seen:
        raise BadInput(f"{path} holds no mmengine training or evaluation lines")
    max_epochs = max_epochs_in(path)
    if test is not None and not evaluations:  # a checkpoint's test: the evaluation of the whole schedule
        evaluations[max_epochs or 1] = test.model_copy(update={"epoch": max_epochs or 1})
    return build(str(path), "mmengine-text", evaluations, steps, max_epochs)


def _test_evaluation(line: str) -> Evaluation | None:
    match = TEST_LINE.search(line)
    if match is None or ETA.search(line):  # progress lines of the test loop carry an ETA
        return None
    values = {m["key"]: float(m["value"]) for m in KEY_VALUE.finditer(line, match.end())}
    return Evaluation.from_values(0, values, "coco/")


def _non_finite_loss(line: str) -> bool:
    return ("nan" in line or "inf" in line) and NON_FINITE_LOSS.search(line) is not None


def max_epochs_in(path: Path, head_bytes: int = 1 << 20) -> int | None:
    """The config mmengine dumps (alone, or at the head of the text log) names the schedule."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        match = MAX_EPOCHS.search(handle.read(head_bytes))
    return int(match[1]) if match else None
