"""Live progress drawn with Rich: training from streamed mmengine log lines, and counted work (images)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
)

from harness.logs import Evaluation, TrainStep, parse_line
from harness.logs.mmengine import EMPTY_RESULTS


@contextmanager
def counting_bar(console: Console, what: str, total: int) -> Iterator[Callable[[], None]]:
    """A transient bar for `total` items; yields the function that counts one (safe from several threads).
    Nothing is drawn where the console is not a terminal (a transient bar leaves a blank line there)."""
    if not console.is_terminal:
        yield lambda: None
        return
    with Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task(what, total=total)
        yield lambda: progress.advance(task)


class StepBars:
    """harness.data.check's progress: one transient bar per step (bytes read, annotations checked, images decoded)."""

    def __init__(self, console: Console):
        self.console = console

    @contextmanager
    def step(self, what: str, total: int | None) -> Iterator[Callable[[int], None]]:
        if not self.console.is_terminal:
            yield lambda count: None
            return
        with Progress(TextColumn(what), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(), console=self.console,
                      transient=True) as progress:
            task = progress.add_task(what, total=total)
            yield lambda count: progress.advance(task, count)


class TrainingView:
    """Feed it output lines; it shows epoch/iteration, mmengine's ETA and loss, and each evaluation."""

    def __init__(self, console: Console, epochs: int, verbose: bool = False):
        self.console, self.epochs, self.verbose = console, epochs, verbose
        self.by_iter, self.empty_pending = False, False
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("eta {task.fields[eta]}  loss {task.fields[loss]}"), TimeElapsedColumn(),
            console=console, transient=False,
        )
        self.task = self.progress.add_task("starting", total=None, eta="-", loss="-")

    def __enter__(self) -> TrainingView:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def feed(self, line: str) -> None:
        if self.verbose:
            self.progress.console.print(line.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
        if EMPTY_RESULTS in line:
            self.empty_pending = True
        item = parse_line(line)
        if isinstance(item, TrainStep):
            self._step(item)
        elif isinstance(item, Evaluation):
            self._evaluation(item)

    def _step(self, step: TrainStep) -> None:
        total = step.iters_per_epoch * self.epochs if step.iters_per_epoch else step.total_iters
        self.by_iter = step.total_iters is not None
        where = f"iteration {step.iter}/{step.total_iters}" if self.by_iter else f"epoch {step.epoch}/{self.epochs}"
        loss = f"{step.loss:.4f}" if step.loss is not None else "-"
        self.progress.update(self.task, description=where, total=total, completed=step.iter, eta=step.eta or "-",
                             loss=loss)

    def _evaluation(self, evaluation: Evaluation) -> None:
        value = None if self.empty_pending else evaluation.metrics.get("bbox_mAP")
        self.empty_pending = False
        shown = f"{value:.2f} AP" if value is not None else "no detections above the score threshold"
        where = "" if self.by_iter else f" epoch {evaluation.epoch}"
        self.progress.console.print(f" {where} evaluation: bbox_mAP {shown}")
