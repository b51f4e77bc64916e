"""harness: prove RepPoints reaches its published COCO accuracy on a hardware stack.

This package must stay importable without third-party modules: `harness.bootstrap`
runs before anything is installed, and `harness.cpu_launch` runs inside training.
"""

__version__ = "0.1.0"
