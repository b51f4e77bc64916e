"""The names a user can choose on the command line. No imports: the CLI reads them to draw its help at once."""

from typing import Literal

Platform = Literal["cpu", "cuda", "ixuca"]
PLATFORMS: tuple[Platform, ...] = ("cpu", "cuda", "ixuca")
RuntimeName = Literal["local", "docker", "slurm"]
RUNTIMES: tuple[RuntimeName, ...] = ("local", "docker", "slurm")
Policy = Literal["absolute", "relative", "one-sided"]
POLICIES: tuple[Policy, ...] = ("absolute", "relative", "one-sided")
SEED_MAX = 2**32 - 1  # numpy's and mmengine's seeds are 32-bit
