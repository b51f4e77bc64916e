"""Rendering of a group-vs-group comparison (harness.verdict.group_compare): terminal tables and the --json document."""

from __future__ import annotations

from rich.table import Table

from harness.report.terminal import points
from harness.verdict.group_compare import GroupComparison, GroupSide

JSON_SCHEMA_VERSION = 1


def _side(side: GroupSide) -> str:
    unfinished = f", {side.unfinished} unfinished" if side.unfinished else ""
    return f"{points(side.mean, side.std)} (n={len(side.values)}{unfinished})"


def comparison_table(result: GroupComparison) -> Table:
    table = Table(title=f"{result.benchmark}: {result.metric} of two groups (AP points)", title_justify="left")
    for column in ("", "group", "mean ± sd", "values", "images / s"):
        table.add_column(column)
    for name, side in (("A", result.a), ("B", result.b)):
        table.add_row(name, side.group_id, _side(side), ", ".join(f"{v:.2f}" for v in side.values),
                      points(side.images_per_second))
    ratio = "-" if result.throughput_ratio is None else f"{result.throughput_ratio:.3f}x"
    p_value = "-" if result.p_value is None else f"p={result.p_value:.3g}"
    table.add_row("B - A", "", f"{points(result.difference)} ({p_value})", "", ratio)
    return table


def differences_table(result: GroupComparison) -> Table:
    table = Table("environment", "A", "B", title="what differs", title_justify="left")
    for difference in result.differences:
        table.add_row(difference.fact, difference.a, difference.b)
    return table


def to_json(result: GroupComparison) -> dict:
    """`harness compare --group A --group B --json`, schema version 1 (README.md)."""
    return {"schema_version": JSON_SCHEMA_VERSION, **result.model_dump(mode="json"), "finding": result.finding,
            "exit_code": result.exit_code, "unit": "AP points (0-100)"}
