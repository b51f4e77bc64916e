"""`harness report`: plots and a markdown report for one run, written to a new directory."""

from __future__ import annotations

from pathlib import Path

from harness import ci_outputs, plots
from harness.errors import BadInput
from harness.logs import BBOX_KEYS
from harness.report import points
from harness.verify import Judgement, Target


def write_report(target: Target, result: Judgement, out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInput(f"{out} already exists and is not empty; choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot create the report directory {out}: {exc.strerror}") from exc
    loss = plots.loss_curve(target.log, out / "loss.png")
    curve = plots.map_curve(target.log, result.reference, out / "bbox_mAP.png")
    rows = "\n".join(f"| {e.epoch} | " + " | ".join(points(e.metrics.get(k)) for k in BBOX_KEYS) + " |"
                     for e in result.evaluations)
    text = "\n".join([
        f"# {result.benchmark}: {result.verdict.value}", "",
        ci_outputs.markdown(result).split("\n", 2)[2],  # the verdict table and reason, without its heading
        f"![bbox mAP per epoch]({curve.name})", "", f"![training loss]({loss.name})", "",
        "## COCO bbox metrics per evaluation (AP points)", "",
        "| epoch | " + " | ".join(BBOX_KEYS) + " |", "|" + " --- |" * (len(BBOX_KEYS) + 1), rows, "",
        f"Source: `{result.source}`", "",
    ])
    (out / "report.md").write_text(text)
    return out

