"""What `harness train --resume RUN` checks before a run continues: which runs may, from which checkpoint,
and which options may be given again (only the ones the run was started with)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from harness import record, store
from harness.errors import BadInput
from harness.record import RunRecord
from harness.runspec import RunSpec

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
    """The run's record, if it may be resumed; a run left `running` by a harness that died is marked failed."""
    if not store.is_run(run_dir):
        raise BadInput(f"--resume {run_dir}: not a harness run (no {store.RECORD}); pass a run id or directory")
    run = store.read(run_dir)
    if run.kind != "train":
        article = "an" if run.kind == "eval" else "a"
        raise BadInput(f"--resume {run.run_id}: {article} {run.kind} run is not resumable; run `harness {run.kind}` "
                       "again")
    if run.status in REFUSED:
        raise BadInput(f"--resume {run.run_id}: not resumable: {REFUSED[run.status].format(id=run.run_id)}")
    refuse_if_alive(run, run_dir)
    return _ended_without_a_word(run) if run.status == "running" else run


def refuse_if_alive(run: RunRecord, run_dir: Path) -> None:
    attempt = run.attempts[-1]
    if run.status == "running" and attempt.host and attempt.host != socket.gethostname():
        raise BadInput(f"--resume {run.run_id}: it is recorded as running on {attempt.host}; resume it there, "
                       "or once it has ended")
    from harness.runtime import runtime_class  # the Docker SDK only for docker runs

    alive = processes_in(run_dir) + runtime_class(run.runtime).alive(run)
    if alive:
        raise BadInput(f"--resume {run.run_id}: it is still running (process {', '.join(map(str, alive))}); stop "
                       "it first (Ctrl-C in its terminal, or kill -INT)")


def processes_in(run_dir: Path) -> list[int]:
    """Processes whose working directory is the run directory: the job's (and only the job's) processes."""
    target, found = run_dir.resolve(), []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if cwd.resolve(strict=True) == target:
                found.append(int(cwd.parent.name))
        except (OSError, RuntimeError):
            continue
    return sorted(found)


def _ended_without_a_word(run: RunRecord) -> RunRecord:
    error = "the harness process ended without recording the end of the run (killed, or the machine went down)"
    last = run.attempts[-1].model_copy(update={"status": "failed", "finished": run.attempts[-1].finished or record.now(),
                                               "error": error})
    return run.model_copy(update={"status": "failed", "error": error, "attempts": [*run.attempts[:-1], last]})


def last_checkpoint(work_dir: Path) -> tuple[str, int] | None:
    """The checkpoint mmengine's --resume will load (named in work_dir/last_checkpoint), and its epoch or iteration.

    last_checkpoint holds the path as the training process saw it (inside a container: /work/run/...),
    so only its file name is trusted, and it must be in work_dir."""
    pointer = work_dir / "last_checkpoint"
    if not pointer.is_file():
        return None
    name = Path(pointer.read_text().strip()).name
    match = CHECKPOINT.match(name)
    if not match or not (work_dir / name).is_file():
        return None
    return name, int(match[2])


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
