"""The results: `harness verify`, `report`, `compare`, `runs` and `publish`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from harness.cli import output
from harness.cli.app import app
from harness.cli.show import show_verdict
from harness.errors import BadInput
from harness.spec.choices import POLICIES

BenchmarkOfLogs = Annotated[Optional[str], typer.Option(help="Benchmark the logs belong to, when not harness runs.")]
ReferenceOption = Annotated[Optional[str], typer.Option(help="Reference name; default: the benchmark's default.")]


@app.command("verify")
def verify_command(
    paths: Annotated[Optional[list[Path]], typer.Argument(
        help="Run ids, run directories, mmengine work_dirs or logs (globs too); several are judged together. "
             "Default: the latest run.")] = None,
    benchmark: BenchmarkOfLogs = None,
    reference: ReferenceOption = None,
    tolerance: Annotated[Optional[float], typer.Option(help="Override the tolerance (AP points; a fraction if relative).")] = None,
    policy: Annotated[Optional[str], typer.Option(help=f"Override the policy: {', '.join(POLICIES)}.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    junit: Annotated[Optional[Path], typer.Option(help="Also write the verdict as JUnit XML to this file.")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Also write a markdown summary to this file.")] = None,
    group: Annotated[Optional[str], typer.Option(help="Judge the runs of this repro group together.")] = None,
):
    """Check the final bbox mAP against a reference; the exit code is the verdict.

    The markdown summary is also appended to $GITHUB_STEP_SUMMARY when that is set."""
    from harness.report import ci_outputs
    from harness.run import reconcile, repro
    from harness.spec.runspec import checked_choice
    from harness.verdict import verify

    checked_choice(policy, POLICIES, "policy")
    for path, option in ((junit, "--junit"), (markdown, "--markdown")):
        if path is not None:
            ci_outputs.writable(path, option)
    if group is not None and paths:
        raise BadInput("give runs or --group, not both")
    reconcile.given_runs(paths)
    targets = repro.group_targets(group) if group is not None else verify.load_targets(paths, benchmark)
    result = verify.judge(targets, reference, tolerance, policy)
    if junit is not None:
        ci_outputs.write_junit(result, junit)
    ci_outputs.write_markdown(result, markdown)
    if as_json:
        typer.echo(json.dumps(verify.to_json(result), indent=2))
    show_verdict(result, tables=not as_json)


@app.command("report")
def report_command(
    path: Annotated[Optional[Path], typer.Argument(help="Run id, run directory, work_dir or log; default: latest run.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="New directory for the report; default <run>/report.")] = None,
    benchmark: Annotated[Optional[str], typer.Option(help="Benchmark the log belongs to, when not a harness run.")] = None,
    reference: ReferenceOption = None,
    group: Annotated[Optional[str], typer.Option(
        help="A repro group instead of a run: every run's curve, their mean and spread, the verdict; default "
             "--out: a new report folder in the group's directory.")] = None,
):
    """Write PNG plots (loss, bbox mAP per epoch against the reference) and a markdown report."""
    from harness.report import files
    from harness.run import repro
    from harness.store import layout

    if group is not None and path is not None:
        raise BadInput("give a run or --group, not both")
    if group is not None:
        result, written = repro.write_report(layout.read_group(group), out)
    else:
        result, written = files.report_run(path, out, benchmark, reference)
    output.say(f"report written to {written / 'report.md'} ({result.verdict.value})")


@app.command("compare")
def compare_command(
    a: Annotated[Optional[Path], typer.Argument(help="Run id, run directory, work_dir or log (mmdet 2.x logs too).",
                                                show_default=False)] = None,
    b: Annotated[Optional[Path], typer.Argument(help="The run or log to compare with A.", show_default=False)] = None,
    group: Annotated[Optional[list[str]], typer.Option(
        "--group", help="Two repro groups instead of two runs: --group A --group B (A the baseline).",
        show_default=False)] = None,
    benchmark: BenchmarkOfLogs = None,
    tolerance: Annotated[Optional[float], typer.Option(help="AP points; default: the benchmark's reference tolerance.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
):
    """bbox mAP per epoch of two runs, and the first epoch where they part by more than the tolerance; of two
    bench runs, the speed-up of B over A with its 95 % interval; of two groups (--group A --group B), the
    difference of their mean bbox mAP with a Welch t-test, the throughput ratio and the environment that differs.

    Exit code 0: they never part (bench runs: always; groups: B is not significantly worse than A by more than
    the benchmark's tolerance); 1: they do (B is)."""
    from harness.logs.bench import SpeedUp
    from harness.run import repro
    from harness.verdict import compare

    if group:
        if len(group) != 2 or a is not None or b is not None or tolerance is not None:
            raise BadInput("--group takes exactly two groups (--group A --group B) and no runs or --tolerance (the "
                           "benchmark's tolerance applies)")
        _show_group_comparison(repro.compare_groups(*group), as_json)
    if a is None or b is None:
        raise BadInput("compare needs two runs (A B) or two groups (--group A --group B)")
    result = compare.compare_runs(a, b, benchmark, tolerance)
    if isinstance(result, SpeedUp):
        _show_speedup(result, as_json)
    _show_run_comparison(result, as_json)


def _show_run_comparison(result, as_json: bool) -> None:
    from harness.report import terminal

    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json") | {"unit": "AP points (0-100)"}, indent=2))
    else:
        output.console.print(terminal.comparison_table(result))
        output.console.print(terminal.comparison_finding(result), highlight=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)


def _show_group_comparison(result, as_json: bool) -> None:
    from harness.report import groups

    if as_json:
        typer.echo(json.dumps(groups.to_json(result), indent=2))
    else:
        output.console.print(groups.comparison_table(result))
        if result.differences:
            output.console.print(groups.differences_table(result))
        output.console.print(result.finding, highlight=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)


def _show_speedup(result, as_json: bool) -> None:
    from harness.report import bench_tables

    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        output.console.print(bench_tables.speedup_table(result))
        output.console.print(bench_tables.speedup_finding(result), highlight=False, soft_wrap=True)
    raise typer.Exit(0)


@app.command("runs")
def runs_command(
    benchmark: Annotated[Optional[str], typer.Option(help="Only runs of this benchmark.")] = None,
    group: Annotated[Optional[str], typer.Option(help="Only the runs of this repro group.")] = None,
    status: Annotated[Optional[str], typer.Option(help="Only runs with this status (succeeded, failed, ...).")] = None,
    platform: Annotated[Optional[str], typer.Option(help="Only runs on this platform.")] = None,
    kind: Annotated[Optional[str], typer.Option(help="Only runs of this kind: train, eval or bench.")] = None,
    wide: Annotated[bool, typer.Option("--wide", help="Also show each run's benchmark, kind, platform, GPUs, seed, "
                                                      "epochs, images/s and group.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run records as a JSON list.")] = False,
):
    """List the runs under results/ (HARNESS_RESULTS), oldest first; unreadable records with the reason.

    A running run shows where it is (epoch, share done), its last loss and evaluation, and the ETA; a run whose
    supervisor was lost is first finished from its runtime's evidence."""
    from harness.run import reconcile
    from harness.store import layout

    if group is not None:
        layout.read_group(group)  # an unknown group is an error, not an empty list
    layout.check_filters(benchmark, status, platform, kind)
    found = reconcile.runs(benchmark=benchmark, group=group, status=status, platform=platform, kind=kind)
    if as_json:
        typer.echo(json.dumps([e.record.model_dump(mode="json") if e.record else {"run_dir": str(e.path),
                                                                                  "error": e.error}
                               for e in found], indent=2))
    elif not found:
        filtered = " match" if group or benchmark or status or platform or kind else ""
        output.console.print(f"no runs under {layout.root()}/{filtered}", highlight=False)
    else:
        _show_listing(found, wide)


def _show_listing(found, wide: bool) -> None:
    """Default: fits the terminal (100 columns and up); --wide, or piped into grep or a file: each row one line,
    however wide, and piped: whole ids."""
    from harness.report import terminal
    from harness.run.live import live_status
    from harness.store import layout

    console = output.console
    live = {e.path: live_status(e.path, e.record) for e in found if e.record and e.record.status == "running"}
    piped = not console.is_terminal
    ids = {i: i for i in layout.run_ids()} if piped else layout.short_ids(layout.run_ids())
    table = terminal.runs_listing(found, live, wide, ids)
    shown = Console(width=max(console.width, terminal.natural_width(console, table))) if wide or piped else console
    shown.print(table)


@app.command("publish")
def publish_command(
    out: Annotated[Optional[Path], typer.Option(help="Directory of the site; default results/site. Publishing again "
                                                     "replaces only what an earlier publish wrote there.")] = None,
):
    """A static site of the results store: every benchmark's latest verdict per stack, a page per run and per
    group (curves, record, how to reproduce it), and a comparison of two groups. Opens from disk: no server."""
    from harness import site
    from harness.store import layout

    done = site.publish(out or layout.root() / "site")
    removed = f", {done.removed} stale file(s) removed" if done.removed else ""
    output.say(f"published {done.runs} runs and {done.groups} groups ({done.files} files{removed}) in "
               f"{done.seconds:.1f} s: {done.out / 'index.html'}")
