"""The learning rate a run really used: mmdet's `--auto-scale-lr` scales the config's LR by the total batch."""

from __future__ import annotations

import re
from pathlib import Path

NUMBER = r"(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)"
# mmengine's Runner.scale_lr logs this line once per process.
SCALING_LINE = re.compile(r"LR is set based on batch size of (\d+) and the current batch size is (\d+)\. "
                          rf"Scaling the original LR by {NUMBER}")
# The optimizer's lr in the config mmengine dumps into the work_dir.
OPTIMIZER_LR = re.compile(rf"\boptimizer=dict\([^)]*?\blr={NUMBER}")


def learning_rate(console_log: Path, dumped_config: Path) -> dict[str, float] | None:
    """Base and effective LR with the batches behind the scale; None when the run did not get that far."""
    scaling = _first_match(SCALING_LINE, console_log)
    base = _first_match(OPTIMIZER_LR, dumped_config)
    if scaling is None or base is None:
        return None
    base_batch, total_batch, scale = int(scaling[1]), int(scaling[2]), float(scaling[3])
    return {"base_lr": float(base[1]), "base_batch": base_batch, "total_batch": total_batch, "scale": scale,
            "effective_lr": float(base[1]) * scale}


def _first_match(pattern: re.Pattern, path: Path) -> re.Match | None:
    if not path.is_file():
        return None
    with path.open(errors="replace") as handle:
        for line in handle:
            if found := pattern.search(line):
                return found
    return None
