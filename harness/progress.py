"""Live training progress from streamed mmengine log lines, drawn with Rich."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.logs import Evaluation, TrainStep, parse_line


class TrainingView:
    """Feed it output lines; it shows epoch/iteration, mmengine's ETA and loss, and each evaluation."""

    def __init__(self, console: Console, epochs: int, verbose: bool = False):
        self.console, self.epochs, self.verbose = console, epochs, verbose
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
        item = parse_line(line)
        if isinstance(item, TrainStep):
            self._step(item)
        elif isinstance(item, Evaluation):
            self._evaluation(item)

    def _step(self, step: TrainStep) -> None:
        total = step.iters_per_epoch * self.epochs if step.iters_per_epoch else None
        done = step.iter  # global
        loss = f"{step.loss:.4f}" if step.loss is not None else "-"
        self.progress.update(self.task, description=f"epoch {step.epoch}/{self.epochs}", total=total,
                             completed=done, eta=step.eta or "-", loss=loss)

    def _evaluation(self, evaluation: Evaluation) -> None:
        value = evaluation.metrics.get("bbox_mAP")
        shown = f"{value:.2f} AP" if value is not None else "no detections above the score threshold"
        self.progress.console.print(f"  epoch {evaluation.epoch} evaluation: bbox_mAP {shown}")
