"""`harness bench`: the timings harness.job.mmhooks.HarnessBenchHook logged, turned into throughput, spread, the
share of data loading, peak device memory and the projected time of the full schedule.

Projection = start-up (attempt start to the first iteration) + iterations per epoch x epochs x seconds per
timed iteration + one checkpoint per epoch + evaluations x (seconds per validation image x validation
images + the metric's seconds)."""

from __future__ import annotations

import json
import math
import statistics
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from harness.errors import InfrastructureError

BENCH = "harness-bench: "  # harness.job.mmhooks.BENCH, which cannot be imported here (it imports torch)
DATA_BOUND = 0.25  # waiting for data this share of an iteration: the input pipeline, not the device, sets the pace


class BenchResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    warmup: int
    iteration_seconds: list[float]  # the timed iterations, warm-up discarded
    seconds_per_iter: float  # mean of the timed iterations
    seconds_per_iter_sd: float
    images_per_second: float  # total batch / seconds per iteration
    images_per_second_per_gpu: float
    data_share: float  # of the timed iterations' time, the part spent waiting for data
    peak_memory_bytes: list[int | None]  # per process; None where the platform reports none (cpu)
    total_batch: int
    processes: int
    iters_per_epoch: int
    epochs: int
    evaluations: int
    eval_images: int
    val_images: int
    eval_seconds_per_image: float
    metric_seconds: float
    checkpoint_seconds: float
    startup_seconds: float
    projection: dict[str, float]  # seconds: start-up, training, checkpoints, evaluations
    projected_seconds: float
    warnings: list[str] = []


def logged(console_log: Path) -> dict:
    """The hook's last `harness-bench:` line in the job's output."""
    found = None
    with console_log.open(errors="replace") as handle:
        for line in handle:
            if BENCH in line:
                found = line
    if found is None:
        raise InfrastructureError(f"the bench finished without its timings (no {BENCH.strip()} line in {console_log})")
    return json.loads(found.split(BENCH, 1)[1])


def result(timings: dict, *, total_batch: int, epochs: int, val_interval: int, attempt_started: str) -> BenchResult:
    timed = timings["iterations"][timings["warmup"]:]
    data = timings["data"][timings["warmup"]:]
    per_iter = statistics.fmean(timed)
    batches = timings["val_batches"]
    eval_images = sum(images for _, images in batches)
    per_image = sum(seconds for seconds, _ in batches) / max(eval_images, 1)
    val_images = timings["val_images"]
    evaluations = epochs // val_interval + (1 if epochs % val_interval else 0)
    startup = max(0.0, timings["train_started_unix"] - datetime.fromisoformat(attempt_started).timestamp())
    projection = {
        "start-up": startup,
        "training": timings["iters_per_epoch"] * epochs * per_iter,
        "checkpoints": epochs * (timings["checkpoint_seconds"] or 0.0),
        "evaluations": evaluations * (per_image * val_images + (timings["metric_seconds"] or 0.0)),
    }
    share = sum(data) / sum(timed)
    processes = timings["world_size"]
    return BenchResult(
        warmup=timings["warmup"], iteration_seconds=timed, seconds_per_iter=per_iter,
        seconds_per_iter_sd=statistics.stdev(timed) if len(timed) > 1 else 0.0,
        images_per_second=total_batch / per_iter, images_per_second_per_gpu=total_batch / per_iter / processes,
        data_share=share, peak_memory_bytes=timings["peak_memory"], total_batch=total_batch, processes=processes,
        iters_per_epoch=timings["iters_per_epoch"], epochs=epochs, evaluations=evaluations, eval_images=eval_images,
        val_images=val_images, eval_seconds_per_image=per_image, metric_seconds=timings["metric_seconds"] or 0.0,
        checkpoint_seconds=timings["checkpoint_seconds"] or 0.0, startup_seconds=startup, projection=projection,
        projected_seconds=sum(projection.values()), warnings=_warnings(share))


def _warnings(share: float) -> list[str]:
    if share < DATA_BOUND:
        return []
    return [f"the input pipeline, not the device, is the bottleneck: {share:.0%} of each iteration waits for data "
            "(more train_dataloader.num_workers, a faster disk, or images cached in memory)"]


class SpeedUp(BaseModel):
    """B against A: the ratio of images per second, with an approximate 95 % interval from the iterations' spread."""

    model_config = ConfigDict(frozen=True)

    a: str
    b: str
    a_images_per_second: float
    b_images_per_second: float
    speedup: float
    low: float
    high: float


def speedup(a_name: str, a: BenchResult, b_name: str, b: BenchResult) -> SpeedUp:
    ratio = b.images_per_second / a.images_per_second
    # delta method: the relative standard errors of the two mean iteration times add in quadrature
    relative = math.sqrt(sum((r.seconds_per_iter_sd / r.seconds_per_iter) ** 2 / len(r.iteration_seconds)
                             for r in (a, b)))
    return SpeedUp(a=a_name, b=b_name, a_images_per_second=a.images_per_second,
                   b_images_per_second=b.images_per_second, speedup=ratio, low=ratio * math.exp(-1.96 * relative),
                   high=ratio * math.exp(1.96 * relative))
