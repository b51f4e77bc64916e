"""The run wing: the pipeline (spec -> dataset check -> job -> runtime -> record), resume, rerun and repro; the
supervisor that owns a run beyond the terminal, attach and stop, the outcome, reconciling lost runs, live status.

Imports every step below it; only harness.site and harness.cli import it.
"""
