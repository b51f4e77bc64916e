"""The exact command and config a run executes, for every platform (no GPU needed to check them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config

from harness.job.command import JobRequest, build_job, mmdet_tools_dir
from harness.spec import benchmarks

TOOLS = Path("/opt/mmdet/tools")


def request(platform="cpu", gpus=1, bench="reppoints-r101-dcn-2x", epochs=None) -> JobRequest:
    benchmark = benchmarks.benchmark(bench)
    return JobRequest(benchmark=benchmark, data_root=Path("/data/coco"), platform=platform, gpus=gpus, seed=3,
                      epochs=epochs or benchmark.schedule.epochs)


def argv(req: JobRequest) -> list[str]:
    return build_job(req, "python", TOOLS, Path("/r/config.py"), Path("/r/work_dir")).argv


TRAIN = ["/opt/mmdet/tools/train.py", "/r/config.py", "--work-dir", "/r/work_dir", "--auto-scale-lr"]


def test_one_process_runs_train_py_directly():
    assert argv(request()) == ["python", *TRAIN]


@pytest.mark.parametrize("platform", ["cuda", "ixuca"])
def test_eight_gpus_launch_one_process_per_gpu(platform):
    assert argv(request(platform, 8)) == [
        "python", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "8", *TRAIN,
        "--launcher", "pytorch"]


def test_cpu_processes_go_through_the_cpu_launch_shim():
    assert argv(request("cpu", 2)) == [
        "python", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "harness.job.cpu_launch", *TRAIN, "--launcher", "pytorch"]


def test_total_batch_and_training_environment():
    job = build_job(request("cuda", 8), "python", TOOLS, Path("/r/c.py"), Path("/r/w"))
    assert job.total_batch == 16
    assert job.env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] == "1"


def resolved(tmp_path: Path, req: JobRequest) -> Config:
    """The generated config, resolved by mmengine itself against the installed mmdet."""
    path = tmp_path / "config.py"
    path.write_text(build_job(req, "python", TOOLS, path, tmp_path / "w").config_text)
    return Config.fromfile(str(path))


def test_generated_config_points_every_reader_at_the_data(tmp_path):
    cfg = resolved(tmp_path, request("cuda", 8, epochs=2))
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.data_root == "/data/coco/"
    assert cfg.val_evaluator.ann_file == "/data/coco/annotations/instances_val2017.json"
    assert cfg.test_evaluator.ann_file == "/data/coco/annotations/instances_val2017.json"
    assert (cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval, cfg.train_cfg.type) == (2, 1, "EpochBasedTrainLoop")
    assert cfg.randomness.seed == 3
    assert cfg.auto_scale_lr.base_batch_size == 16
    assert cfg.model.backbone.depth == 101 and cfg.model.backbone.dcn.type == "DCN"
    assert cfg.env_cfg.dist_cfg.backend == "nccl"
    assert "model_wrapper_cfg" not in cfg


def test_cpu_processes_use_gloo_and_no_device_ids(tmp_path):
    cfg = resolved(tmp_path, request("cpu", 2, bench="smoke"))
    assert cfg.env_cfg.dist_cfg.backend == "gloo"
    assert cfg.model_wrapper_cfg == {"type": "MMDistributedDataParallel", "device_ids": None}
    assert cfg.model.backbone.depth == 18 and cfg.model.backbone.init_cfg is None


def test_train_py_is_found_in_the_installed_mmdet():
    assert (mmdet_tools_dir() / "train.py").is_file()


def test_synthetic_benchmarks_resize_to_the_size_their_data_is_made_at():
    """[synthetic] image_size (the data) and the config's Resize scale (the pipeline) must agree."""
    for bench in benchmarks.benchmarks().values():
        if bench.synthetic is None:
            continue
        cfg = Config.fromfile(bench.config_path.replace("mmdet::", ""))
        for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
            (resize,) = [step for step in pipeline if step["type"] == "Resize"]
            assert resize["scale"] == (bench.synthetic.image_size,) * 2, bench.name
