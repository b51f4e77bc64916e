"""harness: prove RepPoints reaches its published COCO accuracy on a hardware stack.

One pipeline, data flowing one way, each step a folder:

    spec -> run options -> RunSpec -> images -> data (dataset check) -> job -> runtime (edges talk to the
    outside) -> logs -> store -> verdict -> report -> site; run/ drives it, cli/ is the command line.

FLOORS orders the folders by what they may import: each imports only from its own floor and the floors
below it (tests/test_layers.py holds the code to that). This package must stay importable without
third-party modules: `harness.bootstrap` runs before anything is installed, and `harness.job.cpu_launch`
runs inside training.
"""

__version__ = "0.1.0"

FLOORS = (
    ("errors", "files", "bootstrap"),  # shared by all: the error root, atomic writes, the stack's pins
    ("spec",),  # benchmarks, platforms, choices, run options, the RunSpec
    ("edges",),  # the host, the Docker engine, the Slurm commands: typed answers
    ("data",),  # dataset check, COCO file and rules, synth, fingerprint
    ("logs",),  # parsers -> typed metrics
    ("store",),  # the results layout, versioned records
    ("images",),  # build, build context, listing
    ("job",),  # the command and config, mmengine hooks, preflight, checkpoints
    ("runtime",),  # local, docker, slurm; container spec, watchdog, doctor
    ("verdict",),  # verify, policies, run and group comparison, judging a group
    ("report",),  # terminal tables, files, plots, CI outputs, progress
    ("run",),  # pipeline, resume, repro, supervisor, attach, outcome, reconcile
    ("site",),  # the static site
    ("cli",),  # the commands
)
