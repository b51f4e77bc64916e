"""mmdet 2.x (mmcv 1.x TextLoggerHook) `<timestamp>.log.json`: the log era of the 43.2 reference run.

JSON lines: first the run's metadata (env_info, config, seed), then `"mode": "train"` rows and
`"mode": "val"` rows carrying bbox_mAP ... bbox_mAP_l on the 0-1 scale and bbox_mAP_copypaste.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.errors import BadInput
from harness.logs.models import Evaluation, ParsedLog, StepCollector, TrainStep, build, number, whole

MAX_EPOCHS = re.compile(r"(?:runner\s*=\s*dict\([^)]*?max_epochs\s*=\s*|total_epochs\s*=\s*)(\d{1,9})\b")
STEP_KEYS = ("loss", "lr", "time", "memory")


def is_mmdet2_log(path: Path) -> bool:
    return path.name.endswith(".log.json")


def parse(path: Path) -> ParsedLog:
    evaluations: dict[int, Evaluation] = {}
    steps, max_epochs, per_epoch, seen = StepCollector(), None, None, False
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            row = _row(line)
            if row is None:
                continue
            if isinstance(row.get("config"), str) and max_epochs is None:
                found = MAX_EPOCHS.search(row["config"])
                max_epochs = int(found[1]) if found else None
            elif row.get("mode") == "val" and whole(row.get("epoch")) is not None:
                epoch = whole(row["epoch"])
                evaluations[epoch], seen = Evaluation.from_values(epoch, row), True
                per_epoch = whole(row.get("iter")) or per_epoch  # a val row carries the epoch's length
            elif row.get("mode") == "train" and None not in (whole(row.get("epoch")), whole(row.get("iter"))):
                steps.add(TrainStep(epoch=whole(row["epoch"]), iter=whole(row["iter"]),
                                    **{k: number(row.get(k)) for k in STEP_KEYS}))
                seen = True
    if not seen:
        raise BadInput(f"{path} holds no mmdet 2.x train or val rows")
    return _global_iterations(build(str(path), "mmdet2-json", evaluations, steps, max_epochs), per_epoch)


def _global_iterations(parsed: ParsedLog, per_epoch: int | None) -> ParsedLog:
    """mmdet 2.x counts iterations within the epoch; its val rows carry the epoch's length."""
    if not per_epoch:
        return parsed

    def fix(step: TrainStep | None) -> TrainStep | None:
        return step and step.model_copy(update={"iter": (step.epoch - 1) * per_epoch + step.iter,
                                                "iters_per_epoch": per_epoch})

    return parsed.model_copy(update={"steps": [fix(s) for s in parsed.steps], "last_step": fix(parsed.last_step),
                                     "diverged_at": fix(parsed.diverged_at)})


def _row(line: str) -> dict | None:
    try:
        row = json.loads(line)
    except (ValueError, RecursionError):  # ValueError: also integers past Python's digit limit
        return None
    return row if isinstance(row, dict) else None

