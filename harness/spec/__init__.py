"""What a run is asked to be: the benchmarks (configs/benchmarks/*.toml), the platforms (configs/platforms/),
the names a user can choose, the run options and the RunSpec they become.

Imports only harness.errors, harness.files and harness.bootstrap's pins.
"""
