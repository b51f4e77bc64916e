"""The job: the exact command and generated mmengine config as data, the mmengine hooks loaded in the training
process, the preflight run before it, and the checkpoint checks of `harness eval`.

Imports harness.store and below.
"""
