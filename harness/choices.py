"""The names a user can choose on the command line. No imports: the CLI reads them to draw its help at once."""

from typing import Literal

Platform = Literal["cpu", "cuda", "ixuca"]
PLATFORMS: tuple[Platform, ...] = ("cpu", "cuda", "ixuca")
Runtime = Literal["local", "docker", "slurm"]
RUNTIMES: tuple[Runtime, ...] = ("local", "docker", "slurm")
Policy = Literal["absolute", "relative", "one-sided"]
POLICIES: tuple[Policy, ...] = ("absolute", "relative", "one-sided")
