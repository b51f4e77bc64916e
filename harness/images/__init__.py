"""Container images: `harness build` (the build context from docker/, the engine's build), and listing what was built.

Imports harness.store and below.
"""
