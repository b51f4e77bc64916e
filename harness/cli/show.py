"""How commands end: a run's summary or verdict, a campaign's verdict, a verdict's tables; the exit code they carry."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import typer

from harness.cli import output


def show_run(run, where: Path | None = None, as_json: bool = False) -> None:
    """How train, eval, bench and attach end: the run's summary (eval: its verdict; bench: its figures), or how to
    follow a run that goes on without this terminal. where: the run as the user named it, if they did."""
    from harness.report import terminal
    from harness.store import layout

    run_dir = (layout.resolve(where) if where else layout.root() / run.run_id).resolve()
    if run.status == "running":  # --detach
        in_store = run_dir == (layout.root() / run.run_id).resolve()
        output.console.print(terminal.detached(run, run_dir, run.run_id if in_store else str(run_dir)),
                             highlight=False, soft_wrap=True)
    elif run.kind == "eval":
        from harness.verdict import verify

        show_verdict(verify.judge(verify.load_target(run_dir, None)), details=False)
    elif run.kind == "bench":
        show_bench(run, as_json)
    else:
        output.console.print(terminal.run_summary(run), highlight=False, soft_wrap=True)


def show_bench(run, as_json: bool) -> None:
    from harness.report import bench_tables

    if as_json:
        typer.echo(json.dumps({"run_id": run.run_id, **run.bench.model_dump(mode="json")}, indent=2))
    else:
        output.console.print(bench_tables.bench_table(run))
    for warning in run.bench.warnings:
        output.warn(f"warning: {warning}")


def show_campaign(group) -> None:
    """A finished campaign's report and the group's verdict (its exit code)."""
    from harness.run import repro

    result, _ = repro.judge(group)
    if group.campaign and group.campaign.report:
        output.say(f"report written to {Path(group.campaign.report) / 'report.md'}")
    show_verdict(result)


def show_verdict(result, tables: bool = True, details: bool = True) -> None:
    """The verdict's tables and details, its warnings and (when not a pass) its reason; exits with its code."""
    from harness.report import terminal

    if tables:
        for renderable in terminal.verdict_renderables(result):
            output.console.print(renderable)
        if details:
            output.say(terminal.verdict_details(result))
    if details:
        for warning in result.warnings:
            output.warn(f"warning: {warning}")
    if result.exit_code != 0:
        output.warn(f"{result.verdict.value}: {result.reason}")
    raise typer.Exit(result.exit_code)


def stop_on_sigterm() -> None:
    """SIGTERM, and SIGINT even where the launching shell ignored it (a background job of a script), stop a
    run the way Ctrl-C does: the run is recorded `interrupted` and can be resumed."""
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt
