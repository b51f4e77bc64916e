"""`harness report`: plots and a markdown report for one run, or for a repro group, written to a new directory."""

from __future__ import annotations

from pathlib import Path

from harness.errors import BadInput
from harness.logs import BBOX_KEYS
from harness.report import ci_outputs, plots
from harness.report.terminal import points
from harness.store.record import GroupRecord
from harness.verdict.verify import Judgement, Target


def report_run(path: Path | None, out: Path | None, benchmark: str | None,
               reference: str | None) -> tuple[Judgement, Path]:
    """`harness report RUN`: the run (or work_dir, or log) judged, its report written to out, by default the run's
    report/ folder."""
    from harness.store import layout
    from harness.verdict import verify

    target = verify.load_target(path, benchmark)
    result = verify.judge(target, reference)
    run_dir = layout.resolve(path)
    destination = out or (run_dir / "report" if run_dir.is_dir() else None)
    if destination is None:
        raise BadInput("a log file has no run directory to put the report in; pass --out DIR")
    return result, write_report(target, result, destination)


def write_report(target: Target, result: Judgement, out: Path) -> Path:
    _new_directory(out)
    loss = plots.loss_curve(target.log, out / "loss.png")
    curve = plots.map_curve(target.log, result.reference, out / "bbox_mAP.png")
    rows = "\n".join(f"| {e.epoch} | " + " | ".join(points(e.metrics.get(k)) for k in BBOX_KEYS) + " |"
                     for e in result.evaluations)
    text = "\n".join([
        f"# {result.benchmark}: {result.verdict.value}", "",
        ci_outputs.markdown(result).split("\n", 2)[2],  # the verdict table and reason, without its heading
        f"![bbox mAP per epoch]({curve.name})", "", f"![training loss]({loss.name})", "",
        "## COCO bbox metrics per evaluation (AP points)", "",
        "| epoch | " + " | ".join(BBOX_KEYS) + " |", "|" + " --- |" * (len(BBOX_KEYS) + 1), rows, "",
        f"Source: `{result.source}`", "",
    ])
    (out / "report.md").write_text(text)
    return out


def write_group_report(group: GroupRecord, labelled: list[tuple[str, Target]], result: Judgement, out: Path) -> Path:
    """Every run's curve over the reference band, the runs' mean and spread, the verdict."""
    _new_directory(out)
    curve = plots.map_curves([(label, t.log) for label, t in labelled], result.reference, out / "bbox_mAP.png")
    summary = result.aggregate
    spread = "" if summary is None or summary.std is None else f", sd {summary.std:.2f} (min {summary.min:.2f}, " \
                                                                f"max {summary.max:.2f})"
    rows = "\n".join(f"| {label} | {target.run_id} | {run.status} | {points(run.value)} |"
                     for (label, target), run in zip(labelled, result.runs))
    text = "\n".join([
        f"# {result.benchmark}, group {group.group_id}: {result.verdict.value}", "",
        ci_outputs.markdown(result).split("\n", 2)[2],
        f"Runs: {len(labelled)} of {len(group.seeds)} (seeds {', '.join(map(str, group.seeds))})"
        + (f"; mean {summary.mean:.2f}{spread}" if summary else ""), "",
        f"![bbox mAP per epoch, every run]({curve.name})", "",
        "| seed | run | status | bbox_mAP |", "| --- | --- | --- | --- |", rows, "",
        *[f"Warning: {warning}" for warning in result.warnings], "",
    ])
    (out / "report.md").write_text(text)
    return out


def _new_directory(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInput(f"{out} already exists and is not empty; choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot create the report directory {out}: {exc.strerror}") from exc
