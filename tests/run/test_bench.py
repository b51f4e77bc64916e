"""`harness bench`: the timings, the projection and the speed-up (offline), and real bench runs of the smoke
benchmark on the cpu platform (one process, and two over gloo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mmengine.config import Config

from harness.job.command import BenchPlan, JobRequest, render_config
from harness.logs import bench
from harness.spec.benchmarks import benchmark

from conftest import one_line_error, read_json
from support import GOLDEN

TIMINGS = {  # as HarnessBenchHook logs them: 2 warm-up iterations, 4 timed
    "warmup": 2, "val_images": 32, "iterations": [9.0, 3.0, 1.0, 1.2, 0.8, 1.0], "data": [5.0, 1.0, 0.1, 0.1, 0.1, 0.1],
    "val_batches": [[0.8, 8], [0.8, 8]], "iters_per_epoch": 16, "world_size": 2, "peak_memory": [2 << 30, None],
    "train_started_unix": 1_700_000_012.0, "metric_seconds": 0.5, "checkpoint_seconds": 0.25,
}


def bench_of(timings: dict) -> bench.BenchResult:
    return bench.result(timings, total_batch=16, epochs=20, val_interval=1, attempt_started="2023-11-14T22:13:20+00:00")


def test_throughput_spread_data_share_and_projection_from_the_hook_s_timings():
    result = bench_of(TIMINGS)
    assert result.iteration_seconds == [1.0, 1.2, 0.8, 1.0]  # the warm-up discarded
    assert result.seconds_per_iter == pytest.approx(1.0)
    assert result.seconds_per_iter_sd == pytest.approx(0.1633, abs=1e-4)
    assert result.images_per_second == pytest.approx(16.0) and result.images_per_second_per_gpu == pytest.approx(8.0)
    assert result.data_share == pytest.approx(0.1) and result.warnings == []
    assert result.startup_seconds == pytest.approx(12.0)
    assert result.eval_seconds_per_image == pytest.approx(0.1) and result.evaluations == 20
    assert result.projection == pytest.approx({"start-up": 12.0, "training": 320.0, "checkpoints": 5.0,
                                               "evaluations": 20 * (0.1 * 32 + 0.5)})
    assert result.projected_seconds == pytest.approx(12 + 320 + 5 + 74)


def test_an_input_bound_bench_says_so():
    slow_data = {**TIMINGS, "data": [5.0, 1.0, 0.5, 0.6, 0.4, 0.5]}
    [warning] = bench_of(slow_data).warnings
    assert warning.startswith("the input pipeline, not the device, is the bottleneck: 50% of each iteration")


def test_evaluations_follow_the_validation_interval():
    every_third = bench.result(TIMINGS, total_batch=16, epochs=20, val_interval=3,
                               attempt_started="2023-11-14T22:13:20+00:00")
    assert every_third.evaluations == 7  # epochs 3, 6, ..., 18, and mmengine's evaluation after the last epoch


def test_speedup_is_the_ratio_of_throughputs_with_an_interval_from_the_spread():
    a = bench_of(TIMINGS)
    b = bench_of({**TIMINGS, "iterations": [9.0, 3.0, 0.5, 0.6, 0.4, 0.5]})
    found = bench.speedup("a", a, "b", b)
    assert found.speedup == pytest.approx(2.0)
    assert found.low < 2.0 < found.high
    same = bench.speedup("a", a, "a", a)
    assert same.speedup == 1.0 and same.low < 1.0 < same.high


def test_the_bench_config_is_an_iteration_loop_with_a_sliced_evaluation(tmp_path):
    request = JobRequest(benchmark=benchmark("smoke"), data_root=tmp_path, platform="cpu", gpus=1, seed=0, epochs=20,
                         bench=BenchPlan(warmup=3, iters=7, eval_images=100, val_images=32))
    config = tmp_path / "config.py"
    config.write_text(render_config(request))
    cfg = Config.fromfile(config)
    assert cfg.train_cfg == {"type": "IterBasedTrainLoop", "max_iters": 10, "val_interval": 10}  # no max_epochs left
    assert cfg.val_dataloader.dataset.indices == 32 and cfg.val_dataloader.dataset.data_root == f"{tmp_path}/"
    assert cfg.log_processor.by_epoch is False
    assert {"type": "HarnessBenchHook", "warmup": 3, "val_images": 32} in cfg.custom_hooks


@pytest.fixture
def own_results(monkeypatch, tmp_path) -> Path:
    """Bench runs go to a results directory of their own: the session's holds only the smoke run."""
    results = tmp_path / "results"
    monkeypatch.setenv("HARNESS_RESULTS", str(results))
    return results


@pytest.mark.real
def test_a_real_bench_of_the_smoke_benchmark(cli, own_results, smoke_run):
    result = cli("bench", "--warmup", "2", "--iters", "4", "--eval-images", "8")
    assert result.exit_code == 0, result.output + result.stderr
    assert "images / s" in result.stdout and "projected full schedule" in result.stdout
    (run_dir,) = own_results.iterdir()
    record = read_json(run_dir / "run.json")
    assert run_dir.name.endswith("-smoke-bench") and record["spec"]["kind"] == "bench"
    assert record["final_metrics"] is None  # the slice's mAP is no accuracy result
    found = record["bench"]
    assert len(found["iteration_seconds"]) == 4 and found["warmup"] == 2
    assert found["iters_per_epoch"] == 16 and found["epochs"] == 20 and found["evaluations"] == 20  # 128 / 8 per epoch
    assert found["eval_images"] == 8 and found["val_images"] == 32 and found["peak_memory_bytes"] == [None]
    assert found["images_per_second"] == pytest.approx(8 / found["seconds_per_iter"])
    assert 0 < found["data_share"] < 1 and found["startup_seconds"] > 1 and found["checkpoint_seconds"] > 0
    assert found["projected_seconds"] == pytest.approx(sum(found["projection"].values()))
    assert 60 < found["projected_seconds"] < 3600  # the full smoke run takes minutes here

    listing = cli("runs", "--kind", "bench", "--wide")  # --wide: the whole run id, and images per second
    assert record["run_id"] in listing.stdout and f"{found['images_per_second']:.2f}" in listing.stdout
    compared = cli("compare", record["run_id"], record["run_id"], "--json")
    assert compared.exit_code == 0 and json.loads(compared.stdout)["speedup"] == 1.0
    mixed = cli("compare", record["run_id"], smoke_run)
    assert mixed.exit_code == 2 and "compares with another bench run only" in one_line_error(mixed)
    refused = cli("verify", record["run_id"])
    assert refused.exit_code == 2 and "is a bench run: it measures speed" in one_line_error(refused)
    not_resumed = cli("train", "--resume", record["run_id"])
    assert not_resumed.exit_code == 2 and "a bench run is not resumable" in one_line_error(not_resumed)
    rerun = cli("rerun", record["run_id"])  # ends as a bench does: its figures, never advice to verify it
    assert rerun.exit_code == 0 and "images / s" in rerun.stdout, rerun.stdout + rerun.stderr
    assert "harness verify" not in rerun.stdout + rerun.stderr


@pytest.mark.real
def test_a_bench_of_two_processes_gathers_each_process_s_memory(cli, own_results):
    result = cli("bench", "--gpus", "2", "--warmup", "1", "--iters", "2", "--eval-images", "4", "--json")
    assert result.exit_code == 0, result.output + result.stderr
    found = json.loads(result.stdout)  # the JSON alone on stdout: `harness bench --json | jq` works
    assert "dataset" in result.stderr and "run" in result.stderr, "the rest of what it says goes to stderr"
    assert found["processes"] == 2 and found["peak_memory_bytes"] == [None, None]
    assert found["images_per_second_per_gpu"] == pytest.approx(found["images_per_second"] / 2)
    assert found["iters_per_epoch"] == 8  # 128 images, 2 processes x 8


BENCH_RUN = GOLDEN / "bench-run"  # a real `harness bench --warmup 2 --iters 4 --eval-images 8`


def test_a_real_bench_run_s_output_gives_its_recorded_result_offline():
    from harness import logs
    from harness.store import record

    run = record.read_record(BENCH_RUN / "run.json")
    timings = bench.logged(BENCH_RUN / "console.log")
    again = bench.result(timings, total_batch=run.total_batch, epochs=run.epochs, val_interval=1,
                         attempt_started=run.attempts[-1].started)
    assert again == run.bench
    assert len(timings["iterations"]) == 6 and timings["iters_per_epoch"] == 16
    parsed = logs.parse_path(BENCH_RUN / "work_dir")  # an iteration loop with one evaluation of a slice
    assert parsed.last_step is not None and len(parsed.evaluations) == 1


def test_a_bench_that_logged_no_timings_is_one_line(tmp_path):
    (tmp_path / "console.log").write_text("Traceback ...\nRuntimeError: boom\n")
    with pytest.raises(bench.InfrastructureError, match="the bench finished without its timings"):
        bench.logged(tmp_path / "console.log")


def test_peak_memory_is_read_from_the_device_where_there_is_one(monkeypatch):
    """cuda and ixuca (whose torch presents its GPUs as CUDA devices) report through torch.cuda; this machine has
    no GPU, so the device's two answers are faked here and the CPU's None is real."""
    import torch

    from harness.job import mmhooks

    assert mmhooks._peak_device_memory() is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda: 3 << 30)
    assert mmhooks._peak_device_memory() == 3 << 30
