"""Verdicts in the forms CI systems read: JUnit XML, markdown, and GitHub's step summary."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.errors import BadInput
from harness.verdict.policy import Verdict
from harness.verdict.verify import Judgement

FAILURES = {Verdict.OUT_OF_TOLERANCE, Verdict.DIVERGED, Verdict.FAILED}


def writable(path: Path, option: str) -> Path:
    path = Path(path)
    if not path.parent.is_dir():
        raise BadInput(f"{option} {path}: directory {path.parent} does not exist")
    if path.is_dir():
        raise BadInput(f"{option} {path} is a directory")
    return path


def write_junit(result: Judgement, path: Path) -> None:
    """One testcase per benchmark and reference: a failing verdict is a failure, an incomplete one an error."""
    path = writable(path, "--junit")
    case = ET.Element("testcase", classname=f"harness.{result.benchmark}", name=result.reference.name, time="0")
    if result.verdict in FAILURES:
        ET.SubElement(case, "failure", message=result.reason, type=result.verdict.value).text = result.reason
    elif result.verdict == Verdict.INCOMPLETE:
        ET.SubElement(case, "error", message=result.reason, type=result.verdict.value).text = result.reason
    ET.SubElement(case, "system-out").text = markdown(result)
    suite = ET.Element("testsuite", name="harness verify", tests="1",
                       failures=str(int(result.verdict in FAILURES)),
                       errors=str(int(result.verdict == Verdict.INCOMPLETE)), skipped="0", time="0")
    suite.append(case)
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def markdown(result: Judgement) -> str:
    ref = result.reference
    value = "-" if result.value is None else f"{result.value:.2f}"
    delta = "-" if result.delta is None else f"{result.delta:+.2f}"
    lines = [
        f"### harness verify: {result.benchmark} — **{result.verdict.value}**",
        "",
        "| metric | value (AP points) | reference | delta | policy | verdict |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {ref.metric} | {value} | {ref.value:.2f} | {delta} | {result.policy} ±{result.tolerance:g} | "
        f"{result.verdict.value} |",
        "",
        f"{result.reason}",
        "",
        *([f"Best {ref.metric} {result.best.metrics[ref.metric]:.2f} at {result.unit} {result.best.epoch}; the "
           "verdict judges the final evaluation.", ""] if result.best else []),
        f"Reference `{ref.name}`: {ref.provenance.source}; {ref.provenance.hardware}; {ref.provenance.framework}.",
    ]
    if result.aggregate:
        a = result.aggregate
        lines += ["", f"{a.n} runs: mean {a.mean:.2f}, min {a.min:.2f}, max {a.max:.2f}"
                      + (f", std {a.std:.2f}" if a.std is not None else "")
                      + (f"; dropped {', '.join(a.dropped)}" if a.dropped else "")]
    return "\n".join(lines) + "\n"


def write_markdown(result: Judgement, path: Path | None) -> None:
    """To a file when asked, and appended to $GITHUB_STEP_SUMMARY whenever it is set."""
    text = markdown(result)
    if path is not None:
        writable(path, "--markdown").write_text(text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(text)
