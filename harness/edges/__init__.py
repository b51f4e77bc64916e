"""The outside world, one module per system: the host (GPU tools, packages, git), the Docker engine and the Slurm
commands. Raw output becomes typed, frozen models here.

Imports harness.spec and below; nothing above.
"""
