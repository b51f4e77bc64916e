"""The root command group and the single handler that turns expected failures into one line and an exit code."""

from __future__ import annotations

from typing import Annotated

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from harness.cli import output
from harness.errors import ExitCode, HarnessError

# click's UsageError, whether typer vendors click (0.29 and later) or imports it.
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_state = {"debug": False}


class HarnessGroup(TyperGroup):
    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent, **extra)
        except UsageError as exc:
            _usage_error(exc)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            _usage_error(exc)
        except HarnessError as exc:
            if _state["debug"]:
                raise
            output.warn(f"error: {exc}")
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            output.warn("error: interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except (typer.Exit, typer.Abort, TyperException):
            raise  # typer's own control flow and usage errors
        except Exception as exc:  # a bug: one line, the traceback only under --debug
            if _state["debug"]:
                raise
            output.warn(f"error: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
            raise typer.Exit(int(ExitCode.INFRASTRUCTURE)) from None


def _usage_error(exc: UsageError):
    """click's usage errors (an unknown option, a value of the wrong type or range) as one line like the harness's
    own, with where the command's help is; exit 2. A bare group's help (no_args_is_help) stays as it is."""
    if type(exc).__name__ == "NoArgsIsHelpError" or _state["debug"]:
        raise exc
    plain = isinstance(exc, typer.BadParameter) and exc.param is None and exc.param_hint is None
    message = " ".join((exc.message if plain else exc.format_message()).split())
    where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None and not plain else ""
    output.warn(f"error: {message}{where}")
    raise typer.Exit(int(ExitCode.BAD_INPUT)) from None


app = typer.Typer(cls=HarnessGroup, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  rich_markup_mode=None,  # plain help: Rich's help formatter alone costs 0.2 s of start-up
                  help="Prove RepPoints (mmdetection 3.3.0) reaches its published COCO accuracy on a hardware stack.")
dataset_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Check or generate COCO 2017-layout datasets.")
app.add_typer(dataset_app, name="dataset")


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False):
    _state["debug"] = debug
