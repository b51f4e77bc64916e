"""PNG plots of a run: the loss curve, and bbox mAP per epoch against the reference (and its curve)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display here, in CI or in containers
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from harness.logs import ParsedLog  # noqa: E402
from harness.spec import Reference  # noqa: E402

SIZE_INCHES, DPI = (8, 4.5), 100  # 800 x 450 pixels


def loss_curve(log: ParsedLog, out: Path) -> Path:
    figure, axes = plt.subplots(figsize=SIZE_INCHES, dpi=DPI)
    points = [(s.iter, s.loss) for s in log.steps if s.loss is not None]
    axes.plot([p[0] for p in points], [p[1] for p in points], linewidth=1.2, label="loss")
    if log.diverged_at:
        axes.axvline(log.diverged_at.iter, color="red", linestyle=":", label="loss became NaN/inf")
    axes.set(xlabel="iteration", ylabel="loss", title="Training loss")
    axes.grid(alpha=0.3)
    axes.legend()
    return _save(figure, out)


def map_curve(log: ParsedLog, reference: Reference, out: Path) -> Path:
    figure, axes = plt.subplots(figsize=SIZE_INCHES, dpi=DPI)
    scored = [e for e in log.evaluations if reference.metric in e.metrics]
    axes.plot([e.epoch for e in scored], [e.metrics[reference.metric] for e in scored], marker="o", label="this run")
    axes.axhline(reference.value, color="black", linestyle="--", label=f"reference {reference.name} ({reference.value:g})")
    if reference.policy == "absolute":
        axes.axhspan(reference.value - reference.tolerance, reference.value + reference.tolerance, color="grey",
                     alpha=0.15, label=f"±{reference.tolerance:g}")
    if reference.curve:
        axes.plot(range(1, len(reference.curve) + 1), reference.curve, color="grey", label="reference curve")
    axes.set(xlabel="epoch", ylabel=f"{reference.metric} (AP points)", title="bbox mAP per epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    axes.legend()
    return _save(figure, out)


def _save(figure, out: Path) -> Path:
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)
    return out
