"""Where the commands write: the user's terminal (stdout) and one-line errors and warnings (stderr).

Commands reach them as `output.console` at the time they print, so a test can swap either."""

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def say(text: str) -> None:
    """A line of plain text (ids, paths and errors come from records and must not be read as markup)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def warn(text: str) -> None:
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)
