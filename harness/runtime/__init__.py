"""Where a job runs: one module per runtime behind harness.runtime.base.Runtime, and the table naming them.

A runtime's module is imported only when a run uses it (the Docker SDK only for docker runs)."""

from __future__ import annotations

from importlib import import_module

# runtime name -> (module, class); a new runtime is one module and one line here.
TABLE = {
    "local": ("harness.runtime.local", "LocalRuntime"),
    "docker": ("harness.runtime.docker", "DockerRuntime"),
    "slurm": ("harness.runtime.slurm", "SlurmRuntime"),
}


def runtime_class(name: str):
    module, cls = TABLE[name]
    return getattr(import_module(module), cls)
