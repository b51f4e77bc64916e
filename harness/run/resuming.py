"""What `harness train --resume RUN` checks before a run continues: which runs may, from which checkpoint,
and which options may be given again (only the ones the run was started with)."""

from __future__ import annotations

import re
import socket
import zipfile
from pathlib import Path

from harness.errors import BadInput
from harness.files import write_text_atomic
from harness.spec.options import RunOptions
from harness.spec.runspec import RunSpec
from harness.store import layout
from harness.store.record import RunRecord

OPTION_NAMES = {"cfg_options": "cfg-option", "extra_args": "slurm-arg"}  # a RunSpec field -> the command-line option that sets it
CHANGEABLE = ("hang_timeout", "skip_preflight")  # RunSpec fields a resume may change
RESCHEDULABLE = ("time", "partition", "account", "qos")  # and SlurmOptions, on Slurm
CHECKPOINT = re.compile(r"^(epoch|iter)_(\d+)\.pth$")
REFUSED = {
    "succeeded": "it already finished; judge it with `harness verify {id}`",
    "diverged": "it diverged, and resuming would repeat the divergence; start a new run (e.g. with another "
                "--cfg-option) instead",
    "stopped": "it was stopped below the reference curve; start a new run instead",
}


def resumable(run_dir: Path) -> RunRecord:
    """The run's record, if it may be resumed; a run whose supervisor was lost is reconciled first."""
    from harness.run import reconcile

    if not layout.is_run(run_dir):
        raise BadInput(f"--resume {run_dir}: not a harness run (no {layout.RECORD}); pass a run id or directory")
    run = reconcile.current(run_dir)
    if run.kind != "train":
        article = "an" if run.kind == "eval" else "a"
        raise BadInput(f"--resume {run.run_id}: {article} {run.kind} run is not resumable; run `harness {run.kind}` "
                       "again")
    if run.status in REFUSED:
        raise BadInput(f"--resume {run.run_id}: not resumable: {REFUSED[run.status].format(id=run.run_id)}")
    refuse_if_alive(run, run_dir)
    return run


def refuse_if_alive(run: RunRecord, run_dir: Path) -> None:
    attempt = run.attempts[-1]
    if run.status == "running" and attempt.host and attempt.host != socket.gethostname():
        raise BadInput(f"--resume {run.run_id}: it is recorded as running on {attempt.host}; resume it there, "
                       "or once it has ended")
    from harness.run.reconcile import supervisors_of
    from harness.runtime import runtime_class  # the Docker SDK only for docker runs
    from harness.runtime.local import processes_in

    alive = [f"supervisor {pid}" for pid in supervisors_of(run_dir)]
    alive += [f"process {pid}" for pid in processes_in(run_dir)] + runtime_class(run.runtime).alive(run, run_dir)
    if alive:
        raise BadInput(f"--resume {run.run_id}: it is still running ({', '.join(dict.fromkeys(alive))}); stop "
                       f"it first: harness stop {run.run_id}")


def last_checkpoint(work_dir: Path) -> tuple[str, int] | None:
    """The checkpoint mmengine's --resume will load (named in work_dir/last_checkpoint), and its epoch or iteration.

    last_checkpoint holds the path as the training process saw it (inside a container: /work/run/...),
    so only its file name is trusted, and it must be in work_dir."""
    name = _pointed_at(work_dir)
    match = CHECKPOINT.match(name or "")
    if not match or not (work_dir / name).is_file():
        return None
    return name, int(match[2])


def point_at_complete(work_dir: Path, site_work_dir: Path) -> tuple[str, int] | None:
    """Before a resume: last_checkpoint names the newest complete checkpoint. A save cut short (a full disk, a
    killed process) leaves a file without the zip archive's closing directory, which torch writes last, and
    last_checkpoint may then name it, or be empty; a resume never starts from such a file. None: no complete
    checkpoint (the pointer is removed, and the run starts again from the start)."""
    named = last_checkpoint(work_dir)
    if named is not None and zipfile.is_zipfile(work_dir / named[0]):
        return named
    complete = sorted(((m[1], int(m[2]), p.name) for p in work_dir.glob("*.pth")
                       if (m := CHECKPOINT.match(p.name)) and zipfile.is_zipfile(p)), key=lambda c: c[1])
    pointer = work_dir / "last_checkpoint"
    if not complete:
        pointer.unlink(missing_ok=True)
        return None
    _, number, name = complete[-1]
    write_text_atomic(pointer, str(site_work_dir / name))
    return name, number


def _pointed_at(work_dir: Path) -> str | None:
    try:
        return Path((work_dir / "last_checkpoint").read_text().strip()).name or None
    except (OSError, UnicodeDecodeError):
        return None


def resumed_spec(spec: RunSpec, options: RunOptions) -> RunSpec:
    """The spec the next attempt runs with: what a resume may change changed, anything else given refused
    unless it is what the run was started with."""
    resumed, rest = with_changes(spec, options.given())
    refuse_conflicts(resumed, rest)
    return resumed


def with_changes(spec: RunSpec, given: dict) -> tuple[RunSpec, dict]:
    """What a resume may change: the hang timeout (a run stopped as hung may have needed a longer one), the
    preflight's skipping and, on Slurm, the time limit, partition, account and QOS (where and for how long
    the next job is scheduled, not what it computes). Returns the spec the new attempt runs with, and the
    rest of given (which must match)."""
    changes = {key: given[key] for key in CHANGEABLE if key in given}
    slurm = {key: given[key] for key in RESCHEDULABLE if key in given} if spec.runtime == "slurm" else {}
    rest = {key: value for key, value in given.items() if key not in changes and key not in slurm}
    return spec.model_copy(update={**changes, "slurm": spec.slurm.model_copy(update=slurm)}), rest


def refuse_conflicts(spec: RunSpec, given: dict) -> None:
    """given: the options the user typed, by RunSpec field name; each must be what the run was started with."""
    recorded = {**spec.model_dump(exclude={"docker", "slurm"}), **spec.docker.model_dump(), **spec.slurm.model_dump()}
    for key, value in given.items():
        was = recorded.get(key)
        if _normal(value) != _normal(was):
            option = OPTION_NAMES.get(key, key.replace("_", "-"))
            raise BadInput(f"--{option} {_shown(value)} conflicts with the run's {_shown(was)}: a resume continues the "
                           "run as it was started (start a new run to change it)")


def _normal(value):
    if isinstance(value, (list, tuple)):
        return tuple(_normal(v) for v in value)
    if isinstance(value, Path):
        return str(value.resolve())
    return value


def _shown(value) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value)) or "(none)"
    return "(default)" if value is None else str(value)
