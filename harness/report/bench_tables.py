"""Rendering of bench runs: the result table, the speed-up of two bench runs."""

from __future__ import annotations

from rich.table import Table

from harness.logs.bench import BenchResult, SpeedUp
from harness.store.record import RunRecord

GIB = 1 << 30


def bench_table(run: RunRecord) -> Table:
    result = run.bench
    per = "process" if run.platform == "cpu" else "GPU"
    table = Table(title=f"bench {run.run_id}: {run.benchmark} on {run.platform}, {result.processes} process(es), "
                        f"total batch {result.total_batch}", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("measured")
    projection = " + ".join(f"{name} {seconds:.0f} s" for name, seconds in result.projection.items())
    rows = [
        ("images / s", f"{result.images_per_second:.2f} ({result.images_per_second_per_gpu:.2f} per {per})"),
        ("s / iteration", f"{result.seconds_per_iter:.3f} ± {result.seconds_per_iter_sd:.3f} (sd of "
                          f"{len(result.iteration_seconds)} timed; {result.warmup} warm-up discarded)"),
        ("data loading", f"{result.data_share:.0%} of each iteration"),
        ("peak device memory", memory(result)),
        ("evaluation", f"{result.eval_seconds_per_image:.3f} s per image ({result.eval_images} of "
                       f"{result.val_images} images), metric {result.metric_seconds:.1f} s"),
        ("checkpoint", f"{result.checkpoint_seconds:.1f} s"),
        ("start-up", f"{result.startup_seconds:.1f} s to the first iteration"),
        ("projected full schedule", f"{duration(result.projected_seconds)} for {result.epochs} epochs "
                                    f"({result.iters_per_epoch} iterations each, {result.evaluations} evaluations): "
                                    f"{projection}"),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def memory(result: BenchResult) -> str:
    peaks = result.peak_memory_bytes
    if all(peak is None for peak in peaks):
        return "not reported on this platform"
    return ", ".join(f"rank {rank} {peak / GIB:.2f} GiB" if peak is not None else f"rank {rank} -"
                     for rank, peak in enumerate(peaks))


def duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def speedup_table(result: SpeedUp) -> Table:
    table = Table("run", "images / s", title="bench comparison", title_justify="left")
    table.add_row(result.a, f"{result.a_images_per_second:.2f}")
    table.add_row(result.b, f"{result.b_images_per_second:.2f}")
    return table


def speedup_finding(result: SpeedUp) -> str:
    return (f"{result.b} runs {result.speedup:.3f}x the images per second of {result.a} "
            f"(95 % interval {result.low:.3f}-{result.high:.3f}, from the spread of the timed iterations)")
