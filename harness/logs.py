"""mmengine work_dir logs -> typed metrics. `vis_data/scalars.json` first, the text log as fallback.

mmengine logs COCO mAP on the 0-1 scale; everything here is converted to AP points (0-100).
Files are read line by line, never loaded whole.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Iterable, Literal

from pydantic import BaseModel, ConfigDict

from harness.errors import BadInput

BBOX_KEYS = ("bbox_mAP", "bbox_mAP_50", "bbox_mAP_75", "bbox_mAP_s", "bbox_mAP_m", "bbox_mAP_l")
TIMESTAMP_DIR = re.compile(r"^\d{8}_\d{6}$")
LOOP_LINE = re.compile(r"Epoch\((?P<mode>train|val)\)\s*\[(?P<epoch>\d+)\]\[\s*(?P<iter>\d+)/(?P<total>\d+)\]")
KEY_VALUE = re.compile(r"(?P<key>[A-Za-z_][\w/]*): (?P<value>-?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))")
ETA = re.compile(r"eta: (?P<eta>[^ ].*?)\s{2}")
MAX_EPOCHS = re.compile(r"train_cfg\s*=\s*dict\([^)]*?max_epochs\s*=\s*(\d+)")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Evaluation(Frozen):
    epoch: int
    metrics: dict[str, float]  # AP points; empty when the evaluation produced no detections


class TrainStep(Frozen):
    epoch: int
    iter: int
    iters_per_epoch: int | None = None
    eta: str | None = None
    loss: float | None = None


class ParsedLog(Frozen):
    source: str
    format: Literal["mmengine-scalars", "mmengine-text"]
    evaluations: list[Evaluation]
    last_step: TrainStep | None
    max_epochs: int | None

    @property
    def scored(self) -> list[Evaluation]:
        return [e for e in self.evaluations if e.metrics]

    @property
    def final(self) -> Evaluation | None:
        return self.evaluations[-1] if self.evaluations else None


def parse_line(line: str) -> TrainStep | Evaluation | None:
    """One text-log line -> a training step or an evaluation (used for live progress too)."""
    match = LOOP_LINE.search(line)
    if match is None:
        return None
    values = {m["key"]: float(m["value"]) for m in KEY_VALUE.finditer(line, match.end())}
    epoch, eta = int(match["epoch"]), ETA.search(line)
    if match["mode"] == "val":
        # Progress lines inside the val loop carry an ETA; only the closing line is the evaluation.
        return None if eta else Evaluation(epoch=epoch, metrics=_bbox_points(values))
    return TrainStep(epoch=epoch, iter=int(match["iter"]), iters_per_epoch=int(match["total"]),
                     eta=eta["eta"] if eta else None, loss=values.get("loss"))


def parse_path(path: Path) -> ParsedLog:
    """A work_dir, one of its timestamp folders, a scalars.json or a text log."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"{path} does not exist")
    if path.is_file():
        return _parse_file(path, max_epochs=None)
    runs = _timestamp_dirs(path)
    if not runs:
        raise BadInput(f"no mmengine logs under {path} (expected <work_dir>/<YYYYmmdd_HHMMSS>/)")
    parsed = [_parse_timestamp_dir(run) for run in runs]
    return _merge(parsed, _max_epochs_from_dump(path))


def _timestamp_dirs(path: Path) -> list[Path]:
    if TIMESTAMP_DIR.match(path.name):
        return [path]
    candidates = [path, path / "work_dir"]
    for candidate in candidates:
        found = sorted(p for p in candidate.glob("*") if p.is_dir() and TIMESTAMP_DIR.match(p.name))
        if found:
            return found
    return []


def _parse_timestamp_dir(run: Path) -> ParsedLog:
    text_log = run / f"{run.name}.log"
    max_epochs = _max_epochs_from_file(text_log) if text_log.is_file() else None
    scalars = run / "vis_data" / "scalars.json"
    if scalars.is_file() and scalars.stat().st_size > 0:
        return _parse_scalars(scalars, max_epochs)
    if text_log.is_file():
        return _parse_text(text_log, max_epochs)
    raise BadInput(f"{run} holds neither vis_data/scalars.json nor {run.name}.log")


def _parse_file(path: Path, max_epochs: int | None) -> ParsedLog:
    if path.suffix == ".json":
        return _parse_scalars(path, max_epochs)
    return _parse_text(path, _max_epochs_from_file(path))


def _parse_scalars(path: Path, max_epochs: int | None) -> ParsedLog:
    evaluations, last_step, rows = {}, None, 0
    for row in _json_rows(path):
        rows += 1
        if "coco/bbox_mAP" in row or ("step" in row and "loss" not in row and "lr" not in row):
            evaluations[int(row["step"])] = Evaluation(epoch=int(row["step"]), metrics=_bbox_points(row))
        elif "epoch" in row and "iter" in row:
            last_step = TrainStep(epoch=int(row["epoch"]), iter=int(row["iter"]), loss=row.get("loss"))
    if rows == 0:
        raise BadInput(f"{path} holds no mmengine scalar rows")
    return ParsedLog(source=str(path), format="mmengine-scalars", evaluations=list(evaluations.values()),
                     last_step=last_step, max_epochs=max_epochs)


def _json_rows(path: Path) -> Iterable[dict]:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("step", 0), (int, float)):
                yield row


def _parse_text(path: Path, max_epochs: int | None) -> ParsedLog:
    evaluations, last_step, seen = {}, None, False
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            item = parse_line(line)
            seen = seen or item is not None
            if isinstance(item, Evaluation):
                evaluations[item.epoch] = item
            elif isinstance(item, TrainStep):
                last_step = item
    if not seen:
        raise BadInput(f"{path} holds no mmengine training or evaluation lines")
    return ParsedLog(source=str(path), format="mmengine-text", evaluations=list(evaluations.values()),
                     last_step=last_step, max_epochs=max_epochs)


def _bbox_points(values: dict) -> dict[str, float]:
    points = {}
    for key in BBOX_KEYS:
        value = values.get(f"coco/{key}", values.get(key))
        # COCOeval writes -1 for "no ground truth in this size range": absent, not a score.
        if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0:
            points[key] = round(100 * float(value), 2)
    return points


def _merge(parts: list[ParsedLog], max_epochs: int | None) -> ParsedLog:
    """Later timestamp folders (a resumed run) replace earlier evaluations of the same epoch."""
    evaluations: dict[int, Evaluation] = {}
    for part in parts:
        evaluations.update({e.epoch: e for e in part.evaluations})
    last_step = next((p.last_step for p in reversed(parts) if p.last_step), None)
    known_max = max_epochs or next((p.max_epochs for p in reversed(parts) if p.max_epochs), None)
    return ParsedLog(source=parts[-1].source, format=parts[-1].format,
                     evaluations=[evaluations[k] for k in sorted(evaluations)], last_step=last_step,
                     max_epochs=known_max)


def _max_epochs_from_dump(work_dir: Path) -> int | None:
    for candidate in (work_dir, work_dir / "work_dir"):
        for dump in sorted(candidate.glob("*.py")):
            found = _max_epochs_from_file(dump)
            if found:
                return found
    return None


def _max_epochs_from_file(path: Path, head_bytes: int = 1 << 20) -> int | None:
    """The config mmengine dumps (alone, or at the head of the text log) names the schedule."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        match = MAX_EPOCHS.search(handle.read(head_bytes))
    return int(match[1]) if match else None
