"""The house's plan holds: imports run one way, from each step down to the ones it builds on (harness/__init__.py
lists the floors), and the top of harness/ holds only the floors' folders and the few modules everything shares."""

from __future__ import annotations

import ast
from pathlib import Path

import harness

PACKAGE = Path(harness.__file__).parent


def imported_steps(path: Path) -> set[tuple[int, str]]:
    """(line, top-level harness module or folder) for every import of the harness in a file, lazy ones too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "harness":
            parts = node.module.split(".")
            found |= {(node.lineno, parts[1])} if len(parts) > 1 else {(node.lineno, a.name) for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {(node.lineno, a.name.split(".")[1]) for a in node.names if a.name.startswith("harness.")}
    return found


def test_every_import_goes_down_the_floors():
    floor = {name: level for level, names in enumerate(harness.FLOORS) for name in names}
    upward = []
    for path in PACKAGE.rglob("*.py"):
        step = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if step in ("__init__", "__main__"):
            continue
        assert step in floor, f"{step} is on no floor of harness.FLOORS"
        upward += [f"{path.relative_to(PACKAGE)}:{line} imports harness.{other}"
                   for line, other in imported_steps(path) if floor[other] > floor[step]]
    assert upward == []


def test_the_top_of_the_package_is_the_floor_plan():
    top = sorted(p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file())
    listed = sorted(f"{name}.py" if (PACKAGE / f"{name}.py").is_file() else name for names in harness.FLOORS
                    for name in names)
    assert top == sorted([*listed, "__init__.py", "__main__.py"])
