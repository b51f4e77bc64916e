"""The run options `harness train`, `eval`, `bench` and `repro` share, declared once.

`@run_options(...)` adds them to a command's parameters and hands the command one checked RunOptions
(harness.spec.options) in place of the twenty-odd values the user typed. A command's --help lists its
arguments, then the shared options in the order of SHARED, then its own options."""

from __future__ import annotations

import functools
import inspect
import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from harness.spec.choices import PLATFORMS, SEED_MAX


def finite(value: float | None) -> float | None:
    """click's FloatRange lets nan (and inf) through: neither is a number of seconds or AP points."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


BenchmarkOption = Annotated[Optional[str], typer.Option(
    help="Benchmark spec name (configs/benchmarks/NAME.toml); default: smoke.", show_default=False)]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Also print every line of the job's log.")]
WorkDirOption = Annotated[Optional[Path], typer.Option(help="Run directory (new or empty); default results/<run-id>.")]
DryRunOption = Annotated[bool, typer.Option(
    "--dry-run", help="Check everything and print what would run (the batch script on slurm); start nothing.")]
DetachOption = Annotated[bool, typer.Option(
    "--detach", help="Start the run, print its id and how to follow and stop it, and exit 0 once its job has "
                     "started; the run goes on without this terminal (`harness attach`, `harness stop`).")]
DeepOption = Annotated[bool, typer.Option(
    "--deep-fingerprint", help="Also hash every image for the run record's dataset fingerprint (slower; with progress).")]
PartitionOption = Annotated[Optional[str], typer.Option(help="slurm: partition; default: the cluster's default.")]
EpochsOption = Annotated[Optional[int], typer.Option(help="Override the benchmark's epoch count.")]
SeedOption = Annotated[Optional[int], typer.Option(
    min=0, max=SEED_MAX, help="randomness.seed for mmengine (0 to 2**32-1); default 0.", show_default=False)]


def _option(annotation, default=None) -> inspect.Parameter:
    return inspect.Parameter("_", inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


# command-line parameter -> (its RunOptions field, its declaration); train, eval, bench and repro take these.
SHARED: dict[str, tuple[str, inspect.Parameter]] = {
    "benchmark": ("benchmark", _option(BenchmarkOption)),
    "data": ("data", _option(Annotated[Optional[Path], typer.Option(
        help="COCO 2017 directory; default: the benchmark's synthetic data.")])),
    "gpus": ("gpus", _option(Annotated[Optional[int], typer.Option(
        help="Processes, one per GPU (CPU processes on the cpu platform); default 1.", show_default=False)])),
    "seed": ("seed", _option(SeedOption)),
    "epochs": ("epochs", _option(EpochsOption)),
    "platform": ("platform", _option(Annotated[Optional[str], typer.Option(
        help=f"One of {', '.join(PLATFORMS)}; default: detected.")])),
    "runtime": ("runtime", _option(Annotated[Optional[str], typer.Option(
        help="local (this Python environment), docker (the platform's image) or slurm (a batch job); default local.",
        show_default=False)])),
    "image": ("image", _option(Annotated[Optional[str], typer.Option(
        help="docker: image to run; default harness-<platform>:latest.")])),
    "shm_size": ("shm_size", _option(Annotated[Optional[str], typer.Option(
        help="docker: shared memory for the data loader workers; default 2g.", show_default=False)])),
    "ipc_host": ("ipc_host", _option(Annotated[bool, typer.Option(
        "--ipc-host", help="docker: share the host's IPC namespace instead.")], False)),
    "gpu_ids": ("gpu_ids", _option(Annotated[Optional[str], typer.Option(
        help="Explicit GPU ids, e.g. 0,1,2,3 (as many as --gpus).")])),
    "privileged": ("privileged", _option(Annotated[bool, typer.Option(
        "--privileged", help="docker: run the container privileged (never by default).")], False)),
    "cfg_option": ("cfg_options", _option(Annotated[Optional[list[str]], typer.Option(
        "--cfg-option", help="KEY=VALUE merged into the run's mmengine config, as mmdet's --cfg-options (repeatable); "
                             "the verdict marks the run as overridden.", show_default=False)])),
    "stop_below_curve": ("stop_below_curve", _option(Annotated[Optional[float], typer.Option(
        min=0, callback=finite, help="Stop a run whose bbox mAP is this many AP points under the reference's "
        "per-epoch curve at two evaluations in a row (off by default).", show_default=False)])),
    "hang_timeout": ("hang_timeout", _option(Annotated[Optional[float], typer.Option(
        min=0, callback=finite, help="Seconds without training or evaluation progress after which the run is stopped "
        "as hung; default: the larger of 15 min and 30 x the median gap between progress lines; 0: off.",
        show_default=False)])),
    "skip_preflight": ("skip_preflight", _option(Annotated[bool, typer.Option(
        "--skip-preflight", help="Start the training without the preflight (stack, mmcv ops on the device, devices, "
                                 "/dev/shm, rendezvous port); the run records that it was skipped.")], False)),
    "nodes": ("nodes", _option(Annotated[Optional[int], typer.Option(
        help="slurm: nodes; --gpus is per node. Default 1.", show_default=False)])),
    "partition": ("partition", _option(PartitionOption)),
    "time_limit": ("time", _option(Annotated[Optional[str], typer.Option(
        "--time", help="slurm: time limit, e.g. 1-00:00:00.")])),
    "account": ("account", _option(Annotated[Optional[str], typer.Option(help="slurm: account to charge.")])),
    "qos": ("qos", _option(Annotated[Optional[str], typer.Option(help="slurm: quality of service.")])),
    "slurm_arg": ("extra_args", _option(Annotated[Optional[list[str]], typer.Option(
        "--slurm-arg", help="slurm: one more sbatch option, passed as given, e.g. --slurm-arg=--exclusive "
                            "(repeatable).", show_default=False)])),
    "container": ("container", _option(Annotated[Optional[str], typer.Option(
        help="slurm: run each node's task in the platform's image: docker (the docker options apply).")])),
}


def run_options(*, without: tuple[str, ...] = ()):
    """Give the command the shared run options (less those named in without) as its `options: RunOptions`.

    A command may declare one of them itself, with its own help (bench's --epochs): its own declaration wins,
    and it still reaches the RunOptions."""
    def decorate(command):
        own = [p.replace(annotation=eval(p.annotation, command.__globals__)) if isinstance(p.annotation, str) else p
               for p in inspect.signature(command).parameters.values() if p.name != "options"]
        own_names = {p.name for p in own}
        shared = [declared.replace(name=name) for name, (_, declared) in SHARED.items()
                  if name not in without and name not in own_names]
        fields = {name: field for name, (field, _) in SHARED.items() if name not in without}

        @functools.wraps(command)
        def with_options(**values):
            typed = {fields[name]: values.pop(name) for name in list(values) if name in fields}
            for name in set(fields) & own_names:  # the command keeps its own copy too
                values[name] = typed[fields[name]]
            from harness.spec.options import RunOptions  # pydantic only when a command runs

            return command(options=RunOptions.of(**_given(typed)), **values)

        # the command's arguments, then the shared options, then its own options: the order of its --help
        arguments = [p for p in own if p.default is inspect.Parameter.empty]
        options = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own if p not in arguments]
        parameters = arguments + shared + options
        with_options.__signature__ = inspect.Signature(parameters)
        with_options.__annotations__ = {p.name: p.annotation for p in parameters}
        del with_options.__wrapped__  # typer reads the signature above, not the command's
        return with_options
    return decorate


def _given(typed: dict) -> dict:
    """None, an unset flag and an empty list are "not given"; lists become tuples."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in typed.items() if v is not None and v is not False}
