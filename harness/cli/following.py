"""`harness attach` and `harness stop`: a run or campaign that outlives its terminal, followed or stopped from any
shell."""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli import output
from harness.cli.app import app
from harness.cli.options import VerboseOption
from harness.cli.show import show_campaign, show_run

TargetArgument = Annotated[str, typer.Argument(help="Run id, run directory, or repro group id.", show_default=False)]


@app.command("attach")
def attach_command(target: TargetArgument, verbose: VerboseOption = False):
    """Follow a running run (or repro campaign) live from any shell; Ctrl-C here only detaches.

    When it ends, or if it already has, prints its summary and exits with its exit code (as `harness train` would)."""
    from harness.run import attach, reconcile, repro

    run_dir, group_id = attach.run_or_group(target)
    try:
        if run_dir is not None:
            run = reconcile.current(run_dir)
            if run.status == "running":
                run = attach.follow(run_dir, output.console, verbose, owner=False)
            show_run(attach.ended(run, run_dir, output.console), run_dir)
            return
        group = repro.current_group(group_id)
        if group.campaign is not None and group.campaign.status == "running":
            group = attach.follow_campaign(group.group_id, output.console, owner=False)
        show_campaign(attach.campaign_ended(group))
    except attach.Detached:
        output.warn(f"detached; it goes on (harness attach {target} follows it again, harness stop {target} stops it)")


@app.command("stop")
def stop_command(target: TargetArgument):
    """Stop a running run as Ctrl-C would, from any shell: recorded interrupted, resumable with
    `harness train --resume RUN`. A repro group's running run is stopped and the group left resumable."""
    from harness.run import attach

    run_dir, group_id = attach.run_or_group(target)
    if run_dir is not None:
        run = attach.stop(run_dir)
        resumable = f"; resume it with `harness train --resume {run.run_id}`" if run.status == "interrupted" else ""
        output.say(f"{run.run_id}: {run.status}{resumable}")
        return
    attach.stop_campaign(group_id)
    output.say(f"group {group_id}: stopped; continue it with `harness repro --resume {group_id}`")
