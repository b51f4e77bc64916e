"""The hang watchdog: a run whose log shows no training or evaluation progress for too long is stopped.

The rule (README, "Hang watchdog"): the limit is --hang-timeout, or by default the larger of 15 minutes and
30 times the median gap between training progress lines seen so far. Start-up (before the first progress
line: imports, the dataset index, a multi-node rendezvous) gets at least 15 minutes; evaluation and
checkpoint saving get twice the limit. Only progress counts as a sign of life: a stuck rank may keep
printing warnings."""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from typing import Callable

from harness.logs.mmengine import ITER_LINE, LOOP_LINE, TEST_LINE

DEFAULT_SECONDS = 15 * 60
STARTUP_SECONDS = 15 * 60
MEDIAN_FACTOR = 30
SLOW_PHASE_FACTOR = 2  # evaluation and checkpoint saving
# Lines of the evaluation (mmdet's CocoMetric, pycocotools) and of checkpoint saving: progress too.
EVALUATION_MARKERS = ("Evaluating bbox", "Loading and preparing results", "Evaluate annotation type",
                      "Accumulating evaluation results", "DONE (t=")
CHECKPOINT_MARKER = "Saving checkpoint at"


def phase_of(line: str) -> str | None:
    """'train', 'evaluation', 'checkpoint' for a progress line, None for any other."""
    for pattern in (LOOP_LINE, ITER_LINE):
        match = pattern.search(line)
        if match:
            return "train" if match["mode"] == "train" else "evaluation"
    if TEST_LINE.search(line) or any(marker in line for marker in EVALUATION_MARKERS):
        return "evaluation"
    return "checkpoint" if CHECKPOINT_MARKER in line else None


@dataclass
class Silence:
    seconds: float
    limit: float
    phase: str
    last_progress: str | None

    def reason(self) -> str:
        seen = f"last progress: {self.last_progress!r}" if self.last_progress else "no progress line yet"
        return (f"no progress for {self.seconds:.0f} s during {self.phase} (limit {self.limit:.0f} s; "
                f"--hang-timeout sets it); {seen}")


class Watchdog:
    """Fed every output line; asked, from another thread, whether the run has been silent too long."""

    def __init__(self, timeout: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.timeout, self.clock = timeout, clock
        self.phase, self.last_line = "start-up", None
        self.last = clock()
        self.gaps: list[float] = []
        self.lock = threading.Lock()

    def saw(self, line: str) -> None:
        phase = phase_of(line)
        if phase is None:
            return
        with self.lock:
            now = self.clock()
            if phase == "train" and self.phase == "train":
                self.gaps.append(now - self.last)
            self.phase, self.last, self.last_line = phase, now, line.strip()

    def limit(self) -> float:
        base = self.timeout
        if base is None:
            base = max(DEFAULT_SECONDS, MEDIAN_FACTOR * statistics.median(self.gaps)) if self.gaps else DEFAULT_SECONDS
        if self.phase == "start-up":
            return max(base, STARTUP_SECONDS)
        return base * SLOW_PHASE_FACTOR if self.phase in ("evaluation", "checkpoint") else base

    def silence(self) -> Silence | None:
        """How long the run has been silent, once that is past its limit."""
        with self.lock:
            seconds, limit = self.clock() - self.last, self.limit()
            return Silence(seconds, limit, self.phase, self.last_line) if seconds > limit else None


class Watching:
    """A thread that calls stop() once the watchdog finds the run silent past its limit (at most once)."""

    def __init__(self, watchdog: Watchdog, stop: Callable[[], None], every: float = 1.0):
        self.watchdog, self.stop, self.every = watchdog, stop, every
        self.fired: Silence | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="harness-watchdog", daemon=True)

    def __enter__(self) -> Watching:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()

    def _watch(self) -> None:
        while not self.done.wait(self.every):
            silence = self.watchdog.silence()
            if silence is not None:
                self.fired = silence
                self.stop()
                return
