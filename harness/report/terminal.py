"""Rendering for people: Rich tables for verdicts, datasets and finished runs."""

from __future__ import annotations

from rich.table import Table

from harness.data.check import DatasetSummary
from harness.logs import BBOX_KEYS
from harness.store.record import NodePreflight, RunRecord
from harness.verdict.policy import Verdict
from harness.verdict.verify import Judgement

VERDICT_STYLE = {Verdict.PASS: "green", Verdict.IMPROVED: "green", Verdict.OUT_OF_TOLERANCE: "red",
                 Verdict.DIVERGED: "red", Verdict.FAILED: "red", Verdict.INCOMPLETE: "yellow"}


def points(value: float | None, spread: float | None = None) -> str:
    """An AP value as shown everywhere: two decimals, '-' when absent; ' ± sd' when a spread is given."""
    if value is None:
        return "-"
    return f"{value:.2f}" + (f" ± {spread:.2f}" if spread is not None else "")


def preflight_table(node: NodePreflight) -> Table:
    table = Table(title=f"preflight on {node.node} ({node.seconds:.1f} s)", title_justify="left")
    for column in ("check", "", "found", "fix"):
        table.add_column(column)
    for check in node.checks:
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[red]FAILED[/]", check.detail, check.fix)
    return table


def verdict_renderables(result: Judgement) -> list[Table]:
    tables = [metrics_table(result)] if result.evaluations else []
    if result.aggregate:
        tables.append(runs_table(result))
    return [*tables, verdict_table(result)]


def verdict_table(result: Judgement) -> Table:
    ref = result.reference
    table = Table(title=f"{result.benchmark}: bbox mAP in AP points (0-100)", title_justify="left")
    for column in ("metric", "value" if not result.aggregate else "mean", "reference", "delta", "policy", "verdict"):
        table.add_column(column)
    style = VERDICT_STYLE[result.verdict]
    tolerance = f"{result.policy} ±{result.tolerance:g}" if not (result.aggregate and result.aggregate.p_value is not None) \
        else "t-test"
    table.add_row(ref.metric, points(result.value), points(ref.value),
                  "-" if result.delta is None else f"{result.delta:+.2f}", tolerance,
                  f"[{style}]{result.verdict.value}[/]")
    return table


def runs_table(result: Judgement) -> Table:
    summary = result.aggregate
    spread = f", std {summary.std:.2f}" if summary.std is not None else ""
    table = Table(title=f"{summary.n} runs: mean {summary.mean:.2f}{spread}, min {summary.min:.2f}, "
                        f"max {summary.max:.2f} over {len(summary.used)} used", title_justify="left")
    for column in ("run", "status", "bbox_mAP"):
        table.add_column(column)
    for run in result.runs:
        table.add_row(run.source, run.status if run.status == "finished" else f"{run.status}: {run.reason}",
                      points(run.value))
    if summary.dropped:
        table.caption = "dropped: " + "; ".join(summary.dropped)
    return table


def verdict_details(result: Judgement) -> str:
    ref, provenance = result.reference, result.reference.provenance
    return "\n".join([
        f"{result.verdict.value}: {result.reason}",
        *([best_line(result)] if result.best else []),
        *([f"overrides: {' '.join(result.overrides)}"] if result.overrides else []),
        f"reference {ref.name!r}: {provenance.source}; {provenance.hardware}; {provenance.framework}",
        f"log: {result.source}",
    ])


def best_line(result: Judgement) -> str:
    metric, best, final = result.reference.metric, result.best, result.evaluations[-1]
    return (f"best {metric} {points(best.metrics[metric])} at {result.unit} {best.epoch}; the verdict judges the "
            f"final evaluation ({result.unit} {final.epoch})")


def metrics_table(result: Judgement) -> Table:
    table = Table(title="COCO bbox metrics per evaluation (AP points)", title_justify="left")
    table.add_column(result.unit, justify="right")
    for key in BBOX_KEYS:
        table.add_column(key.removeprefix("bbox_"), justify="right")
    for evaluation in result.evaluations:
        if evaluation.empty:
            table.add_row(str(evaluation.epoch), "[yellow]empty: no box above the score threshold[/]",
                          *[""] * (len(BBOX_KEYS) - 1))
        else:
            best = result.best is not None and evaluation.epoch == result.best.epoch
            table.add_row(f"{evaluation.epoch} best" if best else str(evaluation.epoch),
                          *(points(evaluation.metrics.get(k)) for k in BBOX_KEYS))
    if result.overrides:
        table.caption = f"overridden: {' '.join(result.overrides)}"
    return table


def comparison_table(result) -> Table:
    table = Table(title=f"{result.metric} per epoch (AP points)", title_justify="left")
    for column in ("epoch", "A", "B", "B - A"):
        table.add_column(column, justify="right")
    for row in result.rows:
        style = "red" if row.epoch == result.parted_at else ""
        delta = "-" if row.delta is None else f"[{style}]{row.delta:+.2f}[/]" if style else f"{row.delta:+.2f}"
        table.add_row(str(row.epoch), points(row.a), points(row.b), delta)
    return table


def comparison_finding(result) -> str:
    sources = f"A: {result.a}\nB: {result.b}"
    if result.parted_at is None:
        return f"{sources}\nthe curves never part by more than {result.tolerance:g} AP"
    row = next(r for r in result.rows if r.epoch == result.parted_at)
    return (f"{sources}\nthe curves part at epoch {result.parted_at}: B - A = {row.delta:+.2f} AP, "
            f"beyond ±{result.tolerance:g}")


def references_table(benchmarks) -> Table:
    table = Table(title="References (AP points, 0-100)", title_justify="left", show_lines=True)
    for column in ("benchmark", "reference", "value", "tolerance", "hardware", "software", "source"):
        table.add_column(column, overflow="fold")
    for bench in benchmarks:
        for ref in bench.references:
            default = " (default)" if ref.name == bench.default_reference else ""
            p = ref.provenance
            software = "; ".join(x for x in (p.sdk, p.framework) if x)
            spread = f"\nsd {ref.spread:g} over {ref.spread_runs} runs" if ref.spread else ""
            table.add_row(bench.name, ref.name + default, f"{ref.value:.1f}", f"{ref.policy} ±{ref.tolerance:g}{spread}",
                          p.hardware, software, f"{p.source}" + (f" ({p.date})" if p.date else ""))
    return table


def dataset_table(summary: DatasetSummary) -> Table:
    table = Table(title=f"{summary.path}: valid COCO 2017 layout", title_justify="left")
    deep = any(split.decoded is not None for split in summary.splits)
    for column in ("split", "images", "annotations", "categories") + (("decoded",) if deep else ()):
        table.add_column(column, justify="right" if column != "split" else "left")
    for split in summary.splits:
        decoded = (str(split.decoded),) if deep else ()
        table.add_row(split.split, str(split.images), str(split.annotations), str(split.categories), *decoded)
    return table


STATUS_STYLE = {"succeeded": "green", "failed": "red", "diverged": "red", "stopped": "red", "hung": "red",
                "interrupted": "yellow", "running": "cyan"}
WIDE_COLUMNS = ("started", "kind", "platform", "gpus", "seed", "epochs", "img/s", "group")


def runs_listing(entries, live: dict | None = None, wide: bool = False, short: dict | None = None) -> Table:
    """store.Entry rows: a record, or why it cannot be read. live: a running run's LiveStatus by its path; short:
    the shortest unique start of each run id (which every command takes), shown unless wide. The default columns
    fit a 100-column terminal; wide adds the rest of the run's spec."""
    table = Table(title="Runs (bbox mAP in AP points)", title_justify="left", box=None, pad_edge=False)
    columns = ("run", "benchmark", "status", "progress", "loss", "bbox_mAP", "eta") + (WIDE_COLUMNS if wide else ())
    for column in columns:
        table.add_column(column, no_wrap=column != "status", overflow="fold")  # status: an unreadable record's error
    for entry in entries:
        run = entry.record
        if run is None:
            table.add_row(entry.path.name, "-", f"[red]unreadable[/]: {entry.error}", *["-"] * (len(columns) - 3))
            continue
        shown = run.run_id if wide or short is None else short.get(run.run_id, run.run_id)
        table.add_row(shown, *_run_cells(run, (live or {}).get(entry.path)), *(_wide_cells(run) if wide else ()))
    return table


def _run_cells(run: RunRecord, now) -> tuple[str, ...]:
    style = STATUS_STYLE.get(run.status, "")
    status = f"[{style}]{run.status}[/]" if style else run.status
    if now is None:
        return run.benchmark, status, "-", "-", points((run.final_metrics or {}).get("bbox_mAP")), "-"
    loss = f"{now.loss:.4f}" if now.loss is not None else "-"
    return run.benchmark, status, now.progress, loss, points(now.last_map), _compact_eta(now.eta)


def _compact_eta(eta: str | None) -> str:
    """mmengine's '1 day, 2:03:04' as '1d 2:03:04'."""
    if not eta:
        return "-"
    return eta.replace(" days, ", "d ").replace(" day, ", "d ")


def _wide_cells(run: RunRecord) -> tuple[str, ...]:
    return (f"{run.started[5:10]} {run.started[11:16]}", run.kind, run.platform, str(run.gpus), str(run.seed),
            str(run.epochs), f"{run.bench.images_per_second:.2f}" if run.bench else "-", run.group or "-")


def natural_width(console, table: Table) -> int:
    """The width a table takes unsqueezed (--wide: wider than the terminal, each row still one line)."""
    from rich.measure import Measurement

    return Measurement.get(console, console.options.update(width=100_000), table).maximum


def detached(run: RunRecord, run_dir, name: str) -> str:
    """What --detach prints once the run's job has started; name: how the commands name it (its id in the store,
    else its directory)."""
    return (f"run {run.run_id} started; it goes on without this terminal\n"
            f"  follow it: harness attach {name}\n"
            f"  stop it:   harness stop {name}\n"
            f"  its supervisor's log: {run_dir / 'supervisor.log'}")


def detached_group(group_id: str) -> str:
    return (f"group {group_id} started; its campaign goes on without this terminal\n"
            f"  follow it: harness attach {group_id}\n"
            f"  stop it:   harness stop {group_id}")


def run_summary(run: RunRecord) -> str:
    metric = (run.final_metrics or {}).get("bbox_mAP")
    shown = f"final bbox_mAP {metric:.2f} AP" if metric is not None else "no final bbox_mAP"
    overridden = f"; overridden with --cfg-option {' '.join(run.spec.cfg_options)}" if run.spec.cfg_options else ""
    drift = f"; drifted from {run.rerun_of}: {'; '.join(run.drift)}" if run.drift else ""
    return f"{run.status}: {run.run_id}, {shown}{overridden}{drift}; judge it with `harness verify {run.run_id}`"
