"""PNG plots of a run: the loss curve, and bbox mAP per epoch against the reference (and its curve)."""

from __future__ import annotations

import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display here, in CI or in containers
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from harness.logs import ParsedLog  # noqa: E402
from harness.spec.benchmarks import Reference  # noqa: E402

SIZE_INCHES, DPI = (8, 4.5), 100  # 800 x 450 pixels


def loss_curve(log: ParsedLog, out: Path) -> Path:
    figure, axes = plt.subplots(figsize=SIZE_INCHES, dpi=DPI)
    points = [(s.iter, s.loss) for s in log.steps if s.loss is not None]
    axes.plot([p[0] for p in points], [p[1] for p in points], linewidth=1.2, label="loss")
    if log.diverged_at:
        axes.axvline(log.diverged_at.iter, color="red", linestyle=":", label=f"diverged at iteration {log.diverged_at.iter}")
    axes.set(xlabel="iteration", ylabel="loss", title="Training loss")
    axes.grid(alpha=0.3)
    axes.legend()
    return _save(figure, out)


def map_curve(log: ParsedLog, reference: Reference, out: Path) -> Path:
    return map_curves([("this run", log)], reference, out)


def map_curves(runs: list[tuple[str, ParsedLog]], reference: Reference, out: Path) -> Path:
    """Each run's curve over the reference (line, tolerance band, per-epoch curve); for several, their mean ± sd."""
    figure, axes = plt.subplots(figsize=SIZE_INCHES, dpi=DPI)
    for label, log in runs:
        scored = [e for e in log.evaluations if reference.metric in e.metrics]
        axes.plot([e.epoch for e in scored], [e.metrics[reference.metric] for e in scored], marker="o",
                  linewidth=1.5 if len(runs) == 1 else 0.9, alpha=1 if len(runs) == 1 else 0.7, label=label)
    if len(runs) > 1:
        _mean_band(axes, [log for _, log in runs], reference.metric)
    axes.axhline(reference.value, color="black", linestyle="--", label=f"reference {reference.name} ({reference.value:g})")
    if reference.policy == "absolute":
        axes.axhspan(reference.value - reference.tolerance, reference.value + reference.tolerance, color="grey",
                     alpha=0.15, label=f"±{reference.tolerance:g}")
    if reference.curve:
        axes.plot(range(1, len(reference.curve) + 1), reference.curve, color="grey", label="reference curve")
    title = "bbox mAP per epoch" if len(runs) == 1 else f"bbox mAP per epoch, {len(runs)} runs"
    axes.set(xlabel="epoch", ylabel=f"{reference.metric} (AP points)", title=title)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    return _save(figure, out)


def _mean_band(axes, logs: list[ParsedLog], metric: str) -> None:
    by_epoch: dict[int, list[float]] = {}
    for log in logs:
        for e in log.evaluations:
            if metric in e.metrics:
                by_epoch.setdefault(e.epoch, []).append(e.metrics[metric])
    epochs = sorted(by_epoch)
    means = [statistics.fmean(by_epoch[e]) for e in epochs]
    spread = [statistics.stdev(by_epoch[e]) if len(by_epoch[e]) > 1 else 0.0 for e in epochs]
    axes.plot(epochs, means, color="tab:red", linewidth=2, label="mean of the runs")
    axes.fill_between(epochs, [m - s for m, s in zip(means, spread)], [m + s for m, s in zip(means, spread)],
                      color="tab:red", alpha=0.15, label="± 1 sd")


def _save(figure, out: Path) -> Path:
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)
    return out
