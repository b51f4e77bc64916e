"""`harness train`, `eval`, `train --resume`, `rerun`: spec -> dataset check -> job -> runtime -> logs -> record.

`harness repro` (harness.run.repro) runs its group's runs through the same `train` and `resume`."""

from __future__ import annotations

import hashlib
import os
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from harness.bootstrap import default_cache
from harness.data import fingerprint
from harness.data.check import check_dataset
from harness.edges import host
from harness.errors import BadInput, ImageMissing
from harness.job import checkpoints, preflight
from harness.job.command import BenchPlan, Job, JobRequest, build_job
from harness.report.progress import StepBars, counting_bar
from harness.run import attach, resuming
from harness.run.supervisor import Handover, next_log_offset
from harness.runtime import runtime_class
from harness.runtime.base import Runtime
from harness.spec import benchmarks
from harness.spec.options import RunOptions, one_line
from harness.spec.runspec import BenchOptions, RunSpec
from harness.store import layout, record
from harness.store.record import Attempt, RunRecord


def make_spec(kind: str, options: RunOptions) -> RunSpec:
    """The RunSpec of a new run: the options given, the rest resolved (the benchmark's epochs, the detected
    platform) or left to the RunSpec's defaults."""
    options.check_new_run()
    bench = benchmarks.benchmark(options.benchmark or benchmarks.DEFAULT_BENCHMARK)
    try:
        return RunSpec(kind=kind, benchmark=bench.name, data=str(options.data) if options.data else None,
                       platform=options.platform or host.detect_platform(),
                       epochs=options.epochs or bench.schedule.epochs, docker=options.docker(), slurm=options.slurm(),
                       checkpoint=str(options.checkpoint) if options.checkpoint else None, **options.spec_fields())
    except ValidationError as exc:  # RunOptions checks first; this is the last line of defence
        raise BadInput(one_line(exc)) from None


@dataclass(frozen=True)
class Lineage:
    """How a new run relates to others: the repro group it belongs to, the run it re-creates."""

    group: str | None = None
    rerun_of: RunRecord | None = None
    allow_drift: bool = False  # a rerun whose stack, image or dataset differ runs anyway, the drift recorded


def train(spec: RunSpec, work_dir: Path | None, console: Console, verbose: bool = False,
          lineage: Lineage = Lineage(), deep: bool = False, dry_run: bool = False,
          detach: bool = False) -> RunRecord | None:
    """Everything the user can get wrong is checked before the run directory is created; then the run is handed
    to its supervisor (harness.run.supervisor) and followed to its end (detach: until its job has started).

    deep: the dataset fingerprint also hashes every image. dry_run: check everything, print what would run
    (the batch script on slurm), leave nothing behind and return None."""
    request = _request(spec, console)
    if work_dir is None:
        layout.require_writable()
    data = _fingerprint(request.data_root, deep or _was_deep(lineage.rerun_of), console)
    run_dir = _run_dir(work_dir, spec.benchmark + ("" if spec.kind == "train" else f"-{spec.kind}"))
    try:
        job, runtime = _rerun_runtime(spec, request, run_dir, lineage, dry_run)
        started = _initial_record(run_dir, spec, request, job, runtime.facts(), data, lineage)
    except BaseException:
        _drop_unused(run_dir, work_dir)
        raise
    if dry_run:
        for warning in runtime.warnings:  # stderr: the script on stdout stays a script (`> job.sh`)
            Console(stderr=True).print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
        console.print(runtime.preview(job), markup=False, highlight=False, soft_wrap=True)
        _drop_unused(run_dir, work_dir)
        return None
    (run_dir / layout.CONFIG).write_text(job.config_text)
    console.print(f"[bold]run[/] {run_dir}\n[bold]command[/] {shlex.join(job.argv)}", highlight=False, soft_wrap=True)
    return attach.start(run_dir, started, Handover(job=job, request=request, image_id=runtime.image_id), console,
                        verbose, detach)


def rerun(path: Path, allow_drift: bool, console: Console, verbose: bool = False, detach: bool = False) -> RunRecord:
    """A new run from an old record's RunSpec: same seed, overrides, image or stack, and dataset."""
    old = layout.read(layout.existing_run(path, "rerun"))
    return train(old.spec, None, console, verbose, Lineage(rerun_of=old, allow_drift=allow_drift), detach=detach)


def resume(path: Path, options: RunOptions, console: Console, verbose: bool = False, detach: bool = False) -> RunRecord:
    """Continue a failed or interrupted run in its own directory from its last checkpoint (a new attempt)."""
    run_dir = layout.existing_run(path, "--resume").resolve()
    old = resuming.resumable(run_dir)
    run = resuming.resumed_spec(old.spec, options)
    request = _request(run, console).model_copy(update={"resume": True})
    job, runtime = _runtime(run, request, run_dir, _image_of(old))
    checkpoint = resuming.point_at_complete(run_dir / old.work_dir, runtime.job_site().run_dir / old.work_dir)
    attempt = _attempt(len(old.attempts) + 1, job, checkpoint, next_log_offset(run_dir))
    started = old.model_copy(update={"spec": run, "status": "running", "finished": None, "exit_code": None,
                                     "error": None, "attempts": [*old.attempts, attempt], **runtime.facts()})
    where = f"{checkpoint[0]} (after {checkpoint[0].split('_')[0]} {checkpoint[1]})" if checkpoint else \
        "the start (no checkpoint was saved)"
    console.print(f"[bold]resume[/] {run_dir}, attempt {attempt.number}, from {where}\n"
                  f"[bold]command[/] {shlex.join(job.argv)}", highlight=False, soft_wrap=True)
    _mark_attempt(run_dir / started.console_log, attempt)
    return attach.start(run_dir, started, Handover(job=job, request=request, image_id=runtime.image_id), console,
                        verbose, detach)


def _run_dir(work_dir: Path | None, name: str) -> Path:
    try:
        run_dir = layout.claim_run_dir(work_dir) if work_dir else layout.new_run_dir(name)
    except OSError as exc:
        raise BadInput(f"cannot create the run directory under {work_dir or layout.root()}: {exc.strerror}") from exc
    return run_dir.resolve()  # the job runs with the run directory as its working directory


def _drop_unused(run_dir: Path, work_dir: Path | None) -> None:
    """Nothing was written yet: leave no empty run behind (a --work-dir the user named stays)."""
    if work_dir is None:
        run_dir.rmdir()


def _rerun_runtime(spec: RunSpec, request: JobRequest, run_dir: Path, lineage: Lineage,
                   dry_run: bool = False) -> tuple[Job, Runtime]:
    """A rerun runs in the original's image; with --allow-drift, one that is gone gives way to the spec's image
    (the drift check then names the change)."""
    image_id = _image_of(lineage.rerun_of)
    try:
        return _runtime(spec, request, run_dir, image_id, dry_run)
    except ImageMissing:
        if image_id is None:
            raise
        if not lineage.allow_drift:
            raise ImageMissing(f"rerun {lineage.rerun_of.run_id}: the original's image {image_id} is no longer in "
                               "the engine; --allow-drift runs it in the spec's image and records the drift") from None
        return _runtime(spec, request, run_dir, None, dry_run)


def _runtime(spec: RunSpec, request: JobRequest, run_dir: Path, image_id: str | None,
             dry_run: bool = False) -> tuple[Job, Runtime]:
    """The run's runtime, checked, and the job built once for the site where it runs."""
    runtime = runtime_class(spec.runtime)(spec, request, run_dir, image_id, dry_run)
    site, job_request = runtime.job_site(), runtime.job_request()
    job = build_job(job_request, site.python, site.tools_dir, site.run_dir / layout.CONFIG, site.run_dir / layout.WORK_DIR)
    if not spec.skip_preflight:
        expected = preflight.expected_stack(spec.platform, runtime.image_labels())
        job = preflight.wrap(job, preflight.probe_spec(job_request, site.run_dir, expected), site.run_dir)
    runtime.prepare(job)
    return job, runtime


def _request(spec: RunSpec, console: Console) -> JobRequest:
    state = checkpoints.check(Path(spec.checkpoint)) if spec.checkpoint is not None else None
    bench = benchmarks.benchmark(spec.benchmark)
    data_root = spec.data_path or _synthetic_data(bench, console)
    summary = check_dataset(data_root, bench.expected_categories, progress=StepBars(console))
    counts = ", ".join(f"{s.split} {s.images} images" for s in summary.splits)
    console.print(f"[bold]dataset[/] {summary.path} ok ({counts})", highlight=False, soft_wrap=True)
    for warning in summary.warnings:
        console.print(f"[yellow]dataset warning[/] {warning}", highlight=False, soft_wrap=True)
    request = JobRequest(benchmark=bench, data_root=Path(summary.path), platform=spec.platform, gpus=spec.gpus,
                         gpu_ids=spec.gpu_ids, seed=spec.seed, epochs=spec.epochs,
                         checkpoint=Path(spec.checkpoint) if spec.checkpoint else None, cfg_options=spec.cfg_options,
                         stop_below_curve=spec.stop_below_curve, bench=_bench_plan(spec, summary))
    if spec.checkpoint is not None:
        checkpoints.belongs(request, state)
    return request


def _bench_plan(spec: RunSpec, summary) -> BenchPlan | None:
    if spec.kind != "bench":
        return None
    options = spec.bench or BenchOptions()
    val_images = next(split.images for split in summary.splits if split.split == "val2017")
    return BenchPlan(warmup=options.warmup, iters=options.iters, eval_images=options.eval_images,
                     val_images=val_images)


def _synthetic_data(bench: benchmarks.Benchmark, console: Console) -> Path:
    if bench.synthetic is None:
        raise BadInput(f"benchmark {bench.name!r} needs --data PATH (a COCO 2017 directory)")
    from harness.data.synth import SynthParams, write_synthetic

    params = SynthParams(**bench.synthetic.model_dump())
    path = default_cache() / "datasets" / f"synth-v1-{params.train}-{params.val}-{params.seed}-{params.image_size}"
    if not path.exists():
        console.print(f"[bold]dataset[/] generating synthetic COCO data in {path}", highlight=False)
        write_synthetic(path, params)
    return path


def _initial_record(run_dir: Path, spec: RunSpec, request: JobRequest, job: Job, facts: dict,
                    data: fingerprint.DatasetFingerprint, lineage: Lineage) -> RunRecord:
    started = RunRecord(
        run_id=run_dir.name, spec=spec, group=lineage.group, status="running", started=record.now(),
        attempts=[_attempt(1, job, None, 0)], total_batch=job.total_batch, data_root=str(request.data_root),
        synthetic_data=spec.data is None, config_file=layout.CONFIG, work_dir=layout.WORK_DIR,
        console_log=layout.CONSOLE_LOG, environment=_environment(spec, facts), dataset=data,
        config_sha256=hashlib.sha256(job.config_text.encode()).hexdigest(), **facts)
    if lineage.rerun_of is None:
        return started
    from harness.verdict.groups import drift  # what a rerun compares

    drifted = drift(lineage.rerun_of, started)
    if drifted and not lineage.allow_drift:
        raise BadInput(f"rerun {lineage.rerun_of.run_id}: {drifted[0]}{_more(drifted)} differs from the original; "
                       "--allow-drift runs it anyway and records what drifted")
    return started.model_copy(update={"rerun_of": lineage.rerun_of.run_id, "drift": drifted})


def _more(items: list) -> str:
    return f" (and {len(items) - 1} more)" if len(items) > 1 else ""


def _environment(spec: RunSpec, facts: dict) -> host.Environment:
    image = facts.get("image")
    stack = host.image_stack(image["labels"], image["id"]) if image else None
    return host.collect(spec.platform, stack)


def _fingerprint(data_root: Path, deep: bool, console: Console) -> fingerprint.DatasetFingerprint:
    if not deep:
        return fingerprint.fingerprint(data_root)
    with counting_bar(console, "hashing images", fingerprint.image_count(data_root)) as advance:
        return fingerprint.fingerprint(data_root, deep=True, on_image=advance)


def _was_deep(old: RunRecord | None) -> bool:
    return bool(old and old.dataset and old.dataset.deep)


def _image_of(old: RunRecord | None) -> str | None:
    return (old.image or {}).get("id") if old else None


def _attempt(number: int, job: Job, checkpoint: tuple[str, int] | None, log_offset: int) -> Attempt:
    return Attempt(number=number, started=record.now(), command=job.argv, pid=os.getpid(), host=socket.gethostname(),
                   log_offset=log_offset,
                   resumed_from=checkpoint[0] if checkpoint else None,
                   resumed_epoch=checkpoint[1] if checkpoint else None)


def _mark_attempt(console_log: Path, attempt: Attempt) -> None:
    """console.log keeps every attempt's output: a resume appends below a marker line, never overwrites."""
    with console_log.open("a") as log:
        log.write(f"\n===== harness: attempt {attempt.number}, {attempt.started}, resumed from "
                  f"{attempt.resumed_from or 'the start'} =====\n")
