"""All contact with the Slurm scheduler (sbatch, scontrol, scancel, sinfo) goes through this module.

Job state comes from `scontrol show job`: it answers for a finished job too (for MinJobAge, 300 s by
default) and needs no accounting database, which `sacct` does."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from harness.errors import BadInput, InfrastructureError

TIMEOUT = 30
FIELD = re.compile(r"(\w+)=(\S*)")
# States after which the job will not run again (a requeued job goes back to PENDING instead).
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL",
         "DEADLINE", "SPECIAL_EXIT"}


class JobInfo(BaseModel):
    """One batch job as `scontrol show job` describes it."""

    model_config = ConfigDict(frozen=True)
    job_id: str
    state: str
    reason: str | None = None
    exit_code: int = 0
    exit_signal: int = 0
    nodes: str | None = None
    partition: str | None = None
    restarts: int = 0

    @property
    def final(self) -> bool:
        return self.state in FINAL


class NodeInfo(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    state: str
    cpus: int
    gres: str | None = None
    partitions: str | None = None


def submit(script: Path) -> str:
    """The job id sbatch gave the batch script."""
    out = _run(["sbatch", "--parsable", str(script)], "submit the batch job")
    return out.strip().split(";")[0]


def job(job_id: str) -> JobInfo | None:
    """None once the controller has forgotten the job."""
    try:
        out = _run(["scontrol", "show", "job", "-o", job_id], "read the job's state")
    except InfrastructureError as exc:
        if "Invalid job id" in str(exc):
            return None
        raise
    return parse_job(out)


def parse_job(text: str) -> JobInfo:
    fields = dict(FIELD.findall(text))
    code, _, sig = fields.get("ExitCode", "0:0").partition(":")
    return JobInfo(job_id=fields["JobId"], state=fields.get("JobState", "UNKNOWN"),
                   reason=_none(fields.get("Reason")), exit_code=int(code or 0), exit_signal=int(sig or 0),
                   nodes=_none(fields.get("NodeList")), partition=_none(fields.get("Partition")),
                   restarts=int(fields.get("Restarts", "0") or 0))


def cancel(job_id: str) -> None:
    _run(["scancel", job_id], "cancel the job")


def nodes() -> list[NodeInfo]:
    out = _run(["scontrol", "show", "node", "-o"], "list the nodes")
    found = []
    for line in out.splitlines():
        fields = dict(FIELD.findall(line))
        if "NodeName" in fields:
            found.append(NodeInfo(name=fields["NodeName"], state=fields.get("State", "UNKNOWN"),
                                  cpus=int(fields.get("CPUTot", "0") or 0), gres=_none(fields.get("Gres")),
                                  partitions=_none(fields.get("Partitions"))))
    return found


def partitions() -> dict[str, str]:
    """Partition name -> state (UP, DOWN, ...); the default one's name carries no '*' here."""
    out = _run(["sinfo", "-h", "-o", "%P %a"], "list the partitions")
    found = {}
    for line in out.splitlines():
        name, _, state = line.strip().partition(" ")
        found[name.rstrip("*")] = state.strip().upper()
    return found


def default_partition() -> str | None:
    out = _run(["sinfo", "-h", "-o", "%P"], "list the partitions")
    return next((p.rstrip("*") for p in out.split() if p.endswith("*")), None)


def check_partition(name: str | None) -> None:
    """The controller answers, and the partition (or a default one) exists and is up."""
    found = partitions()
    wanted = name or default_partition()
    if wanted is None:
        raise BadInput("the Slurm cluster has no default partition; name one with --partition")
    if wanted not in found:
        raise BadInput(f"no Slurm partition {wanted!r} (partitions: {', '.join(sorted(found)) or 'none'})")
    if found[wanted] != "UP":
        raise InfrastructureError(f"Slurm partition {wanted!r} is {found[wanted].lower()}, not up")


def _run(argv: list[str], what: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
    except FileNotFoundError:
        raise InfrastructureError(f"{argv[0]} not found: run on a Slurm submit host (Slurm's client commands on "
                                  "PATH)") from None
    except subprocess.TimeoutExpired:
        raise InfrastructureError(f"could not {what}: {argv[0]} did not answer within {TIMEOUT} s (is slurmctld "
                                  "up?)") from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise InfrastructureError(f"could not {what}: {message[-1] if message else f'{argv[0]} failed'}")
    return done.stdout


def _none(value: str | None) -> str | None:
    return None if value in (None, "", "(null)", "None") else value
