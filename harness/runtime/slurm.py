"""`--runtime slurm`: the job as a Slurm batch job, one torch.distributed launcher per node (srun), followed
through its output file in the run directory as a local run is followed through its pipe.

Why torch.distributed's launcher and not mmengine's `--launcher slurm` (mmdet's slurm_train.sh): the same
launcher and code path as a local multi-GPU run (`--launcher pytorch`, the cpu shim), one launcher per node
that watches its own workers, and none of mmengine's slurm launcher's assumptions (it divides by
torch.cuda.device_count(), which is 0 on the cpu platform, and fixes port 29500 for every job on a node).
The rendezvous is static: node rank from Slurm, the first node's address and a port from the job id."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Iterator

from harness.edges import slurm_scheduler
from harness.edges.slurm_scheduler import JobInfo
from harness.errors import BadInput, InfrastructureError
from harness.job.command import Job, JobRequest, mmdet_tools_dir
from harness.runtime.base import Ending, JobSite, Lost, Runtime
from harness.runtime.container import docker_run_argv
from harness.runtime.tail import Tail, complete_log
from harness.spec.runspec import RunSpec, SlurmOptions
from harness.store.record import RunRecord, SlurmJob

# What a node's task hands into its container by name: its rank, the rendezvous, its CPU share, the interface.
PASSED_ENV = ("PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT", "OMP_NUM_THREADS", "GLOO_SOCKET_IFNAME",
              "NCCL_SOCKET_IFNAME")
POLL_SECONDS = 1.0
STOP_SECONDS = 60
NOT_VISIBLE = 97  # a node's task exits so when it cannot see the run directory
NODE_LOCAL_FILESYSTEMS = {"tmpfs", "ramfs", "devtmpfs"}
REQUEUED = "harness: Slurm requeued job"  # the supervisor's own line in console.log
ENDINGS = {
    "CANCELLED": "the Slurm job was cancelled (scancel, or an administrator)",
    "TIMEOUT": "the Slurm job reached its time limit ({time}); resume it, with a longer --time if it needs one",
    "NODE_FAIL": "a node of the Slurm job failed ({nodes})",
    "OUT_OF_MEMORY": "the Slurm job ran out of memory (ask for more with --slurm-arg=--mem=..., or lower the batch)",
    "PREEMPTED": "the Slurm job was preempted and not requeued",
    "BOOT_FAIL": "the Slurm job's nodes failed to boot ({nodes})",
    "DEADLINE": "the Slurm job missed its deadline",
}


class SlurmRuntime(Runtime):
    name = "slurm"
    stopped = "the Slurm job was cancelled (scancel)"

    def __init__(self, spec: RunSpec, request: JobRequest, run_dir: Path, image_id: str | None = None,
                 dry_run: bool = False):
        super().__init__(spec, request, run_dir, image_id, dry_run)
        refuse_node_local(run_dir)
        try:
            slurm_scheduler.check_partition(spec.slurm.partition)
        except InfrastructureError as exc:
            if not dry_run:
                raise
            self.warnings.append(f"the partition was not checked: {exc}")  # a dry-run prints the script anyway
        self.container = None  # --container docker: the docker runtime describes the container
        if spec.slurm.container == "docker":
            from harness.runtime.docker import DockerRuntime  # the Docker SDK only for container jobs

            self.container = DockerRuntime(spec, request, run_dir, image_id, dry_run)
        self.script_text = ""
        self.script: Path | None = None
        self.info: JobInfo | None = None

    def job_site(self) -> JobSite:
        if self.container is not None:
            return self.container.job_site()
        return JobSite(python=sys.executable, tools_dir=mmdet_tools_dir(), run_dir=self.run_dir)

    def job_request(self) -> JobRequest:
        """--gpus processes on each of --nodes nodes (in the container's paths with --container docker)."""
        request = self.container.job_request() if self.container is not None else self.request
        return request.model_copy(update={"nodes": self.spec.slurm.nodes})

    def prepare(self, job: Job) -> None:
        if self.container is not None:
            self.container.prepare(job)
            job = job.model_copy(update={"argv": docker_run_argv(self.container.container_spec, PASSED_ENV), "env": {}})
        self.script_text = batch_script(job, self.spec.slurm, self.request, self.run_dir, resumable=self.spec.kind == "train")

    def preview(self, job: Job) -> str:
        return self.script_text

    def start(self, job: Job) -> None:
        self.script = _next_free(self.run_dir, "slurm-job-{}.sh")
        self.script.write_text(self.script_text)
        job_id = slurm_scheduler.submit(self.script)
        self.info = slurm_scheduler.job(job_id) or JobInfo(job_id=job_id, state="PENDING")

    def follow(self) -> Iterator[str]:
        """The output file's new lines; the scheduler is asked about the job between reads."""
        tail = Tail(self.run_dir / f"slurm-{self.info.job_id}.out")
        last_poll, restarts = 0.0, self.info.restarts
        while True:
            lines = tail.read()
            yield from lines
            if time.monotonic() - last_poll >= POLL_SECONDS:
                last_poll = time.monotonic()
                ended = self._refresh()
                if self.info.restarts > restarts:
                    restarts = self.info.restarts
                    yield f"{REQUEUED} {self.info.job_id} (restart {restarts}, {self.info.reason})\n"
                if ended:
                    yield from tail.read(final=True)
                    return
            if not lines:
                time.sleep(0.2)

    def _refresh(self) -> bool:
        """Whether the job has ended for good."""
        info = slurm_scheduler.job(self.info.job_id)
        if info is None:  # forgotten by the controller: it ended long ago
            self.info = self.info.model_copy(update={"state": self.info.state if self.info.final else "UNKNOWN"})
            return True
        self.info = info
        return info.final

    def ending(self) -> Ending:
        return ending_of(self.info, self.spec.slurm.time)

    def stop(self) -> None:
        """scancel, then wait (bounded) until the scheduler says the job has ended."""
        if self.info is None:
            return
        slurm_scheduler.cancel(self.info.job_id)
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline and not self._refresh():
            time.sleep(POLL_SECONDS)

    def image_labels(self) -> dict[str, str] | None:
        return self.container.image_labels() if self.container is not None else None

    def facts(self) -> dict:
        image = self.container.facts() if self.container is not None else {}
        if self.info is None:
            return image
        info = self.info
        return {**image, "slurm": SlurmJob(job_id=info.job_id, batch_script=self.script.name, state=info.state,
                                  reason=info.reason, nodes=info.nodes, partition=info.partition,
                                  restarts=info.restarts)}

    @classmethod
    def alive(cls, run: RunRecord, run_dir: Path) -> list[str]:
        if run.slurm is None:
            return []
        info = slurm_scheduler.job(run.slurm.job_id)
        return [f"Slurm job {info.job_id} ({info.state.lower()})"] if info is not None and not info.final else []

    @classmethod
    def lost_ending(cls, run: RunRecord, run_dir: Path) -> Lost | None:
        """The batch job's state from the controller; its output file completes console.log."""
        if run.slurm is None:  # lost before sbatch answered
            return Lost(Ending(None, "the batch job was never submitted"))
        recorded = run.slurm
        info = slurm_scheduler.job(recorded.job_id)
        if info is not None and not info.final:
            return None
        output = (run_dir / f"slurm-{recorded.job_id}.out")
        complete_log(run_dir / run.console_log, run.attempts[-1].log_offset,
                     output.read_bytes() if output.is_file() else b"", skip=(REQUEUED.encode(),))
        if info is None:
            return Lost(Ending(None, f"the controller no longer knows Slurm job {recorded.job_id}"))
        facts = recorded.model_copy(update={"state": info.state, "reason": info.reason, "nodes": info.nodes,
                                            "restarts": info.restarts})
        return Lost(ending_of(info, run.spec.slurm.time), {"slurm": facts})

    @classmethod
    def stop_lost(cls, run: RunRecord, run_dir: Path) -> None:
        """scancel, then wait (bounded) until the scheduler says the job has ended."""
        if run.slurm is None:
            return
        slurm_scheduler.cancel(run.slurm.job_id)
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline and (info := slurm_scheduler.job(run.slurm.job_id)) and not info.final:
            time.sleep(POLL_SECONDS)


def ending_of(info: JobInfo, time_limit: str | None) -> Ending:
    """How a job that ended for good ended: its exit code, and the scheduler's reason when it ended it."""
    if info.state == "COMPLETED":
        return Ending(info.exit_code, None)
    if info.state == "FAILED":
        if info.exit_code == NOT_VISIBLE:
            return Ending(info.exit_code, "a node could not see the run directory: put it on a filesystem "
                                          "every node mounts (see the job's output)")
        code = info.exit_code or 128 + info.exit_signal
        return Ending(code, None if info.exit_code else f"the Slurm job was killed by signal {info.exit_signal}")
    cause = ENDINGS.get(info.state, "the Slurm job ended {state} ({reason})")
    detail = cause.format(state=info.state, reason=info.reason, nodes=info.nodes, time=time_limit or "the partition's limit")
    return Ending(info.exit_code or 1, f"{detail} [Slurm job {info.job_id}, state {info.state}]")


def batch_script(job: Job, options: SlurmOptions, request: JobRequest, run_dir: Path, resumable: bool) -> str:
    """The batch script, from data: #SBATCH directives, the environment, one srun step."""
    directives = [f"--job-name=harness-{run_dir.name}", f"--nodes={options.nodes}", "--ntasks-per-node=1",
                  f"--output={run_dir}/slurm-%j.out", "--open-mode=append", f"--chdir={run_dir}",
                  "--requeue" if resumable else "--no-requeue"]
    if request.platform != "cpu":
        directives.append(f"--gpus-per-node={request.gpus}")
    directives += [f"--{name}={value}" for name in ("partition", "time", "account", "qos")
                   if (value := getattr(options, name))]
    directives += list(options.extra_args)
    # Each node's task: check the run directory is visible there, take the node's rank, give each process its
    # share of the node's CPUs (torch's default, every core per process, oversubscribes a node), start.
    share = f"$(( ${{SLURM_CPUS_ON_NODE:-{request.gpus}}} / {request.gpus} ))"
    node_task = (f'test -w "$1" || {{ echo "harness: run directory $1 is not visible on $(hostname)"; '
                 f'exit {NOT_VISIBLE}; }}; shift; export PET_NODE_RANK=$SLURM_NODEID; '
                 f'threads={share}; export OMP_NUM_THREADS=${{OMP_NUM_THREADS:-$(( threads > 0 ? threads : 1 ))}}; '
                 'exec "$@"')
    lines = ["#!/bin/bash", *(f"#SBATCH {shlex.quote(d)}" for d in directives),
             f"# Generated by harness for run {run_dir.name}: one torch.distributed launcher per node, the "
             "rendezvous on the first node.",
             "set -eu",
             'head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
             'export PET_MASTER_ADDR=$(scontrol show node "$head" | sed -n \'s/.*NodeAddr=\\([^ ]*\\).*/\\1/p\')',
             "export PET_MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))",
             *(f"export {key}={shlex.quote(value)}" for key, value in sorted(job.env.items())),
             "again=()"]
    if resumable:
        lines += ['if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then',
                  '  echo "harness: restart $SLURM_RESTART_COUNT of Slurm job $SLURM_JOB_ID: resuming from the last '
                  'checkpoint"',
                  "  again=(--resume)",
                  "fi"]
    lines.append(f"srun --kill-on-bad-exit=1 bash -c {shlex.quote(node_task)} node {shlex.quote(str(run_dir))} "
                 f"{shlex.join(job.argv)} " + '"${again[@]}"')
    return "\n".join(lines) + "\n"


def refuse_node_local(run_dir: Path) -> None:
    """A run directory on a memory filesystem is one node's alone; the nodes would never see it."""
    kind = filesystem_type(run_dir)
    if kind in NODE_LOCAL_FILESYSTEMS:
        raise BadInput(f"the run directory {run_dir} is on {kind}, which only this machine sees; the Slurm job's "
                       "nodes need it on a shared filesystem (set HARNESS_RESULTS or --work-dir)")


def filesystem_type(path: Path) -> str | None:
    """The type of the mount holding path, from /proc/self/mounts (the longest mount point that contains it)."""
    best, kind = "", None
    target = str(path.resolve())
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        fields = line.split()
        if len(fields) > 2 and (target == fields[1] or target.startswith(fields[1].rstrip("/") + "/")):
            if len(fields[1]) >= len(best):
                best, kind = fields[1], fields[2]
    return kind


def _next_free(folder: Path, pattern: str) -> Path:
    number = 1
    while (folder / pattern.format(number)).exists():
        number += 1
    return folder / pattern.format(number)
