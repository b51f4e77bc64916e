"""One error root; each expected failure maps to a documented exit code."""

from enum import IntEnum


class ExitCode(IntEnum):
    PASS = 0
    OUT_OF_TOLERANCE = 1
    BAD_INPUT = 2
    INFRASTRUCTURE = 3
    INTERRUPTED = 130


class HarnessError(Exception):
    """An expected failure: shown as one line on stderr, never as a traceback."""

    exit_code = ExitCode.BAD_INPUT


class BadInput(HarnessError):
    exit_code = ExitCode.BAD_INPUT


class ImageMissing(BadInput):
    """The image a docker run asks for is not in the engine."""


class InfrastructureError(HarnessError):
    """The machine, the stack or the training process failed, not the user's input."""

    exit_code = ExitCode.INFRASTRUCTURE


class Hung(InfrastructureError):
    """The hang watchdog stopped a run whose output showed no progress for longer than its limit."""


class Interrupted(HarnessError):
    exit_code = ExitCode.INTERRUPTED


class Diverged(HarnessError):
    """The training was stopped by the divergence check: a verdict, not an infrastructure failure."""

    exit_code = ExitCode.OUT_OF_TOLERANCE


class StoppedEarly(HarnessError):
    """--stop-below-curve ended a run whose bbox mAP stayed below the reference curve."""

    exit_code = ExitCode.OUT_OF_TOLERANCE
