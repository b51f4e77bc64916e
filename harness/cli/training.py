"""`harness train`, `eval`, `bench` and `rerun`: one run each, owned by its supervisor, followed here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from harness.cli import output
from harness.cli.app import app
from harness.cli.options import DeepOption, DetachOption, DryRunOption, VerboseOption, WorkDirOption, run_options
from harness.cli.show import show_run, stop_on_sigterm

if TYPE_CHECKING:
    from harness.spec.options import RunOptions


@app.command("train")
@run_options()
def train_command(
    options: RunOptions,
    work_dir: WorkDirOption = None,
    verbose: VerboseOption = False,
    dry_run: DryRunOption = False,
    resume: Annotated[Optional[Path], typer.Option(
        help="Continue a failed, hung or interrupted run (run id or directory) from its last checkpoint, with "
             "the options it was started with (--hang-timeout, --skip-preflight and, on slurm, --time, "
             "--partition, --account and --qos may change).", show_default=False)] = None,
    deep_fingerprint: DeepOption = False,
    detach: DetachOption = False,
    group: Annotated[Optional[str], typer.Option(hidden=True, help="The repro group the run belongs to.")] = None,
):
    """Train a benchmark and store everything under results/<run-id>/.

    The run belongs to a supervisor process, not to this terminal: this command follows it, and closing the
    terminal leaves it going; Ctrl-C (or SIGTERM) stops it, resumable with --resume.
    Exit code 0 when the training finished, 1 when it diverged (or was stopped below the curve)."""
    from harness.run import pipeline

    stop_on_sigterm()
    if resume is not None:
        if work_dir is not None:
            raise typer.BadParameter("--work-dir cannot go with --resume: a run continues in its own directory")
        done = pipeline.resume(resume, options, output.console, verbose, detach)
    else:
        done = pipeline.train(pipeline.make_spec("train", options), work_dir, output.console, verbose,
                              pipeline.Lineage(group=group), deep_fingerprint, dry_run, detach)
    if done is not None:  # None: --dry-run
        show_run(done, resume or work_dir)


@app.command("eval")
@run_options(without=("seed", "epochs", "stop_below_curve"))
def eval_command(
    options: RunOptions,
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint to test (an mmengine .pth).")],
    work_dir: WorkDirOption = None,
    verbose: VerboseOption = False,
    dry_run: DryRunOption = False,
    detach: DetachOption = False,
):
    """Test a checkpoint on the benchmark's validation set and judge its bbox mAP; the exit code is the verdict.

    The run is stored like a training run (results/<run-id>-eval/, kind "eval"); `harness verify` reads it too."""
    from harness.run import pipeline

    stop_on_sigterm()
    spec = pipeline.make_spec("eval", options.adding(checkpoint=checkpoint))
    done = pipeline.train(spec, work_dir, output.console, verbose, dry_run=dry_run, detach=detach)
    if done is not None:  # None: --dry-run
        show_run(done, work_dir)


@app.command("bench")
@run_options(without=("stop_below_curve",))
def bench_command(
    options: RunOptions,
    warmup: Annotated[int, typer.Option(min=1, help="Training iterations run first and discarded.")] = 5,
    iters: Annotated[int, typer.Option(min=2, help="Training iterations timed after the warm-up.")] = 20,
    eval_images: Annotated[int, typer.Option(
        min=1, help="Validation images evaluated (the first ones); the projection scales them to the whole set.")] = 100,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs the projection is for; default: the benchmark's.")] = None,
    work_dir: WorkDirOption = None,
    verbose: VerboseOption = False,
    dry_run: DryRunOption = False,
    detach: DetachOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the bench result as one JSON object (alone on "
                                                          "stdout; the progress goes to stderr).")] = False,
):
    """Measure throughput: a short real training of the benchmark's model and pipeline, timed, and the projected
    time of its full schedule. Stored as a run of kind "bench" (results/<run-id>-bench/).

    Reports images per second (total and per GPU), seconds per iteration with its spread, the share of data
    loading, peak device memory per process, and the projection (training, evaluations, checkpoints, start-up)."""
    from harness.run import pipeline
    from harness.spec.runspec import BenchOptions

    stop_on_sigterm()
    options = options.adding(bench=BenchOptions(warmup=warmup, iters=iters, eval_images=eval_images))
    done = pipeline.train(pipeline.make_spec("bench", options), work_dir,
                          output.err_console if as_json else output.console, verbose, dry_run=dry_run, detach=detach)
    if done is not None:  # None: --dry-run
        show_run(done, work_dir, as_json)


@app.command("rerun")
def rerun_command(
    target: Annotated[Path, typer.Argument(metavar="run", help="Run id or run directory to re-create.",
                                           show_default=False)],
    allow_drift: Annotated[bool, typer.Option(
        "--allow-drift", help="Run even when the stack, image, dataset or generated config differ from the "
                              "original's; the new record lists what drifted.")] = False,
    verbose: VerboseOption = False,
    detach: DetachOption = False,
):
    """A new run from an old run's record: the same spec (seed, overrides, epochs), image or stack, and dataset.

    Refused (exit 2) when the stack, image, dataset fingerprint or generated config differ, unless --allow-drift."""
    from harness.run import pipeline

    stop_on_sigterm()
    show_run(pipeline.rerun(target, allow_drift, output.console, verbose, detach))
