"""The shipped CI workflow template is valid YAML and only calls harness commands and options that exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from harness.cli import app

TEMPLATE = Path(__file__).parents[2] / "docs" / "ci" / "reppoints-gpu.yml"


def test_template_is_a_workflow_with_the_expected_steps():
    workflow = yaml.safe_load(TEMPLATE.read_text())
    steps = workflow["jobs"]["reproduce"]["steps"]
    commands = " ".join(step.get("run", "") for step in steps)
    for needed in ("harness dataset check", "harness repro", "harness verify --group", "--junit", "--markdown",
                   "harness report --group"):
        assert needed in commands
    assert any(step.get("uses", "").startswith("actions/upload-artifact") for step in steps)


def test_every_option_the_template_uses_exists():
    workflow = yaml.safe_load(TEMPLATE.read_text())
    for step in workflow["jobs"]["reproduce"]["steps"]:
        found = re.search(r"-m harness (\w+(?: check)?)(.*)", step.get("run", ""), re.S)
        if not found:
            continue
        command, rest = found[1].split(), found[2]
        help_text = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"}).stdout
        for option in re.findall(r"(--[a-z-]+)", rest):
            assert option in help_text, f"harness {' '.join(command)} has no {option}"
