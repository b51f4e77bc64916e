"""The runtime interface: where a job runs. The pipeline builds the job once, for the site the runtime
describes, and then only starts, follows, stops and asks each runtime how the job ended."""

from __future__ import annotations

import shlex
from abc import ABC, abstractmethod
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Iterator, NamedTuple

from harness.errors import Hung, Interrupted
from harness.job.command import Job, JobRequest
from harness.runtime.watchdog import Watchdog, Watching
from harness.spec.runspec import RunSpec
from harness.store.record import RunRecord


@dataclass(frozen=True)
class JobSite:
    """How the job sees the run: the Python that runs it, mmdet's tools/ and the run directory, as paths
    on the machine (or in the container) where it runs."""

    python: str
    tools_dir: Path
    run_dir: Path


class Ending(NamedTuple):
    code: int | None  # None: unknown (a job whose supervisor was lost, and whose runtime kept no exit status)
    cause: str | None  # what the runtime knows better than the log (a signal, the OOM killer, the scheduler)


class Lost(NamedTuple):
    """How the job of a run whose supervisor was lost ended, and what the record learns about it."""

    ending: Ending
    facts: dict = {}


class Runtime(ABC):
    """One run's job on one runtime. The constructor checks everything it can before the run directory holds
    anything (engine reachable, image present, scheduler answering) and raises a HarnessError otherwise."""

    name: ClassVar[str]
    stopped: ClassVar[str] = "the training processes were stopped"
    writes_console_log: ClassVar[bool] = False  # the job's output goes straight into console.log (local)

    def __init__(self, spec: RunSpec, request: JobRequest, run_dir: Path, image_id: str | None = None,
                 dry_run: bool = False):
        self.spec, self.request, self.run_dir, self.image_id, self.dry_run = spec, request, run_dir, image_id, dry_run
        self.warnings: list[str] = []  # what the constructor could not check (a --dry-run without a scheduler)

    @abstractmethod
    def job_site(self) -> JobSite: ...

    def job_request(self) -> JobRequest:
        """The request as the job sees it (paths inside a container, say); here the same."""
        return self.request

    def prepare(self, job: Job) -> None:
        """Make ready what start() needs from the job (a container's spec, a batch script); nothing runs yet."""

    def preview(self, job: Job) -> str:
        """What --dry-run prints: what start() would run."""
        return shlex.join(job.argv)

    @abstractmethod
    def start(self, job: Job) -> None: ...

    @abstractmethod
    def follow(self) -> Iterator[str]:
        """The job's output lines as they come, until it has ended."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the job as Ctrl-C would (SIGINT, a kill after a grace period; scancel on Slurm)."""

    @abstractmethod
    def ending(self) -> Ending: ...

    def facts(self) -> dict:
        """Fields this runtime adds to the run record (image, container, slurm)."""
        return {}

    def image_labels(self) -> dict[str, str] | None:
        """The labels of the image the job runs in (its pinned versions); None: no image, this environment."""
        return None

    def close(self) -> None:
        """Release what start() made (a container), whatever happened."""

    @classmethod
    def alive(cls, run: RunRecord, run_dir: Path) -> list[str]:
        """What of a recorded run is still running on this runtime (a resume must not start beside it)."""
        return []

    @classmethod
    def lost_ending(cls, run: RunRecord, run_dir: Path) -> Lost | None:
        """How the job of a run whose supervisor was lost ended, from the runtime's own evidence (the rest of its
        output copied into console.log, what it left behind removed); None while the job still runs."""
        return Lost(Ending(None, None))

    @classmethod
    def stop_lost(cls, run: RunRecord, run_dir: Path) -> None:
        """Stop, as Ctrl-C would, the job of a run whose supervisor was lost."""


def execute(runtime: Runtime, job: Job, console_log: Path, on_line: Callable[[str], None],
            on_started: Callable[[], None] = lambda: None, watchdog: Watchdog | None = None) -> Ending:
    """Start, follow (each line to console_log, appended, unless the job writes it itself, and to on_line), and how
    it ended; Ctrl-C (SIGINT, SIGTERM) stops it, and so does the watchdog when the output shows no progress for too
    long (Hung)."""
    try:
        runtime.start(job)
        on_started()
        log_file = nullcontext() if runtime.writes_console_log else console_log.open("a", buffering=1)
        with log_file as log, _watching(watchdog, runtime) as watching:
            for line in runtime.follow():
                if log is not None:
                    log.write(line)
                on_line(line)
                if watchdog is not None:
                    watchdog.saw(line)
        ending = runtime.ending()
        if watching is not None and watching.fired is not None:
            raise Hung(f"the run hung: {watching.fired.reason()}; {runtime.stopped}")
        return ending
    except KeyboardInterrupt:
        runtime.stop()
        raise Interrupted(f"interrupted; {runtime.stopped}") from None
    finally:
        runtime.close()


@contextmanager
def _watching(watchdog: Watchdog | None, runtime: Runtime) -> Iterator[Watching | None]:
    if watchdog is None:
        yield None
        return
    with Watching(watchdog, runtime.stop) as watching:
        yield watching
