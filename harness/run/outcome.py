"""How a run ended, decided in one place: from the runtime's ending, the logs and the preflight, whether the run
succeeded, failed, diverged, stopped below the curve, hung or was interrupted; the final record written from it;
and, read back from a record, the error a command exits with.

The supervisor decides a run's outcome when its job ends; the reconciliation decides it, from the same
evidence, for a run whose supervisor was lost."""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from harness import logs
from harness.data import fingerprint
from harness.errors import BadInput, Diverged, HarnessError, Hung, InfrastructureError, Interrupted, StoppedEarly
from harness.job import preflight
from harness.job.preflight_probe import CHECKPOINT_CHECK
from harness.run import resuming
from harness.runtime.base import Ending
from harness.spec import benchmarks
from harness.spec.scaling import learning_rate
from harness.store import layout, record
from harness.store.record import RunRecord, Status

LOST = "the harness supervising this run was lost"
EXCEPTION_LINE = re.compile(r"^\w[\w.]*(Error|Exception|Interrupt)\b.*")


@dataclass(frozen=True)
class Outcome:
    status: Status
    code: int | None  # the job's exit code, when it has one
    error: str | None = None  # the reason, for every status but succeeded
    timed: object = None  # a bench's result
    reconciled: str | None = None  # decided for a run whose supervisor was lost: from what


def decide(run_dir: Path, started: RunRecord, parsed: logs.ParsedLog | None, ending: Ending,
           failed_check: str | None = None, lost: bool = False) -> Outcome:
    """The outcome of a job that ended by itself (not stopped by the harness): ending is the runtime's word on it,
    failed_check the preflight's first failure, lost: its supervisor was lost (the reconciliation decides)."""
    code, cause = ending
    if code not in (0, None) and failed_check:
        return Outcome("failed", code, failed_check)
    if parsed is not None and (parsed.diverged_at or parsed.stopped_early):
        return _stopped_in_process(run_dir, started, parsed, code)
    completed = code == 0 or (code is None and parsed is not None and bool(parsed.finished))
    if not completed:
        tail = console_tail(run_dir / started.console_log, started.attempts[-1].log_offset)
        why = cause or last_exception(tail)
        exited = f"training exited with code {code}: {_no_space(run_dir, tail) or why}" if code is not None else cause
        return Outcome("failed", code, f"{LOST}; {exited}" if lost else exited)
    if started.kind == "bench":
        try:
            return Outcome("succeeded", code, timed=_bench_result(run_dir, started))
        except InfrastructureError as exc:  # the training ended well but logged no timings: the bench failed
            return Outcome("failed", code, str(exc))
    return Outcome("succeeded", code)


NO_SPACE = "No space left on device"
NEARLY_FULL = 16 << 20  # bytes free under which a failed job's disk is taken for the cause


def _no_space(run_dir: Path, tail: str) -> str | None:
    """A disk that filled (during a checkpoint save, say) named as the cause: the job's own words when it could
    still write them, else the run directory's file system found (nearly) full."""
    try:
        stats = os.statvfs(run_dir)
    except OSError:
        return None
    free = stats.f_bavail * stats.f_frsize
    if NO_SPACE not in tail and free >= NEARLY_FULL:
        return None
    return (f"no space left on device: the file system of {run_dir} has {free / 2**20:.1f} MiB free; free some "
            "and resume the run (harness train --resume), which continues from the last complete checkpoint")


def _stopped_in_process(run_dir: Path, started: RunRecord, parsed: logs.ParsedLog, code: int | None) -> Outcome:
    """The harness's hooks ended the training: a divergence, or a run below the reference curve."""
    kept = resuming.last_checkpoint(run_dir / started.work_dir)
    checkpoint = f"; last checkpoint kept: {kept[0]}" if kept else "; no checkpoint had been saved"
    if parsed.diverged_at:
        return Outcome("diverged", code, logs.divergence_reason(parsed) + checkpoint)
    return Outcome("stopped", code, parsed.stopped_early + checkpoint)


def parsed_logs(run_dir: Path, started: RunRecord) -> logs.ParsedLog | None:
    try:
        return logs.parse_path(run_dir / started.work_dir)
    except BadInput:
        return None


def finish(run_dir: Path, started: RunRecord, parsed: logs.ParsedLog | None, outcome: Outcome,
           facts: dict | None = None) -> RunRecord:
    """The final record: the outcome, the final metrics from the logs as the attempt left them, what the runtime
    learnt last (facts)."""
    final = parsed.final if parsed else None
    ended = record.now()
    last = started.attempts[-1].model_copy(update={"status": outcome.status, "finished": ended,
                                                   "exit_code": outcome.code, "error": outcome.error,
                                                   "reconciled": outcome.reconciled})
    done = started.model_copy(update={
        **(facts or {}),
        "status": outcome.status, "finished": ended, "exit_code": outcome.code, "error": outcome.error,
        "attempts": [*started.attempts[:-1], last],
        "final_metrics": final.metrics if final and final.metrics and started.kind != "bench" else None,
        "bench": outcome.timed,
        "learning_rate": learning_rate(run_dir / started.console_log, run_dir / started.work_dir / layout.CONFIG),
        "resolved_config_sha256": _sha256(run_dir / started.work_dir / layout.CONFIG),
    })
    layout.write(run_dir, done)
    (run_dir / layout.SPACE_RESERVE).unlink(missing_ok=True)  # the last write of the attempt is done
    return done


def error_of(run: RunRecord, run_dir: Path) -> HarnessError | None:
    """What a command that ran (or attached to) the run exits with: None for a success."""
    error = run.error or ""
    if run.status == "interrupted":
        return Interrupted(error)
    if run.status == "hung":
        return Hung(error)
    if run.status == "diverged":
        return Diverged(f"training diverged: {error} (logs kept in {run_dir / run.work_dir})")
    if run.status == "stopped":
        return StoppedEarly(f"training stopped below the reference curve: {error}")
    if run.status != "failed":
        return None
    if error.startswith(preflight.FAILED) and f": {CHECKPOINT_CHECK}: " in error:
        return BadInput(error)  # eval of a checkpoint of another model, found where the job runs
    if error.startswith(preflight.FAILED):
        return InfrastructureError(f"{error} (--skip-preflight starts without it)")
    if run.exit_code is not None:
        return InfrastructureError(f"{error} (full output: {run_dir / run.console_log})")
    return InfrastructureError(error)


def _bench_result(run_dir: Path, started: RunRecord):
    """A bench's timings (the evaluation of its slice is no accuracy result: final_metrics stays empty)."""
    from harness.logs import bench

    timings = bench.logged(run_dir / started.console_log)
    return bench.result(timings, total_batch=started.total_batch, epochs=started.epochs,
                        val_interval=benchmarks.benchmark(started.benchmark).schedule.val_interval,
                        attempt_started=started.attempts[-1].started)


def _sha256(path: Path) -> str | None:
    return fingerprint.sha256_file(path) if path.is_file() else None


def console_tail(console_log: Path, offset: int = 0, size: int = 200) -> list[str]:
    """The last lines of console.log from offset (one attempt's output)."""
    tail: deque[str] = deque(maxlen=size)
    if console_log.exists():
        with console_log.open("rb") as handle:
            handle.seek(offset)
            tail.extend(line.decode(errors="replace").rstrip() for line in handle)
    return list(tail)


def last_exception(lines: list[str]) -> str:
    found = [line.strip() for line in lines if EXCEPTION_LINE.match(line.strip())]
    return found[-1] if found else (lines[-1].strip() if lines else "no output")


def traceback_end(lines: list[str], shown: int = 8) -> list[str]:
    """The last lines of the last traceback in the output (up to its exception line)."""
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if not starts:
        return []
    block = lines[starts[-1]:]
    ends = [i for i, line in enumerate(block) if EXCEPTION_LINE.match(line.strip())]
    return block[: ends[0] + 1][-shown:] if ends else block[-shown:]
