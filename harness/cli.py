"""Thin Typer commands: parse options, call one library function, render the answer."""

from __future__ import annotations

import json
import math
import signal
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from typer.core import TyperGroup
from typer.exceptions import TyperException

# Only what every command needs is imported here; the Docker SDK, matplotlib, scipy and the
# OpenMMLab stack are imported by the commands that use them, so the CLI answers at once.
from harness.choices import PLATFORMS, POLICIES, RUNTIMES
from harness.errors import BadInput, ExitCode, HarnessError

console = Console()
err_console = Console(stderr=True)
# click's UsageError, whether typer vendors click (0.29 and later) or imports it.
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_state = {"debug": False}


class HarnessGroup(TyperGroup):
    """The single handler that turns expected failures into one line and an exit code."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent, **extra)
        except UsageError as exc:
            _usage_error(exc)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            _usage_error(exc)
        except HarnessError as exc:
            if _state["debug"]:
                raise
            err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            err_console.print("error: interrupted", markup=False)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except (typer.Exit, typer.Abort, TyperException):
            raise  # typer's own control flow and usage errors
        except Exception as exc:  # a bug: one line, the traceback only under --debug
            if _state["debug"]:
                raise
            err_console.print(f"error: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the "
                              "traceback)", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(int(ExitCode.INFRASTRUCTURE)) from None


def _usage_error(exc: UsageError):
    """click's usage errors (an unknown option, a value of the wrong type or range) as one line like the harness's
    own, with where the command's help is; exit 2. A bare group's help (no_args_is_help) stays as it is."""
    if type(exc).__name__ == "NoArgsIsHelpError" or _state["debug"]:
        raise exc
    plain = isinstance(exc, typer.BadParameter) and exc.param is None and exc.param_hint is None
    message = " ".join((exc.message if plain else exc.format_message()).split())
    where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None and not plain else ""
    err_console.print(f"error: {message}{where}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(int(ExitCode.BAD_INPUT)) from None


app = typer.Typer(cls=HarnessGroup, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  rich_markup_mode=None,  # plain help: Rich's help formatter alone costs 0.2 s of start-up
                  help="Prove RepPoints (mmdetection 3.3.0) reaches its published COCO accuracy on a hardware stack.")
dataset_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Check or generate COCO 2017-layout datasets.")
app.add_typer(dataset_app, name="dataset")


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False):
    _state["debug"] = debug


SEED_MAX = 2**32 - 1  # numpy's and mmengine's seeds are 32-bit


def _finite(value: float | None) -> float | None:
    """click's FloatRange lets nan (and inf) through: neither is a number of seconds or AP points."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


BenchmarkOption = Annotated[Optional[str], typer.Option(
    help="Benchmark spec name (configs/benchmarks/NAME.toml); default: smoke.", show_default=False)]
DataOption = Annotated[Optional[Path], typer.Option(help="COCO 2017 directory; default: the benchmark's synthetic data.")]
GpusOption = Annotated[Optional[int], typer.Option(
    help="Processes, one per GPU (CPU processes on the cpu platform); default 1.", show_default=False)]
WorkDirOption = Annotated[Optional[Path], typer.Option(help="Run directory (new or empty); default results/<run-id>.")]
PlatformOption = Annotated[Optional[str], typer.Option(help=f"One of {', '.join(PLATFORMS)}; default: detected.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Also print every line of the job's log.")]
RuntimeOption = Annotated[Optional[str], typer.Option(
    help="local (this Python environment), docker (the platform's image) or slurm (a batch job); default local.",
    show_default=False)]
NodesOption = Annotated[Optional[int], typer.Option(help="slurm: nodes; --gpus is per node. Default 1.", show_default=False)]
PartitionOption = Annotated[Optional[str], typer.Option(help="slurm: partition; default: the cluster's default.")]
TimeOption = Annotated[Optional[str], typer.Option("--time", help="slurm: time limit, e.g. 1-00:00:00.")]
AccountOption = Annotated[Optional[str], typer.Option(help="slurm: account to charge.")]
QosOption = Annotated[Optional[str], typer.Option(help="slurm: quality of service.")]
SlurmArgOption = Annotated[Optional[list[str]], typer.Option(
    "--slurm-arg", help="slurm: one more sbatch option, passed as given, e.g. --slurm-arg=--exclusive (repeatable).",
    show_default=False)]
ContainerOption = Annotated[Optional[str], typer.Option(
    help="slurm: run each node's task in the platform's image: docker (the docker options apply).")]
DryRunOption = Annotated[bool, typer.Option(
    "--dry-run", help="Check everything and print what would run (the batch script on slurm); start nothing.")]
ImageOption = Annotated[Optional[str], typer.Option(help="docker: image to run; default harness-<platform>:latest.")]
ShmOption = Annotated[Optional[str], typer.Option(
    help="docker: shared memory for the data loader workers; default 2g.", show_default=False)]
IpcHostOption = Annotated[bool, typer.Option("--ipc-host", help="docker: share the host's IPC namespace instead.")]
GpuIdsOption = Annotated[Optional[str], typer.Option(help="Explicit GPU ids, e.g. 0,1,2,3 (as many as --gpus).")]
PrivilegedOption = Annotated[bool, typer.Option("--privileged", help="docker: run the container privileged (never by default).")]
DeepOption = Annotated[bool, typer.Option(
    "--deep-fingerprint", help="Also hash every image for the run record's dataset fingerprint (slower; with progress).")]
StopBelowCurveOption = Annotated[Optional[float], typer.Option(
    min=0, callback=_finite, help="Stop a run whose bbox mAP is this many AP points under the reference's per-epoch curve at two "
         "evaluations in a row (off by default).", show_default=False)]
SkipPreflightOption = Annotated[bool, typer.Option(
    "--skip-preflight", help="Start the training without the preflight (stack, mmcv ops on the device, devices, "
                             "/dev/shm, rendezvous port); the run records that it was skipped.")]
HangTimeoutOption = Annotated[Optional[float], typer.Option(
    min=0, callback=_finite, help="Seconds without training or evaluation progress after which the run is stopped as hung; default: "
         "the larger of 15 min and 30 x the median gap between progress lines; 0: off.", show_default=False)]
SeedOption = Annotated[Optional[int], typer.Option(
    min=0, max=SEED_MAX, help="randomness.seed for mmengine (0 to 2**32-1); default 0.", show_default=False)]
EpochsOption = Annotated[Optional[int], typer.Option(help="Override the benchmark's epoch count.")]
DetachOption = Annotated[bool, typer.Option(
    "--detach", help="Start the run, print its id and how to follow and stop it, and exit 0 once its job has "
                     "started; the run goes on without this terminal (`harness attach`, `harness stop`).")]
CfgOption = Annotated[Optional[list[str]], typer.Option(
    "--cfg-option", help="KEY=VALUE merged into the run's mmengine config, as mmdet's --cfg-options (repeatable); "
                         "the verdict marks the run as overridden.", show_default=False)]


@app.command()
def train(
    benchmark: BenchmarkOption = None,
    data: DataOption = None,
    gpus: GpusOption = None,
    seed: SeedOption = None,
    epochs: EpochsOption = None,
    work_dir: WorkDirOption = None,
    platform: PlatformOption = None,
    verbose: VerboseOption = False,
    runtime: RuntimeOption = None,
    image: ImageOption = None,
    shm_size: ShmOption = None,
    ipc_host: IpcHostOption = False,
    gpu_ids: GpuIdsOption = None,
    privileged: PrivilegedOption = False,
    cfg_option: CfgOption = None,
    stop_below_curve: StopBelowCurveOption = None,
    hang_timeout: HangTimeoutOption = None,
    skip_preflight: SkipPreflightOption = False,
    nodes: NodesOption = None,
    partition: PartitionOption = None,
    time_limit: TimeOption = None,
    account: AccountOption = None,
    qos: QosOption = None,
    slurm_arg: SlurmArgOption = None,
    container: ContainerOption = None,
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
    from harness import pipeline

    given = _given(benchmark=benchmark, data=data, gpus=gpus, seed=seed, epochs=epochs, platform=platform,
                   runtime=runtime, image=image, shm_size=shm_size, ipc_host=ipc_host, gpu_ids=_ids(gpu_ids),
                   privileged=privileged, cfg_options=cfg_option, stop_below_curve=stop_below_curve,
                   hang_timeout=hang_timeout, skip_preflight=skip_preflight,
                   **_slurm_given(nodes, partition, time_limit, account, qos, slurm_arg, container))
    _on_sigterm_interrupt()
    if resume is not None:
        if work_dir is not None:
            raise typer.BadParameter("--work-dir cannot go with --resume: a run continues in its own directory")
        done = pipeline.resume(resume, given, console, verbose, detach)
    else:
        done = pipeline.train(_spec("train", given), work_dir, console, verbose, pipeline.Lineage(group=group),
                              deep_fingerprint, dry_run, detach)
    if done is not None:  # None: --dry-run
        _show_run(done, resume or work_dir)


@app.command()
def rerun(
    run: Annotated[Path, typer.Argument(help="Run id or run directory to re-create.")],
    allow_drift: Annotated[bool, typer.Option(
        "--allow-drift", help="Run even when the stack, image, dataset or generated config differ from the "
                              "original's; the new record lists what drifted.")] = False,
    verbose: VerboseOption = False,
    detach: DetachOption = False,
):
    """A new run from an old run's record: the same spec (seed, overrides, epochs), image or stack, and dataset.

    Refused (exit 2) when the stack, image, dataset fingerprint or generated config differ, unless --allow-drift."""
    from harness import pipeline

    _on_sigterm_interrupt()
    _show_run(pipeline.rerun(run, allow_drift, console, verbose, detach))


@app.command("repro")
def repro_command(
    benchmark: BenchmarkOption = None,
    runs: Annotated[Optional[int], typer.Option(help="How many runs (seeds counting up from --seed).")] = None,
    seeds: Annotated[Optional[str], typer.Option(help="The seeds, e.g. 0,1,2 (instead of --runs).")] = None,
    parallel: Annotated[int, typer.Option(help="Runs at a time; each needs --gpus devices of its own.")] = 1,
    resume: Annotated[Optional[str], typer.Option(
        help="Continue a group: resume its interrupted and hung runs and start the ones that never ran.")] = None,
    group: Annotated[Optional[str], typer.Option(
        help="Name the new group (e.g. ci-1234); default <date>-<time>-<benchmark>-x<N>.")] = None,
    data: DataOption = None,
    gpus: GpusOption = None,
    seed: SeedOption = None,
    epochs: EpochsOption = None,
    platform: PlatformOption = None,
    verbose: VerboseOption = False,
    runtime: RuntimeOption = None,
    image: ImageOption = None,
    shm_size: ShmOption = None,
    ipc_host: IpcHostOption = False,
    gpu_ids: GpuIdsOption = None,
    privileged: PrivilegedOption = False,
    cfg_option: CfgOption = None,
    stop_below_curve: StopBelowCurveOption = None,
    hang_timeout: HangTimeoutOption = None,
    skip_preflight: SkipPreflightOption = False,
    nodes: NodesOption = None,
    partition: PartitionOption = None,
    time_limit: TimeOption = None,
    account: AccountOption = None,
    qos: QosOption = None,
    slurm_arg: SlurmArgOption = None,
    container: ContainerOption = None,
    deep_fingerprint: DeepOption = False,
    detach: DetachOption = False,
):
    """Train the benchmark once per seed in one group, judge the group, and write its report.

    The campaign belongs to a supervisor process, not to this terminal (`harness attach GROUP`).
    The exit code is the group's verdict (multi-run rules: a run that did not finish is counted).
    Ctrl-C stops the running runs and leaves the group resumable with --resume GROUP."""
    from harness import attach as attaching, repro, report

    given = _given(benchmark=benchmark, data=data, gpus=gpus, seed=seed, epochs=epochs, platform=platform,
                   runtime=runtime, image=image, shm_size=shm_size, ipc_host=ipc_host, gpu_ids=_ids(gpu_ids),
                   privileged=privileged, cfg_options=cfg_option, stop_below_curve=stop_below_curve,
                   hang_timeout=hang_timeout, skip_preflight=skip_preflight,
                   **_slurm_given(nodes, partition, time_limit, account, qos, slurm_arg, container))
    if resume is not None:
        if given or runs is not None or seeds is not None or group is not None:
            raise typer.BadParameter("--resume GROUP takes no run options: the group continues as it was started")
        campaign = repro.current_group(resume)
        if campaign.campaign and campaign.campaign.status == "running":
            raise BadInput(f"group {resume} is running (`harness attach {resume}` follows it)")
    else:
        template = _spec("train", given)
        campaign = repro.start(template, repro.seeds_for(runs, seeds, template.seed), parallel, group)
    console.print(f"[bold]group[/] {campaign.group_id}: seeds {', '.join(map(str, campaign.seeds))}, "
                  f"{campaign.parallel} at a time", highlight=False)
    _on_sigterm_interrupt()
    repro.launch_campaign(campaign, verbose, deep_fingerprint)
    if detach:
        console.print(report.detached_group(campaign.group_id), highlight=False, soft_wrap=True)
        return
    _show_campaign(attaching.campaign_ended(attaching.follow_campaign(campaign.group_id, console, owner=True)))


def _show_campaign(group) -> None:
    """A finished campaign's report and the group's verdict (its exit code)."""
    from harness import repro

    result, _ = repro.judge(group)
    if group.campaign and group.campaign.report:
        console.print(f"report written to {Path(group.campaign.report) / 'report.md'}", highlight=False,
                      soft_wrap=True)
    _show_verdict(result)


@app.command("eval")
def eval_command(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint to test (an mmengine .pth).")],
    benchmark: BenchmarkOption = None,
    data: DataOption = None,
    gpus: GpusOption = None,
    work_dir: WorkDirOption = None,
    platform: PlatformOption = None,
    verbose: VerboseOption = False,
    runtime: RuntimeOption = None,
    image: ImageOption = None,
    shm_size: ShmOption = None,
    ipc_host: IpcHostOption = False,
    gpu_ids: GpuIdsOption = None,
    privileged: PrivilegedOption = False,
    cfg_option: CfgOption = None,
    hang_timeout: HangTimeoutOption = None,
    skip_preflight: SkipPreflightOption = False,
    nodes: NodesOption = None,
    partition: PartitionOption = None,
    time_limit: TimeOption = None,
    account: AccountOption = None,
    qos: QosOption = None,
    slurm_arg: SlurmArgOption = None,
    container: ContainerOption = None,
    dry_run: DryRunOption = False,
    detach: DetachOption = False,
):
    """Test a checkpoint on the benchmark's validation set and judge its bbox mAP; the exit code is the verdict.

    The run is stored like a training run (results/<run-id>-eval/, kind "eval"); `harness verify` reads it too."""
    from harness import pipeline

    given = _given(benchmark=benchmark, data=data, gpus=gpus, platform=platform, runtime=runtime, image=image,
                   shm_size=shm_size, ipc_host=ipc_host, gpu_ids=_ids(gpu_ids), privileged=privileged,
                   cfg_options=cfg_option, checkpoint=str(checkpoint.resolve()), hang_timeout=hang_timeout,
                   skip_preflight=skip_preflight,
                   **_slurm_given(nodes, partition, time_limit, account, qos, slurm_arg, container))
    _on_sigterm_interrupt()
    done = pipeline.train(_spec("eval", given), work_dir, console, verbose, dry_run=dry_run, detach=detach)
    if done is not None:  # None: --dry-run
        _show_run(done, work_dir)


@app.command("bench")
def bench_command(
    benchmark: BenchmarkOption = None,
    warmup: Annotated[int, typer.Option(min=1, help="Training iterations run first and discarded.")] = 5,
    iters: Annotated[int, typer.Option(min=2, help="Training iterations timed after the warm-up.")] = 20,
    eval_images: Annotated[int, typer.Option(
        min=1, help="Validation images evaluated (the first ones); the projection scales them to the whole set.")] = 100,
    data: DataOption = None,
    gpus: GpusOption = None,
    seed: SeedOption = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs the projection is for; default: the benchmark's.")] = None,
    work_dir: WorkDirOption = None,
    platform: PlatformOption = None,
    verbose: VerboseOption = False,
    runtime: RuntimeOption = None,
    image: ImageOption = None,
    shm_size: ShmOption = None,
    ipc_host: IpcHostOption = False,
    gpu_ids: GpuIdsOption = None,
    privileged: PrivilegedOption = False,
    cfg_option: CfgOption = None,
    hang_timeout: HangTimeoutOption = None,
    skip_preflight: SkipPreflightOption = False,
    nodes: NodesOption = None,
    partition: PartitionOption = None,
    time_limit: TimeOption = None,
    account: AccountOption = None,
    qos: QosOption = None,
    slurm_arg: SlurmArgOption = None,
    container: ContainerOption = None,
    dry_run: DryRunOption = False,
    detach: DetachOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the bench result as one JSON object (alone on "
                                                          "stdout; the progress goes to stderr).")] = False,
):
    """Measure throughput: a short real training of the benchmark's model and pipeline, timed, and the projected
    time of its full schedule. Stored as a run of kind "bench" (results/<run-id>-bench/).

    Reports images per second (total and per GPU), seconds per iteration with its spread, the share of data
    loading, peak device memory per process, and the projection (training, evaluations, checkpoints, start-up)."""
    from harness import pipeline
    from harness.runspec import BenchOptions

    given = _given(benchmark=benchmark, data=data, gpus=gpus, seed=seed, epochs=epochs, platform=platform,
                   runtime=runtime, image=image, shm_size=shm_size, ipc_host=ipc_host, gpu_ids=_ids(gpu_ids),
                   privileged=privileged, cfg_options=cfg_option, hang_timeout=hang_timeout,
                   skip_preflight=skip_preflight,
                   **_slurm_given(nodes, partition, time_limit, account, qos, slurm_arg, container))
    given["bench"] = BenchOptions(warmup=warmup, iters=iters, eval_images=eval_images)
    _on_sigterm_interrupt()
    done = pipeline.train(_spec("bench", given), work_dir, err_console if as_json else console, verbose,
                          dry_run=dry_run, detach=detach)
    if done is not None:  # None: --dry-run
        _show_run(done, work_dir, as_json)


def _show_run(run, where: Path | None = None, as_json: bool = False) -> None:
    """How train, eval, bench and attach end: the run's summary (eval: its verdict; bench: its figures), or how to
    follow a run that goes on without this terminal. where: the run as the user named it, if they did."""
    from harness import report, store

    run_dir = (store.resolve(where) if where else store.root() / run.run_id).resolve()
    if run.status == "running":  # --detach
        in_store = run_dir == (store.root() / run.run_id).resolve()
        console.print(report.detached(run, run_dir, run.run_id if in_store else str(run_dir)), highlight=False,
                      soft_wrap=True)
    elif run.kind == "eval":
        from harness import verify as verification

        result = verification.judge(verification.load_target(run_dir, None))
        for renderable in report.verdict_renderables(result):
            console.print(renderable)
        if result.exit_code != 0:
            err_console.print(f"{result.verdict.value}: {result.reason}", markup=False, highlight=False,
                              soft_wrap=True)
        raise typer.Exit(result.exit_code)
    elif run.kind == "bench":
        _show_bench(run, as_json)
    else:
        console.print(report.run_summary(run), highlight=False, soft_wrap=True)


def _show_bench(run, as_json: bool) -> None:
    from harness import report_bench

    if as_json:
        typer.echo(json.dumps({"run_id": run.run_id, **run.bench.model_dump(mode="json")}, indent=2))
    else:
        console.print(report_bench.bench_table(run))
    for warning in run.bench.warnings:
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)


def _given(**options) -> dict:
    """The options the user typed: None (and an unset flag) means 'not given'."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if v is not None and v is not False}


def _slurm_given(nodes, partition, time_limit, account, qos, slurm_arg, container) -> dict:
    if container not in (None, "docker"):
        raise typer.BadParameter(f"--container {container!r}: the one container runtime is docker")
    return _given(nodes=nodes, partition=partition, time=time_limit, account=account, qos=qos, extra_args=slurm_arg,
                  container=container)


def _ids(gpu_ids: str | None) -> tuple[str, ...] | None:
    """--gpu-ids 0,1,2,3: device indices, each once (CUDA_VISIBLE_DEVICES and docker's device_ids take them)."""
    if gpu_ids is None:
        return None
    ids = tuple(part.strip() for part in gpu_ids.split(","))
    if not all(part.isdigit() for part in ids) or len(set(map(int, ids))) != len(ids):
        raise BadInput(f"--gpu-ids {gpu_ids!r}: give distinct GPU indices separated by commas, e.g. 0,1,2,3")
    return tuple(str(int(part)) for part in ids)


def _spec(kind: str, given: dict):
    from harness import pipeline
    from harness.runspec import DockerOptions, SlurmOptions, checked_choice

    checked_choice(given.get("platform"), PLATFORMS, "platform")
    checked_choice(given.get("runtime"), RUNTIMES, "runtime")
    docker_keys = ("image", "shm_size", "ipc_host", "privileged")
    docker = DockerOptions(**{k: given.pop(k) for k in docker_keys if k in given})
    slurm = SlurmOptions(**{k: given.pop(k) for k in tuple(SlurmOptions.model_fields) if k in given})
    if given.get("runtime") != "slurm" and slurm != SlurmOptions():
        raise typer.BadParameter("--nodes, --partition, --time, --account, --qos, --slurm-arg and --container go "
                                 "with --runtime slurm")
    return pipeline.make_spec(kind=kind, docker=docker, slurm=slurm, **given)


def _on_sigterm_interrupt() -> None:
    """SIGTERM, and SIGINT even where the launching shell ignored it (a background job of a script), stop a
    run the way Ctrl-C does: the run is recorded `interrupted` and can be resumed."""
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


@app.command()
def verify(
    paths: Annotated[Optional[list[Path]], typer.Argument(
        help="Run ids, run directories, mmengine work_dirs or logs (globs too); several are judged together. "
             "Default: the latest run.")] = None,
    benchmark: Annotated[Optional[str], typer.Option(help="Benchmark the logs belong to, when not harness runs.")] = None,
    reference: Annotated[Optional[str], typer.Option(help="Reference name; default: the benchmark's default.")] = None,
    tolerance: Annotated[Optional[float], typer.Option(help="Override the tolerance (AP points; a fraction if relative).")] = None,
    policy: Annotated[Optional[str], typer.Option(help=f"Override the policy: {', '.join(POLICIES)}.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    junit: Annotated[Optional[Path], typer.Option(help="Also write the verdict as JUnit XML to this file.")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Also write a markdown summary to this file.")] = None,
    group: Annotated[Optional[str], typer.Option(help="Judge the runs of this repro group together.")] = None,
):
    """Check the final bbox mAP against a reference; the exit code is the verdict.

    The markdown summary is also appended to $GITHUB_STEP_SUMMARY when that is set."""
    from harness import ci_outputs, verify as verification

    if policy is not None and policy not in POLICIES:
        raise typer.BadParameter(f"unknown policy {policy!r} (one of {', '.join(POLICIES)})")
    for path, option in ((junit, "--junit"), (markdown, "--markdown")):
        if path is not None:
            ci_outputs.writable(path, option)
    if group is not None and paths:
        raise typer.BadParameter("give runs or --group, not both")
    _reconcile_paths(paths)
    targets = _group_targets(group) if group is not None else verification.load_targets(paths, benchmark)
    result = verification.judge(targets, reference, tolerance, policy)
    if junit is not None:
        ci_outputs.write_junit(result, junit)
    ci_outputs.write_markdown(result, markdown)
    if as_json:
        typer.echo(json.dumps(verification.to_json(result), indent=2))
    _show_verdict(result, tables=not as_json)


def _reconcile_paths(paths: list[Path] | None) -> None:
    """A run given to verify is reconciled first (a lost supervisor's run is judged by how it really ended)."""
    from harness import reconcile, store, verify as verification

    for path in verification.expand(paths):
        try:
            run_dir = store.resolve(path)
        except BadInput:  # no run at all: judging it says so
            continue
        if store.is_run(run_dir):
            reconcile.current(run_dir)


def _group_targets(group: str) -> list:
    from harness import reconcile, repro, store

    reconcile.runs(group=group)
    return [target for _, target in repro.labelled_targets(store.read_group(group))]


def _show_verdict(result, tables: bool = True) -> None:
    """The verdict's tables and details, its warnings and (when not a pass) its reason; exits with its code."""
    from harness import report

    if tables:
        for renderable in report.verdict_renderables(result):
            console.print(renderable)
        console.print(report.verdict_details(result), markup=False, highlight=False, soft_wrap=True)
    for warning in result.warnings:
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if result.exit_code != 0:
        err_console.print(f"{result.verdict.value}: {result.reason}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)


@app.command("report")
def report_command(
    path: Annotated[Optional[Path], typer.Argument(help="Run id, run directory, work_dir or log; default: latest run.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="New directory for the report; default <run>/report.")] = None,
    benchmark: Annotated[Optional[str], typer.Option(help="Benchmark the log belongs to, when not a harness run.")] = None,
    reference: Annotated[Optional[str], typer.Option(help="Reference name; default: the benchmark's default.")] = None,
    group: Annotated[Optional[str], typer.Option(
        help="A repro group instead of a run: every run's curve, their mean and spread, the verdict; default "
             "--out: a new report folder in the group's directory.")] = None,
):
    """Write PNG plots (loss, bbox mAP per epoch against the reference) and a markdown report."""
    from harness import store, verify as verification

    from harness import report_files

    if group is not None:
        from harness import repro

        if path is not None:
            raise typer.BadParameter("give a run or --group, not both")
        result, written = repro.write_report(store.read_group(group), out)
        console.print(f"report written to {written / 'report.md'} ({result.verdict.value})", highlight=False,
                      soft_wrap=True)
        return
    target = verification.load_target(path, benchmark)
    result = verification.judge(target, reference)
    run = store.resolve(path)
    destination = out or (run / "report" if run.is_dir() else None)
    if destination is None:
        raise typer.BadParameter("a log file has no run directory to put the report in; pass --out DIR")
    written = report_files.write_report(target, result, destination)
    console.print(f"report written to {written / 'report.md'} ({result.verdict.value})", highlight=False, soft_wrap=True)


@app.command("compare")
def compare_command(
    a: Annotated[Optional[Path], typer.Argument(help="Run id, run directory, work_dir or log (mmdet 2.x logs too).",
                                                show_default=False)] = None,
    b: Annotated[Optional[Path], typer.Argument(help="The run or log to compare with A.", show_default=False)] = None,
    group: Annotated[Optional[list[str]], typer.Option(
        "--group", help="Two repro groups instead of two runs: --group A --group B (A the baseline).",
        show_default=False)] = None,
    benchmark: Annotated[Optional[str], typer.Option(help="Benchmark the logs belong to, when not harness runs.")] = None,
    tolerance: Annotated[Optional[float], typer.Option(help="AP points; default: the benchmark's reference tolerance.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
):
    """bbox mAP per epoch of two runs, and the first epoch where they part by more than the tolerance; of two
    bench runs, the speed-up of B over A with its 95 % interval; of two groups (--group A --group B), the
    difference of their mean bbox mAP with a Welch t-test, the throughput ratio and the environment that differs.

    Exit code 0: they never part (bench runs: always; groups: B is not significantly worse than A by more than
    the benchmark's tolerance); 1: they do (B is)."""
    from harness import compare as comparison, report, verify as verification
    from harness.policy import checked_tolerance

    if group:
        _compare_groups(group, a, b, tolerance, as_json)
    if a is None or b is None:
        raise BadInput("compare needs two runs (A B) or two groups (--group A --group B)")
    benches = comparison.bench_runs(a, b)
    if benches is not None:
        _compare_benches(*benches, as_json)
    (first, bench_a), (second, bench_b) = (verification.load_log(p, benchmark) for p in (a, b))
    known = bench_a or bench_b
    if tolerance is None and known is None:
        raise typer.BadParameter("neither side names its benchmark: pass --tolerance or --benchmark")
    limit = checked_tolerance(tolerance if tolerance is not None else known.reference().tolerance)
    result = comparison.compare_logs(first, second, limit)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json") | {"unit": "AP points (0-100)"}, indent=2))
    else:
        console.print(report.comparison_table(result))
        console.print(report.comparison_finding(result), highlight=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)


def _compare_groups(groups: list[str], a, b, tolerance, as_json: bool) -> None:
    from harness import group_compare, report_groups

    if len(groups) != 2 or a is not None or b is not None or tolerance is not None:
        raise BadInput("--group takes exactly two groups (--group A --group B) and no runs or --tolerance (the "
                       "benchmark's tolerance applies)")
    result = group_compare.compare(*groups)
    if as_json:
        typer.echo(json.dumps(report_groups.to_json(result), indent=2))
    else:
        console.print(report_groups.comparison_table(result))
        if result.differences:
            console.print(report_groups.differences_table(result))
        console.print(result.finding, highlight=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)


def _compare_benches(a, b, as_json: bool) -> None:
    from harness import bench, report_bench

    result = bench.speedup(a.run_id, a.bench, b.run_id, b.bench)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        console.print(report_bench.speedup_table(result))
        console.print(report_bench.speedup_finding(result), highlight=False, soft_wrap=True)
    raise typer.Exit(0)


@app.command()
def runs(
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
    from harness import reconcile, report, store
    from harness.live import live_status

    if group is not None:
        store.read_group(group)  # an unknown group is an error, not an empty list
    _known_filters(benchmark, status, platform, kind)
    found = reconcile.runs(benchmark=benchmark, group=group, status=status, platform=platform, kind=kind)
    if as_json:
        typer.echo(json.dumps([e.record.model_dump(mode="json") if e.record else {"run_dir": str(e.path),
                                                                                  "error": e.error}
                               for e in found], indent=2))
    elif not found:
        console.print(f"no runs under {store.root()}/" + (" match" if group or benchmark or status or platform or kind
                                                           else ""), highlight=False)
    else:
        live = {e.path: live_status(e.path, e.record) for e in found if e.record and e.record.status == "running"}
        piped = not console.is_terminal  # into grep or a file: whole ids, each row one line
        ids = {i: i for i in store.run_ids()} if piped else store.short_ids(store.run_ids())
        table = report.runs_listing(found, live, wide, ids)
        whole = wide or piped
        shown = Console(width=max(console.width, report.natural_width(console, table))) if whole else console
        shown.print(table)  # default: fits the terminal (100 columns and up); --wide: each row one line, however wide


def _known_filters(benchmark: str | None, status: str | None, platform: str | None, kind: str | None) -> None:
    """A misspelt filter value is an error, not an empty list: the values a record can hold, and the benchmarks
    configured here or named by a stored run."""
    from typing import get_args

    from harness import spec, store
    from harness.record import Status
    from harness.runspec import RunSpec, checked_choice

    checked_choice(status, get_args(Status), "status")
    checked_choice(platform, PLATFORMS, "platform")
    checked_choice(kind, get_args(RunSpec.model_fields["kind"].annotation), "kind")
    if benchmark is not None and benchmark not in spec.benchmarks():
        stored = sorted({e.record.benchmark for e in store.runs() if e.record})
        checked_choice(benchmark, tuple(sorted(spec.benchmarks())) + tuple(b for b in stored
                                                                        if b not in spec.benchmarks()), "benchmark")


@app.command("attach")
def attach_command(
    target: Annotated[str, typer.Argument(help="Run id, run directory, or repro group id.", show_default=False)],
    verbose: VerboseOption = False,
):
    """Follow a running run (or repro campaign) live from any shell; Ctrl-C here only detaches.

    When it ends, or if it already has, prints its summary and exits with its exit code (as `harness train` would)."""
    from harness import attach as attaching, reconcile, repro

    run_dir, group_id = _run_or_group(target)
    try:
        if run_dir is not None:
            run = reconcile.current(run_dir)
            if run.status == "running":
                run = attaching.follow(run_dir, console, verbose, owner=False)
            _show_run(attaching.ended(run, run_dir, console), run_dir)
            return
        group = repro.current_group(group_id)
        if group.campaign is not None and group.campaign.status == "running":
            group = attaching.follow_campaign(group.group_id, console, owner=False)
        _show_campaign(attaching.campaign_ended(group))
    except attaching.Detached:
        err_console.print(f"detached; it goes on (harness attach {target} follows it again, harness stop {target} "
                          "stops it)", markup=False, highlight=False, soft_wrap=True)


@app.command("stop")
def stop_command(
    target: Annotated[str, typer.Argument(help="Run id, run directory, or repro group id.", show_default=False)],
):
    """Stop a running run as Ctrl-C would, from any shell: recorded interrupted, resumable with
    `harness train --resume RUN`. A repro group's running run is stopped and the group left resumable."""
    from harness import attach as attaching

    run_dir, group_id = _run_or_group(target)
    if run_dir is not None:
        run = attaching.stop(run_dir)
        console.print(f"{run.run_id}: {run.status}" + (f"; resume it with `harness train --resume {run.run_id}`"
                                                      if run.status == "interrupted" else ""), highlight=False,
                      soft_wrap=True)
        return
    attaching.stop_campaign(group_id)
    console.print(f"group {group_id}: stopped; continue it with `harness repro --resume {group_id}`",
                  highlight=False, soft_wrap=True)


def _run_or_group(target: str) -> tuple[Path | None, str | None]:
    """A run (a directory, a run id) first, then a repro group of that name, then a run id's unique start."""
    from harness import store

    given = Path(target)
    exact = given if given.exists() else store.root() / given
    if store.is_run(exact):
        return exact, None
    if len(given.parts) == 1 and (store.group_dir(target) / store.GROUP_RECORD).is_file():
        return None, target
    run_dir = store.resolve(given)
    if store.is_run(run_dir):
        return run_dir, None
    raise BadInput(f"{target}: no run or repro group of that name under {store.root()} (pass a run id, a run "
                   "directory or a group id)")


@app.command()
def publish(
    out: Annotated[Optional[Path], typer.Option(help="Directory of the site; default results/site. Publishing again "
                                                     "replaces only what an earlier publish wrote there.")] = None,
):
    """A static site of the results store: every benchmark's latest verdict per stack, a page per run and per
    group (curves, record, how to reproduce it), and a comparison of two groups. Opens from disk: no server."""
    from harness import site, store

    done = site.publish(out or store.root() / "site")
    removed = f", {done.removed} stale file(s) removed" if done.removed else ""
    console.print(f"published {done.runs} runs and {done.groups} groups ({done.files} files{removed}) in "
                  f"{done.seconds:.1f} s: {done.out / 'index.html'}", highlight=False, soft_wrap=True)


@app.command()
def build(
    platform: Annotated[str, typer.Option(help=f"One of {', '.join(PLATFORMS)}.")] = "cpu",
    base_image: Annotated[Optional[str], typer.Option(help="Base image; default: the platform's (configs/platforms/).")] = None,
    wheelhouse: Annotated[Optional[Path], typer.Option(help="Folder with the wheels the platform needs (torch/mmcv).")] = None,
    tag: Annotated[Optional[list[str]], typer.Option(help="Extra tag for the image (repeatable).")] = None,
    weights: Annotated[Optional[list[Path]], typer.Option(help="Checkpoint to pre-seed into the torch hub cache, "
                                                                "e.g. resnet101-63fe2227.pth (repeatable).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rebuild every layer.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every line of the build output.")] = False,
):
    """Build the platform's image from docker/ on the Docker engine, tagged by the hash of its content."""
    from harness import build as building, images as image_listing

    options = building.BuildOptions(platform=platform, base_image=base_image, wheelhouse=wheelhouse,
                                    tags=tuple(tag or ()), weights=tuple(weights or ()), no_cache=no_cache,
                                    verbose=verbose)
    console.print(image_listing.build_summary(building.build(options, console)), highlight=False, soft_wrap=True)


@app.command()
def images(as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False):
    """List the images `harness build` made: platform, pinned versions, size and age."""
    from harness import images as image_listing

    found = image_listing.built_images()
    if as_json:
        typer.echo(json.dumps([image_listing.to_json(i) for i in found], indent=2))
    elif not found:
        console.print("no images built by harness in this engine (run `harness build`)", highlight=False)
    else:
        console.print(image_listing.images_table(found))


@app.command()
def doctor(
    platform: Annotated[Optional[str], typer.Option(help=f"One of {', '.join(PLATFORMS)}; default: detected.")] = None,
    gpus: Annotated[int, typer.Option(min=1, help="GPUs the run will ask for.")] = 1,
    data: Annotated[Optional[Path], typer.Option(help="COCO 2017 directory the run will use.")] = None,
    min_free_gb: Annotated[float, typer.Option(help="Free disk needed under results/, GiB.")] = 10.0,
    runtime: Annotated[str, typer.Option(help="docker (engine, image, GPUs through it, the preflight in the image), "
                                              "local (the preflight in this Python environment) or slurm "
                                              "(controller, partition, nodes, shared run directory).")] = "docker",
    nodes: Annotated[int, typer.Option(min=1, help="slurm: nodes the run will ask for.")] = 1,
    partition: PartitionOption = None,
):
    """Check what a run needs: engine, image, GPUs through the engine, dataset, disk, shared memory and the
    run's preflight in the image (with --runtime local: in this environment); or, with --runtime slurm, the
    controller, the partition, its nodes and GPUs, and a shared run directory.

    Exit code 0 when every check is ok, 3 when one fails."""
    from harness.host import detect_platform

    from harness import doctor as doctoring
    from harness.report import preflight_table
    from harness.runspec import checked_choice

    if platform is not None and platform not in PLATFORMS:
        raise typer.BadParameter(f"unknown platform {platform!r} (one of {', '.join(PLATFORMS)})")
    checked_choice(runtime, RUNTIMES, "runtime")
    options = doctoring.DoctorOptions(platform=platform or detect_platform(), gpus=gpus, data=data,
                                      min_free_gb=min_free_gb, nodes=nodes, partition=partition)
    diagnose = {"slurm": lambda o: (doctoring.diagnose_slurm(o), None), "local": doctoring.diagnose_local,
                "docker": doctoring.diagnose}[runtime]
    checks, preflight = diagnose(options)
    console.print(doctoring.table(checks))
    if preflight is not None:
        console.print(preflight_table(preflight))
    failed = [c.name for c in checks if not c.ok]
    if failed:
        err_console.print(f"error: not ready: {', '.join(failed)}", markup=False, highlight=False)
        raise typer.Exit(int(ExitCode.INFRASTRUCTURE))


@app.command()
def references():
    """List every benchmark's references with their provenance."""
    from harness import report, spec

    console.print(report.references_table(spec.benchmarks().values()))


@dataset_app.command("check")
def dataset_check_command(
    path: Annotated[Path, typer.Argument(help="COCO 2017 directory.")],
    benchmark: Annotated[Optional[str], typer.Option(
        help="Also check what this benchmark needs (the COCO benchmark: COCO's 80 category ids and names).")] = None,
    deep: Annotated[bool, typer.Option("--deep", help="Also open and decode every image, in parallel: a truncated "
                                                      "or non-image file, or a size unlike its annotation's, is named.")]
    = False,
):
    """Validate a COCO 2017 layout and what the training needs: files present, unique image and annotation ids,
    boxes with positive size inside their image, known category ids, iscrowd 0/1.

    Exit code 0: valid (warnings, such as zero-size boxes mmdet skips, are printed); 2: the first problem named,
    the rest counted by kind."""
    from harness import dataset as dataset_check, report, spec
    from harness.progress import StepBars

    expected = spec.benchmark(benchmark).expected_categories if benchmark else None
    summary = dataset_check.check_dataset(path, expected, deep, StepBars(err_console))
    console.print(report.dataset_table(summary))
    for warning in summary.warnings:
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)


@dataset_app.command("synth")
def dataset_synth_command(
    out: Annotated[Path, typer.Argument(help="New directory to write.")],
    train: Annotated[int, typer.Option(min=1, help="Training images.")] = 64,
    val: Annotated[int, typer.Option(min=1, help="Validation images.")] = 16,
    seed: Annotated[int, typer.Option(min=0, max=SEED_MAX, help="Random seed; the same seed gives the same files.")] = 0,
    image_size: Annotated[int, typer.Option(min=32, help="Square image side in pixels.")] = 128,
):
    """Write a synthetic COCO 2017-layout detection dataset (coloured shapes, 3 categories)."""
    from harness import dataset as dataset_check, report

    from harness import synth
    from harness.progress import counting_bar

    params = synth.SynthParams(train=train, val=val, seed=seed, image_size=image_size)
    with counting_bar(err_console, "writing images", train + val) as advance:
        written = synth.write_synthetic(out, params, on_image=advance)
    console.print(report.dataset_table(dataset_check.check_dataset(written)))


def main() -> None:
    app()
