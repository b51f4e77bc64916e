"""The `harness` command line: thin Typer commands, one module per family, each parsing its options, calling one
library function and rendering the answer.

    app        the root group and the one handler turning expected failures into one line and an exit code
    options    the run options train, eval, bench and repro share, declared once
    training   train, eval, bench, rerun          campaigns  repro
    following  attach, stop                       results    verify, report, compare, runs, publish
    setup      build, images, doctor, references, dataset check|synth
    show, output   how commands end and where they write

Only what every command needs is imported at start-up; the Docker SDK, matplotlib and the OpenMMLab stack are
imported by the commands that use them, so the CLI answers at once. It imports any step of the harness; none
imports it."""

# each module registers its commands; this order is the order of `harness --help`
from harness.cli import training, campaigns, following, results, setup  # isort: skip
from harness.cli.app import app

__all__ = ["app", "main", "training", "campaigns", "following", "results", "setup"]


def main() -> None:
    app()
