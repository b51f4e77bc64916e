"""`harness train`: spec -> dataset check -> job -> runtime -> logs -> run record."""

from __future__ import annotations

import re
import shlex
import sys
from collections import deque
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.console import Console

from harness import docker_runtime, environment, logs, record, spec
from harness.bootstrap import default_cache
from harness.dataset import check_dataset
from harness.docker_runtime import DockerOptions
from harness.errors import BadInput, InfrastructureError, Interrupted
from harness.job import Job, JobRequest, Platform, build_job, mmdet_tools_dir
from harness.progress import TrainingView
from harness.record import RunRecord
from harness.scaling import learning_rate
from harness.runtime import local
from harness.synth import SynthParams, write_synthetic

EXCEPTION_LINE = re.compile(r"^\w[\w.]*(Error|Exception|Interrupt)\b.*")


@dataclass(frozen=True)
class TrainOptions:
    benchmark: str = spec.DEFAULT_BENCHMARK
    data: Path | None = None
    gpus: int = 1
    seed: int = 0
    epochs: int | None = None
    work_dir: Path | None = None
    platform: Platform | None = None
    verbose: bool = False
    runtime: str = "local"
    docker: DockerOptions = DockerOptions()
    checkpoint: Path | None = None  # set: `harness eval`, a test of this checkpoint instead of training


def train(options: TrainOptions, console: Console) -> RunRecord:
    """Everything the user can get wrong is checked before the run directory is created."""
    request = _request(options, console)
    root = record.results_root()
    if options.work_dir is None and not record.writable(root):
        raise BadInput(f"results directory {root} is not writable (HARNESS_RESULTS moves it)")
    run_dir = _run_dir(options, root, request.benchmark.name + ("-eval" if request.checkpoint else ""))
    try:
        job, runner, facts = _runtime(options, request, run_dir)
    except BaseException:
        if options.work_dir is None:
            run_dir.rmdir()  # nothing was written yet: leave no empty run behind
        raise
    (run_dir / "config.py").write_text(job.config_text)
    started = _initial_record(run_dir, request, job, options.data is None).model_copy(update=facts)
    record.write_record(run_dir, started)
    console.print(f"[bold]run[/] {run_dir}\n[bold]command[/] {shlex.join(job.argv)}", highlight=False, soft_wrap=True)
    return _execute(run_dir, runner, started, console, options.verbose)


def _run_dir(options: TrainOptions, root: Path, benchmark: str) -> Path:
    try:
        run_dir = record.claim_run_dir(options.work_dir) if options.work_dir else record.new_run_dir(root, benchmark)
    except OSError as exc:
        raise BadInput(f"cannot create the run directory under {options.work_dir or root}: {exc.strerror}") from exc
    return run_dir.resolve()  # the job runs with the run directory as its working directory


def _runtime(options: TrainOptions, request: JobRequest, run_dir: Path):
    """The job, a function that runs it (console log, line callback -> exit code, cause) and record facts."""
    if options.runtime == "docker":
        prepared = docker_runtime.prepare(request, run_dir.name, run_dir, options.docker)
        return prepared.job, partial(docker_runtime.run, prepared), {"runtime": "docker",
                                                                     **docker_runtime.record_facts(prepared)}
    job = build_job(request, sys.executable, mmdet_tools_dir(), run_dir / "config.py", run_dir / "work_dir")
    return job, lambda console_log, on_line: (local.run(job, run_dir, console_log, on_line), None), {}


def _request(options: TrainOptions, console: Console) -> JobRequest:
    if options.gpus < 1:
        raise BadInput(f"--gpus must be at least 1, got {options.gpus}")
    if options.epochs is not None and options.epochs < 1:
        raise BadInput(f"--epochs must be at least 1, got {options.epochs}")
    if options.checkpoint is not None and not options.checkpoint.is_file():
        raise BadInput(f"checkpoint {options.checkpoint} does not exist or is not a file")
    bench = spec.benchmark(options.benchmark)
    data_root = options.data or _synthetic_data(bench, console)
    summary = check_dataset(data_root)
    counts = ", ".join(f"{s.split} {s.images} images" for s in summary.splits)
    console.print(f"[bold]dataset[/] {summary.path} ok ({counts})", highlight=False, soft_wrap=True)
    return JobRequest(benchmark=bench, data_root=Path(summary.path), platform=options.platform or local.detect_platform(),
                      gpus=options.gpus, seed=options.seed, epochs=options.epochs or bench.schedule.epochs,
                      checkpoint=options.checkpoint.resolve() if options.checkpoint else None)


def _synthetic_data(bench: spec.Benchmark, console: Console) -> Path:
    if bench.synthetic is None:
        raise BadInput(f"benchmark {bench.name!r} needs --data PATH (a COCO 2017 directory)")
    params = SynthParams(**bench.synthetic.model_dump())
    path = default_cache() / "datasets" / f"synth-v1-{params.train}-{params.val}-{params.seed}-{params.image_size}"
    if not path.exists():
        console.print(f"[bold]dataset[/] generating synthetic COCO data in {path}", highlight=False)
        write_synthetic(path, params)
    return path


def _initial_record(run_dir: Path, request: JobRequest, job: Job, synthetic: bool) -> RunRecord:
    return RunRecord(
        run_id=run_dir.name, benchmark=request.benchmark.name, status="running", started=record.now(),
        platform=request.platform, gpus=request.gpus, seed=request.seed, epochs=request.epochs,
        total_batch=job.total_batch, data_root=str(request.data_root),
        synthetic_data=synthetic, kind="eval" if request.checkpoint else "train",
        checkpoint=str(request.checkpoint) if request.checkpoint else None,
        command=job.argv, environment=_environment(request),
    )


def _environment(request: JobRequest) -> dict[str, str]:
    facts = environment.collect()
    inventory = environment.gpu_inventory(request.platform)
    if inventory:
        facts["gpus"] = " | ".join(inventory)
    return facts


def _execute(run_dir: Path, runner, started: RunRecord, console: Console, verbose: bool) -> RunRecord:
    console_log = run_dir / started.console_log
    try:
        with TrainingView(console, started.epochs, verbose) as view:
            code, cause = runner(console_log, view.feed)
    except Interrupted:
        _finish(run_dir, started, "interrupted", None, "interrupted by the user")
        raise
    except InfrastructureError as exc:
        _finish(run_dir, started, "failed", None, str(exc))
        raise
    if code != 0:
        lines = _tail(console_log)
        if cause is None:  # a Python error: the end of its traceback, above the one-line error
            for line in _traceback_end(lines):
                console.print(f"  | {line}", markup=False, highlight=False, soft_wrap=True, style="dim")
        reason = f"training exited with code {code}: {cause or _last_exception(lines)}"
        _finish(run_dir, started, "failed", code, reason)
        raise InfrastructureError(f"{reason} (full output: {console_log})")
    return _finish(run_dir, started, "succeeded", code, None)


def _finish(run_dir: Path, started: RunRecord, status: str, code: int | None, error: str | None) -> RunRecord:
    try:
        final = logs.parse_path(run_dir / started.work_dir).final
    except BadInput:
        final = None
    done = started.model_copy(update={
        "status": status, "finished": record.now(), "exit_code": code, "error": error,
        "final_metrics": final.metrics if final and final.metrics else None,
        "learning_rate": learning_rate(run_dir / started.console_log, run_dir / started.work_dir / "config.py"),
    })
    record.write_record(run_dir, done)
    return done


def _tail(console_log: Path, size: int = 200) -> list[str]:
    tail: deque[str] = deque(maxlen=size)
    if console_log.exists():
        with console_log.open(errors="replace") as handle:
            tail.extend(line.rstrip() for line in handle)
    return list(tail)


def _last_exception(lines: list[str]) -> str:
    found = [line.strip() for line in lines if EXCEPTION_LINE.match(line.strip())]
    return found[-1] if found else (lines[-1].strip() if lines else "no output")


def _traceback_end(lines: list[str], shown: int = 8) -> list[str]:
    """The last lines of the last traceback in the output (up to its exception line)."""
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if not starts:
        return []
    block = lines[starts[-1]:]
    ends = [i for i, line in enumerate(block) if EXCEPTION_LINE.match(line.strip())]
    return block[: ends[0] + 1][-shown:] if ends else block[-shown:]
