"""Verdicts, each a status with a reason: `harness verify` and its policies, the comparison of two runs and of
two groups, and judging a repro group.

Imports harness.store, harness.logs and below; never the runtime or the run wing.
"""
