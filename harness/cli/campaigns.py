"""`harness repro`: a campaign of runs, one per seed, owned by its supervisor and judged as a group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from harness.cli import output
from harness.cli.app import app
from harness.cli.options import DeepOption, DetachOption, VerboseOption, run_options
from harness.cli.show import show_campaign, stop_on_sigterm
from harness.errors import BadInput

if TYPE_CHECKING:
    from harness.spec.options import RunOptions


@app.command("repro")
@run_options()
def repro_command(
    options: RunOptions,
    runs: Annotated[Optional[int], typer.Option(help="How many runs (seeds counting up from --seed).")] = None,
    seeds: Annotated[Optional[str], typer.Option(help="The seeds, e.g. 0,1,2 (instead of --runs).")] = None,
    parallel: Annotated[int, typer.Option(help="Runs at a time; each needs --gpus devices of its own.")] = 1,
    resume: Annotated[Optional[str], typer.Option(
        help="Continue a group: resume its interrupted and hung runs and start the ones that never ran.")] = None,
    group: Annotated[Optional[str], typer.Option(
        help="Name the new group (e.g. ci-1234); default <date>-<time>-<benchmark>-x<N>.")] = None,
    verbose: VerboseOption = False,
    deep_fingerprint: DeepOption = False,
    detach: DetachOption = False,
):
    """Train the benchmark once per seed in one group, judge the group, and write its report.

    The campaign belongs to a supervisor process, not to this terminal (`harness attach GROUP`).
    The exit code is the group's verdict (multi-run rules: a run that did not finish is counted).
    Ctrl-C stops the running runs and leaves the group resumable with --resume GROUP."""
    from harness.report import terminal
    from harness.run import attach, pipeline, repro

    if resume is not None:
        if options.given() or runs is not None or seeds is not None or group is not None:
            raise typer.BadParameter("--resume GROUP takes no run options: the group continues as it was started")
        campaign = repro.current_group(resume)
        if campaign.campaign and campaign.campaign.status == "running":
            raise BadInput(f"group {resume} is running (`harness attach {resume}` follows it)")
    else:
        template = pipeline.make_spec("train", options)
        campaign = repro.start(template, repro.seeds_for(runs, seeds, template.seed), parallel, group)
    output.console.print(f"[bold]group[/] {campaign.group_id}: seeds {', '.join(map(str, campaign.seeds))}, "
                         f"{campaign.parallel} at a time", highlight=False)
    stop_on_sigterm()
    repro.launch_campaign(campaign, verbose, deep_fingerprint)
    if detach:
        output.console.print(terminal.detached_group(campaign.group_id), highlight=False, soft_wrap=True)
        return
    show_campaign(attach.campaign_ended(attach.follow_campaign(campaign.group_id, output.console, owner=True)))
