"""The exact job a run executes: a generated mmengine config and a command as a list of strings."""

from __future__ import annotations

import importlib.util
import pprint
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from harness.errors import BadInput, InfrastructureError
from harness.spec.benchmarks import Benchmark
from harness.spec.choices import Platform

# torch >= 2.6 refuses mmengine 0.10.7's checkpoints (they hold a HistoryBuffer) unless told
# otherwise; only checkpoints the run itself wrote are loaded.
# A loss this many times its early maximum has exploded (measured: 2.2 -> 4.9e3 -> 1.9e11, then a crash).
DIVERGENCE_GROWTH = 1000.0
TRAINING_ENV = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "PYTHONUNBUFFERED": "1"}


class BenchPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    warmup: int
    iters: int
    eval_images: int  # the evaluation's slice: the first images of the validation set
    val_images: int  # the whole validation set, which the projection scales the slice's time to


class JobRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    benchmark: Benchmark
    data_root: Path
    platform: Platform
    gpus: int  # per node
    nodes: int = 1  # more than one: torch.distributed's rendezvous comes from the environment (PET_*)
    gpu_ids: tuple[str, ...] | None = None  # the GPUs the job may see (CUDA_VISIBLE_DEVICES); None: all
    seed: int
    epochs: int
    configs_dir: Path | None = None  # where the job sees configs/, when not here (inside a container)
    checkpoint: Path | None = None  # set: test this checkpoint (tools/test.py) instead of training
    cfg_options: tuple[str, ...] = ()  # KEY=VALUE overrides, handed to mmdet's --cfg-options
    resume: bool = False  # continue from the work_dir's last checkpoint (mmengine's --resume)
    stop_below_curve: float | None = None  # margin (AP points) under the reference curve that stops the run
    bench: BenchPlan | None = None  # `harness bench`: an iteration loop of warmup + iters, timed by its hook


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    argv: list[str]
    env: dict[str, str]
    config_text: str
    total_batch: int


def mmdet_tools_dir() -> Path:
    """mmdet's pip package ships tools/train.py under mmdet/.mim/; find it without importing torch."""
    spec = importlib.util.find_spec("mmdet")
    if spec is None or spec.origin is None:
        raise InfrastructureError("mmdet is not installed here; run `python3 -m harness.bootstrap` first")
    tools = Path(spec.origin).parent / ".mim" / "tools"
    if not (tools / "train.py").is_file():
        raise InfrastructureError(f"mmdet is installed without its tools ({tools / 'train.py'} is missing)")
    return tools


def build_job(request: JobRequest, python: str, tools_dir: Path, config_file: Path, work_dir: Path) -> Job:
    return Job(
        argv=train_argv(request, python, tools_dir, config_file, work_dir),
        env={**TRAINING_ENV, **_visible_devices(request)},
        config_text=render_config(request),
        total_batch=request.nodes * request.gpus * batch_per_gpu(request),
    )


def batch_per_gpu(request: JobRequest) -> int:
    """The benchmark's batch per GPU, or the one a --cfg-option train_dataloader.batch_size=N sets."""
    for option in reversed(request.cfg_options):
        key, _, value = option.partition("=")
        if key == "train_dataloader.batch_size" and value.strip().isdigit():
            return int(value)
    return request.benchmark.schedule.batch_per_gpu


def _visible_devices(request: JobRequest) -> dict[str, str]:
    """Iluvatar's runtime honours CUDA_VISIBLE_DEVICES as CUDA's does."""
    if request.gpu_ids is None or request.platform == "cpu":
        return {}
    if len(request.gpu_ids) != request.gpus:
        raise BadInput(f"--gpu-ids names {len(request.gpu_ids)} GPUs but --gpus is {request.gpus}")
    return {"CUDA_VISIBLE_DEVICES": ",".join(request.gpu_ids)}


def train_argv(request: JobRequest, python: str, tools_dir: Path, config_file: Path, work_dir: Path) -> list[str]:
    if request.checkpoint is not None:
        train = [str(tools_dir / "test.py"), str(config_file), str(request.checkpoint), "--work-dir", str(work_dir)]
    else:
        # --auto-scale-lr always: the LR then follows the total batch, as mmdet's linear scaling rule says.
        train = [str(tools_dir / "train.py"), str(config_file), "--work-dir", str(work_dir), "--auto-scale-lr"]
        train += ["--resume"] if request.resume else []
    if request.cfg_options:
        train += ["--cfg-options", *request.cfg_options]
    if request.gpus == 1 and request.nodes == 1:
        return [python, *train]
    # Several nodes: each node's launcher reads its rank and the first node's address from PET_NODE_RANK,
    # PET_MASTER_ADDR and PET_MASTER_PORT, which the runtime sets where the node's process starts.
    rendezvous = ["--standalone"] if request.nodes == 1 else ["--nnodes", str(request.nodes)]
    launcher = [python, "-m", "torch.distributed.run", *rendezvous, "--nproc_per_node", str(request.gpus)]
    if request.platform == "cpu":
        launcher += ["-m", "harness.job.cpu_launch"]
    return [*launcher, *train, "--launcher", "pytorch"]


def render_config(request: JobRequest) -> str:
    """A one-base mmengine config: the benchmark's config plus the run's data, schedule and seed."""
    settings = _deep_merge(_run_settings(request), request.benchmark.overrides)
    lines = [
        "# Generated by harness for one run; the resolved config is dumped next to the logs.",
        f"_base_ = {_base_config(request)!r}",
        "",
    ]
    lines += [f"{key} = {pprint.pformat(value, width=100, sort_dicts=True)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def _base_config(request: JobRequest) -> str:
    if request.configs_dir is None:
        return request.benchmark.config_path
    return request.benchmark.config_path_in(request.configs_dir)


def _run_settings(request: JobRequest) -> dict:
    schedule = request.benchmark.schedule
    root = str(request.data_root.resolve()) + "/"
    settings: dict = {
        "train_dataloader": {"batch_size": schedule.batch_per_gpu, "dataset": {"data_root": root}},
        "val_dataloader": {"dataset": {"data_root": root}},
        "test_dataloader": {"dataset": {"data_root": root}},
        "val_evaluator": {"ann_file": root + "annotations/instances_val2017.json"},
        "test_evaluator": {"ann_file": root + "annotations/instances_val2017.json"},
        "train_cfg": {"max_epochs": request.epochs, "val_interval": schedule.val_interval},
        "auto_scale_lr": {"base_batch_size": schedule.base_batch_size},
        "randomness": {"seed": request.seed},
        **_harness_hooks(request),
    }
    if request.bench is not None:
        settings = {**_deep_merge(settings, _bench_settings(request.bench)), "train_cfg": _bench_loop(request.bench)}
    if request.platform == "cpu" and request.gpus * request.nodes > 1:
        # CPU processes talk over gloo; DDP must not be given device ids for a CPU model.
        settings["env_cfg"] = {"dist_cfg": {"backend": "gloo"}}
        settings["model_wrapper_cfg"] = {"type": "MMDistributedDataParallel", "device_ids": None}
    return settings


def _bench_loop(plan: BenchPlan) -> dict:
    """The benchmark's model, data pipeline and batch for warmup + iters iterations: mmengine's iteration loop,
    so a bench never waits for an epoch's end, and one evaluation at its end. `_delete_`: none of the epoch
    loop's keys reach it."""
    total = plan.warmup + plan.iters
    return {"_delete_": True, "type": "IterBasedTrainLoop", "max_iters": total, "val_interval": total}


def _bench_settings(plan: BenchPlan) -> dict:
    """The evaluation on a slice (the first images of the validation set); iteration-style log lines."""
    return {"val_dataloader": {"dataset": {"indices": min(plan.eval_images, plan.val_images)}},
            "log_processor": {"by_epoch": False}}


def _harness_hooks(request: JobRequest) -> dict:
    """harness.job.mmhooks, loaded by mmengine in the training process: per-epoch reseeding (exact resume),
    the divergence stop and, when asked, the stop below the reference curve."""
    if request.checkpoint is not None:
        return {}
    hooks: list[dict] = [{"type": "HarnessReseedHook"}, {"type": "HarnessDivergenceHook", "growth": DIVERGENCE_GROWTH}]
    if request.bench is not None:
        hooks.append({"type": "HarnessBenchHook", "warmup": request.bench.warmup,
                      "val_images": request.bench.val_images})
    if request.stop_below_curve is not None:
        curve = request.benchmark.reference().curve
        if not curve:
            raise BadInput(f"--stop-below-curve: the reference of {request.benchmark.name!r} records no per-epoch curve")
        hooks.append({"type": "HarnessCurveHook", "curve": curve, "margin": request.stop_below_curve})
    return {"custom_imports": {"imports": ["harness.job.mmhooks"], "allow_failed_imports": False}, "custom_hooks": hooks}


def _deep_merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
