"""The site's files from harness.site.collect's data: HTML pages (Jinja2, autoescaped), the data as JSON
beside them, and the CSS and JavaScript every page loads from assets/.

Plots are drawn in the page, on a canvas, from the data embedded in it (assets/site.js): a page opens from
a file share or a CI artifact with no server (browsers refuse fetch() of a file:// URL, so the page does not
fetch its JSON), and publishing draws no PNG (matplotlib costs about 0.1 s a plot: a minute for 500 runs)."""

from __future__ import annotations

import json
from importlib import resources
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape

from harness.report.terminal import points
from harness.site.collect import GroupView, RunView, Site
from harness.spec.benchmarks import Reference
from harness.verdict.policy import allowed_deviation

SITE_SCHEMA_VERSION = 1
ASSETS = ("site.css", "site.js")


def pages(site: Site) -> dict[str, bytes]:
    """Every file of the site: relative path -> content."""
    env = _environment()
    files = {f"assets/{name}": resources.files("harness.site").joinpath("assets", name).read_bytes() for name in ASSETS}
    files["index.html"] = _page(env, "index.html", 0, site=site, data=None)
    files["data/site.json"] = _json({"schema_version": SITE_SCHEMA_VERSION, **site.model_dump(mode="json",
                                                                                          exclude={"comparisons"})})
    for run in site.runs:
        reference = site.references.get(run.benchmark)
        charts = run_charts(run, reference)
        files[f"runs/{run.run_id}.html"] = _page(env, "run.html", 1, run=run, reference=reference,
                                                data={"charts": charts})
        files[f"runs/{run.run_id}.json"] = _json(run.model_dump(mode="json"))
    for group in site.groups:
        reference = site.references.get(group.benchmark)
        files[f"groups/{group.group_id}.html"] = _page(env, "group.html", 1, group=group, reference=reference,
                                                      data={"charts": group_charts(group, reference)})
        files[f"groups/{group.group_id}.json"] = _json(group.model_dump(mode="json"))
    comparisons = [c.model_dump(mode="json") | {"finding": c.finding, "exit_code": c.exit_code}
                   for c in site.comparisons]
    files["data/comparisons.json"] = _json({"schema_version": SITE_SCHEMA_VERSION, "comparisons": comparisons})
    groups = [{"id": g.group_id, "benchmark": g.benchmark, "created": g.created} for g in site.groups if g.side]
    files["compare.html"] = _page(env, "compare.html", 0, groups=groups,
                                  data={"groups": groups, "comparisons": comparisons})
    return files


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("harness.site", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(points=points, href=lambda name: quote(name, safe=""), duration=_duration, image=_image)
    return env


def _page(env: Environment, template: str, depth: int, data: dict | None, **context) -> bytes:
    root = "../" * depth
    text = env.get_template(template).render(root=root, page_data=_script_json(data) if data else None, **context)
    return text.encode()


def _script_json(data: dict) -> str:
    """JSON safe inside <script type="application/json">: no '<' can close the element."""
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


def _json(data: dict) -> bytes:
    return (json.dumps(data, indent=1) + "\n").encode()


def _image(image: dict | None) -> str | None:
    """A run's image as its reference and id: the tag can move in months, the id cannot."""
    if not image:
        return None
    return " ".join(part for part in (image.get("reference"), image.get("id") and f"({image['id']})") if part) or None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def reference_marks(reference: Reference | None) -> dict:
    """The reference line, its tolerance band and its own per-epoch curve, for a bbox mAP chart."""
    if reference is None:
        return {}
    allowed = allowed_deviation(reference.value, reference.tolerance, reference.policy)
    high = reference.value + allowed if reference.policy != "one-sided" else None
    marks = {"hlines": [{"y": reference.value, "label": f"reference {reference.name} ({reference.value:g})"}],
             "band": {"lo": reference.value - allowed, "hi": high, "label": f"tolerance ±{allowed:g}"}}
    if reference.curve:
        marks["reference_curve"] = {"label": "reference curve",
                                    "points": [[epoch, value] for epoch, value in enumerate(reference.curve, 1)]}
    return marks


def run_charts(run: RunView, reference: Reference | None) -> list[dict]:
    charts = []
    if run.map_curve or (reference and run.kind != "bench"):
        charts.append({"id": "map", "title": "bbox mAP per evaluation", "xlabel": run.unit,
                       "ylabel": "bbox mAP (AP points)", "series": [{"label": run.run_id, "points": run.map_curve}],
                       **reference_marks(reference)})
    if run.loss_curve:
        diverged = [{"x": run.diverged_at, "label": f"diverged at iteration {run.diverged_at}"}] \
            if run.diverged_at is not None else []
        charts.append({"id": "loss", "title": "training loss", "xlabel": "iteration", "ylabel": "loss",
                       "series": [{"label": "loss", "points": run.loss_curve}], "vlines": diverged})
    return charts


def group_charts(group: GroupView, reference: Reference | None) -> list[dict]:
    if not group.curves:
        return []
    series = [{"label": curve.label, "points": curve.points} for curve in group.curves]
    return [{"id": "map", "title": f"bbox mAP per epoch, {len(series)} runs", "xlabel": "epoch",
             "ylabel": "bbox mAP (AP points)", "series": series, **reference_marks(reference)}]
