"""Shared fixtures. The training fixtures run real RepPoints through the real stack (minutes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app


@pytest.fixture(scope="session")
def session_env(tmp_path_factory):
    """The session works in a temporary directory, with the default relative results/ as README users do."""
    root = tmp_path_factory.mktemp("harness")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.delenv("HARNESS_RESULTS", raising=False)
        patch.setenv("HARNESS_CACHE", str(root / "cache"))
        patch.setenv("COLUMNS", "200")
        yield root


@pytest.fixture
def cli(session_env):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


def one_line_error(result) -> str:
    """What a user reads on bad input: exactly one line on stderr, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture(scope="session")
def smoke_run(session_env) -> Path:
    """The embedded default, exactly as README command 1 runs it: `harness train` with no arguments."""
    result = CliRunner().invoke(app, ["train"])
    assert result.exit_code == 0, result.output + result.stderr
    runs = sorted((session_env / "results").iterdir())
    assert len(runs) == 1
    return runs[0]


@pytest.fixture(scope="session")
def smoke_log(smoke_run) -> Path:
    (text_log,) = smoke_run.glob("work_dir/*/*.log")
    return text_log


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
