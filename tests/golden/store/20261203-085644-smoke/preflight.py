"""The preflight, run where the training will run (this machine, the image's container, each Slurm node),
just before it: `python preflight.py SPEC_JSON -- TRAINING_ARGV...`. It checks the stack, mmcv's compiled
ops on the device, the devices, /dev/shm and the rendezvous port, prints one line for the harness
(`harness-preflight: {...}`), and then becomes the training or exits PREFLIGHT_FAILED. It becomes the
training in this very process (as `python SCRIPT` or `python -m MODULE` would run it), so the seconds spent
importing torch and mmcv for the checks are not spent twice.

Self-contained on purpose (the standard library, then torch and mmcv): the harness copies this file into
the run directory, so an image or a node runs the preflight of the harness that started the run."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from importlib import metadata

MARKER = "harness-preflight: "
PREFLIGHT_FAILED = 98
PREFETCH_FACTOR = 2  # torch's DataLoader default: batches in flight per worker
DEFAULT_SCALE = (1333, 800)  # mmdet's COCO resize, when the config names none


def check(name: str, ok: bool, detail: str, fix: str = "") -> dict:
    return {"name": name, "ok": ok, "detail": detail, "fix": "" if ok else fix}


def stack(expected: dict[str, str]) -> dict:
    """The pinned versions are the installed ones (torch's local part, +cpu or +cu121, aside)."""
    wrong = []
    for name, pinned in sorted(expected.items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed.split("+")[0] != pinned.split("+")[0]:
            wrong.append(f"{name} {installed} (pinned {pinned})")
    if wrong:
        return check("stack", False, ", ".join(wrong),
                     "rebuild the image (harness build) or reinstall the stack (python3 -m harness.bootstrap)")
    return check("stack", True, ", ".join(f"{n} {v}" for n, v in sorted(expected.items())) or "no pins given")


def device_name(platform: str) -> str:
    """torch's device type for a platform: Iluvatar's CoreX torch presents its GPUs as cuda devices."""
    return "cpu" if platform == "cpu" else "cuda"


def devices(platform: str, processes: int) -> dict:
    import torch

    if device_name(platform) == "cpu":
        cores = len(os.sched_getaffinity(0))
        ok = processes <= cores
        return check("devices", ok, f"{cores} CPU cores for {processes} process(es)",
                     f"ask for at most {cores} processes (--gpus) on this node")
    if not torch.cuda.is_available():
        return check("devices", False, f"torch {torch.__version__} sees no {platform} GPU",
                     "run where the GPUs are (the driver loaded, the devices passed to the container)")
    count = torch.cuda.device_count()
    free = []
    for index in range(min(count, processes)):
        available, total = torch.cuda.mem_get_info(index)
        free.append(f"{index}: {torch.cuda.get_device_name(index)} {available / 2**30:.1f}/{total / 2**30:.1f} GiB free")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "(all)")
    return check("devices", count >= processes, f"{count} visible, {processes} needed; " + "; ".join(free),
                 f"torch sees {count} GPUs (CUDA_VISIBLE_DEVICES={visible}): ask for fewer with --gpus, or free them")


def ops(platform: str) -> dict:
    """mmcv's compiled ops RepPoints runs (DeformConv2d in the head and the DCN backbone, nms in testing),
    forward and backward on a tiny tensor on the target device."""
    try:
        import torch
        from mmcv.ops import DeformConv2d, nms
    except ImportError as exc:
        return check("mmcv ops", False, f"cannot import mmcv.ops: {exc}",
                     "install the full mmcv built for this torch (not mmcv-lite; from source: MMCV_WITH_OPS=1)"
                     if "_ext" in str(exc) else "reinstall the stack")
    device = torch.device("cpu" if device_name(platform) == "cpu" else "cuda:0")
    try:
        conv = DeformConv2d(4, 4, 3, padding=1).to(device)
        x = torch.randn(1, 4, 8, 8, device=device, requires_grad=True)
        offset = torch.zeros(1, 18, 8, 8, device=device, requires_grad=True)
        conv(x, offset).sum().backward()
        boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0]], device=device)
        kept, _ = nms(boxes, torch.tensor([0.9, 0.8], device=device), 0.5)
        finite = bool(torch.isfinite(x.grad).all() and torch.isfinite(offset.grad).all())
    except Exception as exc:  # the op's own error says what the build lacks
        return check("mmcv ops", False, f"DeformConv2d/nms on {device}: {_first_line(exc)}", _ops_fix(str(exc)))
    return check("mmcv ops", finite and len(kept) == 1, f"DeformConv2d forward+backward, nms on {device}",
                 "mmcv's ops give wrong results on this device: rebuild mmcv for this torch")


def _ops_fix(message: str) -> str:
    if "no kernel image" in message:
        return "mmcv's ops were not compiled for this GPU's architecture: rebuild mmcv with TORCH_CUDA_ARCH_LIST naming it"
    if "not compiled with GPU support" in message:
        return "mmcv's ops were compiled for the CPU only: rebuild mmcv with FORCE_CUDA=1"
    return "rebuild mmcv against this torch and device"


def shared_memory(config_file: str, processes: int) -> dict:
    """/dev/shm must hold the batches the loader workers have in flight (torch passes them through it)."""
    workers, batch, (width, height) = _loader(config_file)
    if workers == 0:
        return check("/dev/shm", True, "no loader workers")
    need = processes * workers * PREFETCH_FACTOR * batch * 3 * width * height
    try:
        stats = os.statvfs("/dev/shm")
        free = stats.f_bavail * stats.f_frsize
    except OSError:
        free = 0
    detail = (f"{free / 2**20:.0f} MiB free, {need / 2**20:.0f} MiB needed ({processes} x {workers} workers x "
              f"{PREFETCH_FACTOR} batches of {batch} at {width}x{height})")
    return check("/dev/shm", free >= need, detail,
                 "docker: --shm-size (e.g. 2g) or --ipc-host; elsewhere enlarge /dev/shm, or fewer loader workers")


def _loader(config_file: str) -> tuple[int, int, tuple[int, int]]:
    from mmengine.config import Config

    loader = Config.fromfile(config_file).train_dataloader
    scales = [tuple(s) for s in _scales(loader.get("dataset", {}))] or [DEFAULT_SCALE]
    return int(loader.get("num_workers", 0)), int(loader.get("batch_size", 1)), max(scales, key=lambda s: s[0] * s[1])


def _scales(node):
    """Every (w, h) a pipeline step resizes to, at any depth of the dataset's config."""
    if isinstance(node, dict):
        scale = node.get("scale")
        if isinstance(scale, (list, tuple)) and len(scale) == 2 and all(isinstance(v, int) for v in scale):
            yield scale
        for value in node.values():
            yield from _scales(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _scales(value)


def rendezvous() -> dict:
    """A multi-node job's first node binds PET_MASTER_PORT; one node or --standalone picks a free port itself."""
    port = os.environ.get("PET_MASTER_PORT")
    if port is None or os.environ.get("PET_NODE_RANK", "0") != "0":
        return check("rendezvous port", True, "picked by torch.distributed" if port is None else f"{port} on the first node")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("", int(port)))
        except OSError as exc:
            return check("rendezvous port", False, f"port {port} is taken ({exc.strerror})",
                         "end the process holding it (a previous run's launcher?) or set another PET_MASTER_PORT")
    return check("rendezvous port", True, f"port {port} is free")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def run_checks(spec: dict) -> list[dict]:
    processes = int(spec["processes"])
    found = [stack(spec.get("expect", {}))]
    found.append(ops(spec["platform"]))
    found.append(devices(spec["platform"], processes))
    if spec.get("config"):
        found.append(_guarded("/dev/shm", lambda: shared_memory(spec["config"], processes)))
    found.append(rendezvous())
    return found


def _guarded(name: str, probe) -> dict:
    try:
        return probe()
    except Exception as exc:  # a probe that cannot tell is a failure that says why
        return check(name, False, f"could not check: {_first_line(exc)}", "see the error; --skip-preflight skips it")


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    command = argv[2:] if len(argv) > 1 and argv[1] == "--" else []
    started = time.monotonic()
    checks = run_checks(spec)
    report = {"node": socket.gethostname(), "seconds": round(time.monotonic() - started, 2), "checks": checks}
    print(MARKER + json.dumps(report), flush=True)
    if not all(c["ok"] for c in checks):
        return PREFLIGHT_FAILED
    if command:
        become(command)
    return 0


def become(command: list[str]) -> None:
    """Run `PYTHON SCRIPT ARGS` or `PYTHON -m MODULE ARGS` here, as the interpreter itself would; any other
    command replaces this process."""
    import runpy

    if len(command) > 2 and command[1] == "-m":
        sys.argv = [command[2], *command[3:]]
        runpy.run_module(command[2], run_name="__main__", alter_sys=True)
    elif len(command) > 1 and not command[1].startswith("-"):
        sys.argv, sys.path[0] = command[1:], os.path.dirname(os.path.abspath(command[1]))
        runpy.run_path(command[1], run_name="__main__")
    else:
        sys.stdout.flush()
        os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
