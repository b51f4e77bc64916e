"""`harness doctor`: what a containerized run (or a Slurm job) needs, each check ok or with the fix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from harness.data.check import check_dataset
from harness.edges import docker_engine
from harness.edges.host import GPU_TOOLS
from harness.errors import HarnessError
from harness.job import preflight
from harness.runtime.container import GpuOptions, probe_spec
from harness.runtime.docker import host_facts
from harness.spec.choices import Platform
from harness.spec.platforms import load_platform
from harness.store import layout
from harness.store.record import NodePreflight

GIB = 1024 ** 3
PREFLIGHT_SECONDS = 300
PROBE = {platform: [tool, "-L"] for platform, tool in GPU_TOOLS.items()}  # run inside a probe container


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class DoctorOptions:
    platform: Platform
    gpus: int = 1
    data: Path | None = None
    min_free_gb: float = 10.0
    min_shm_gb: float = 1.0
    nodes: int = 1  # slurm
    partition: str | None = None  # slurm; None: the cluster's default


def diagnose_with(runtime: str, options: DoctorOptions) -> tuple[list[Check], NodePreflight | None]:
    """The checks for the runtime the run will use, and the preflight's report where one ran."""
    if runtime == "slurm":
        return diagnose_slurm(options), None
    return diagnose_local(options) if runtime == "local" else diagnose(options)


def diagnose_slurm(options: DoctorOptions) -> list[Check]:
    """The controller, the partition, its nodes and GPUs as the scheduler sees them, a shared run directory."""
    from harness.edges import slurm_scheduler
    from harness.runtime import slurm

    try:
        slurm_scheduler.check_partition(options.partition)
        partition = options.partition or slurm_scheduler.default_partition()
    except HarnessError as exc:
        return [Check("Slurm controller and partition", False, str(exc),
                      "start slurmctld, or point SLURM_CONF at the cluster's slurm.conf; name a partition that is up"),
                _dataset(options.data), _free_disk(layout.root(), options.min_free_gb)]
    found = [n for n in slurm_scheduler.nodes() if partition in (n.partitions or "").split(",")]
    usable = [n for n in found if n.state.split("+")[0].rstrip("*") in ("IDLE", "MIXED", "ALLOCATED", "COMPLETING")]
    shown = ", ".join(f"{n.name} {n.state.lower()} {n.cpus} CPUs {n.gres or 'no GPUs'}" for n in found)
    nodes_ok = len(usable) >= options.nodes
    kind = slurm.filesystem_type(layout.nearest_existing(layout.root()))
    shared_ok = kind not in slurm.NODE_LOCAL_FILESYSTEMS
    return [Check("Slurm controller and partition", True, f"partition {partition} is up"),
            Check("Slurm nodes", nodes_ok, shown or "none", "" if nodes_ok else
                  f"--nodes {options.nodes} needs that many usable nodes in {partition}"),
            Check("run directory shared", shared_ok, f"{layout.root()} is on {kind}",
                  "" if shared_ok else "put HARNESS_RESULTS on a filesystem every node mounts"),
            _dataset(options.data), _free_disk(layout.root(), options.min_free_gb)]


def diagnose(options: DoctorOptions) -> tuple[list[Check], NodePreflight | None]:
    """The docker runtime's needs, and the run's preflight inside the platform's image."""
    engine, client = _engine()
    image, image_id = _image(client, options.platform)
    checks = [engine, image, _gpus(client, image_id, options), _dataset(options.data),
              _free_disk(layout.root(), options.min_free_gb), _shared_memory(options.min_shm_gb)]
    if image_id is None or not checks[2].ok:  # no image, or no GPUs through it: the preflight would fail the same way
        return checks, None
    labels = docker_engine.image(client, image_id).labels
    command = ["python3", "-m", "harness.job.preflight_probe", _probe_json(options, labels)]
    spec = probe_spec("harness-doctor-preflight", image_id, command, GpuOptions(platform=options.platform,
                                                                                gpus=options.gpus), host_facts(client))
    lines: list[str] = []
    try:
        docker_engine.run_container(client, spec, lines.append)
    except HarnessError as exc:
        return [*checks, Check("preflight in the image", False, str(exc), "fix the rows above")], None
    return _with_preflight(checks, lines, "the image predates the preflight: harness build --platform "
                           f"{options.platform}")


def diagnose_local(options: DoctorOptions) -> tuple[list[Check], NodePreflight | None]:
    """The local runtime's needs: the run's preflight in this Python environment, the dataset, the disk."""
    done = subprocess.run([sys.executable, str(preflight.PROBE_SOURCE), _probe_json(options, None)],
                          capture_output=True, text=True, timeout=PREFLIGHT_SECONDS)
    checks = [_dataset(options.data), _free_disk(layout.root(), options.min_free_gb), _shared_memory(options.min_shm_gb)]
    return _with_preflight(checks, done.stdout.splitlines(), done.stderr.strip()[-300:] or "no report")


def _probe_json(options: DoctorOptions, image_labels: dict[str, str] | None) -> str:
    """The preflight a run of --gpus processes gets (no run config: /dev/shm is the row above)."""
    return json.dumps({"platform": options.platform, "processes": options.gpus,
                       "expect": preflight.expected_stack(options.platform, image_labels), "config": None})


def _with_preflight(checks: list[Check], lines: list[str], why_none: str) -> tuple[list[Check], NodePreflight | None]:
    reports = [r for r in map(preflight.report_of, lines) if r is not None]
    if not reports:
        return [*checks, Check("preflight", False, "it printed no report", why_none)], None
    failed = reports[0].failed
    return [*checks, Check("preflight", not failed, "ok" if not failed else ", ".join(c.name for c in failed),
                           "see the preflight table" if failed else "")], reports[0]


def _engine():
    try:
        client = docker_engine.connect()
    except HarnessError as exc:
        return Check("Docker engine", False, str(exc).split(";")[0], "start dockerd, or export DOCKER_HOST=unix:///path/docker.sock"), None
    return Check("Docker engine", True, f"{os.environ.get('DOCKER_HOST', 'default socket')}, "
                 f"{client.version().get('Version', '?')}"), client


def _image(client, platform: str):
    reference = f"{load_platform(platform).image}:latest"
    if client is None:
        return Check("image", False, f"{reference}: no engine to ask", "fix the engine first"), None
    found = docker_engine.image(client, reference)
    if found is None:
        return Check("image", False, f"{reference} is not built", f"harness build --platform {platform}"), None
    return Check("image", True, f"{reference} ({found.id.removeprefix('sha256:')[:12]})"), found.id


def _gpus(client, image_id: str | None, options: DoctorOptions) -> Check:
    if options.platform == "cpu":
        return Check("GPUs through the engine", True, "none needed on the cpu platform")
    if image_id is None:
        return Check("GPUs through the engine", False, "needs the engine and the image", "fix the rows above")
    gpu = GpuOptions(platform=options.platform, gpus=options.gpus)
    try:
        spec = probe_spec("harness-doctor-probe", image_id, PROBE[options.platform], gpu, host_facts(client))
        lines: list[str] = []
        ended = docker_engine.run_container(client, spec, lines.append)
    except HarnessError as exc:
        return Check("GPUs through the engine", False, str(exc), _gpu_fix(options.platform))
    listed = [line for line in lines if line.startswith("GPU ")]
    if ended.status_code != 0 or len(listed) < options.gpus:
        return Check("GPUs through the engine", False, f"{PROBE[options.platform][0]} saw {len(listed)} GPUs "
                     f"(exit {ended.status_code})", _gpu_fix(options.platform))
    return Check("GPUs through the engine", True, f"{len(listed)} visible: {listed[0].strip()}")


def _gpu_fix(platform: str) -> str:
    return ("install the NVIDIA Container Toolkit and restart dockerd" if platform == "cuda"
            else "install Iluvatar's container runtime (runtime=iluvatar), or check /dev/iluvatar* nodes")


def _dataset(data: Path | None) -> Check:
    if data is None:
        return Check("dataset", True, "none given: the smoke benchmark generates its synthetic data")
    try:
        summary = check_dataset(data)
    except HarnessError as exc:
        return Check("dataset", False, str(exc), "pass --data the COCO 2017 root (annotations/, train2017/, val2017/)")
    return Check("dataset", True, f"{summary.path}: " + ", ".join(f"{s.split} {s.images}" for s in summary.splits))


def _free_disk(results: Path, minimum_gb: float) -> Check:
    existing = layout.nearest_existing(results)
    free = shutil.disk_usage(existing).free / GIB
    ok = free >= minimum_gb and layout.writable(results)
    return Check("free disk under results/", ok, f"{free:.0f} GiB free at {existing}",
                 "" if ok else f"free space (at least {minimum_gb:.0f} GiB) or set HARNESS_RESULTS elsewhere")


def _shared_memory(minimum_gb: float) -> Check:
    shm = Path("/dev/shm")
    if not shm.is_dir():
        return Check("shared memory", False, "/dev/shm is missing", "mount a tmpfs on /dev/shm")
    size = shutil.disk_usage(shm).total / GIB
    ok = size >= minimum_gb
    return Check("shared memory", ok, f"/dev/shm {size:.1f} GiB (containers get --shm-size, default 2g)",
                 "" if ok else f"enlarge /dev/shm to {minimum_gb:.0f} GiB for local runs")


def table(checks: list[Check]) -> Table:
    result = Table("check", "state", "detail", "fix", title="harness doctor")
    for check in checks:
        result.add_row(check.name, "[green]ok[/]" if check.ok else "[red]FAIL[/]", check.detail, check.fix)
    return result
