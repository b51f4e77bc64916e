"""The published site in a real browser: Debian's headless Chromium, driven by Playwright, opens the pages from
disk. The store is tests/data/store (real smoke runs: two groups of 3, a passing run, a bench run, a diverged
run, a failed run; tests/golden/make_store.py). Needs Chromium: fails, never skips, without it.
Screenshots of every page land in the test's output directory (tmp_path/screenshots)."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from conftest import read_json
from support import GOLDEN

STORE = GOLDEN / "store"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "publish-index.png"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    from typer.testing import CliRunner

    from harness.cli import app

    store = tmp_path_factory.mktemp("store") / "results"
    shutil.copytree(STORE, store)
    out = tmp_path_factory.mktemp("site")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_RESULTS", str(store))
        result = CliRunner().invoke(app, ["publish", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"no {CHROMIUM}: run `python3 -m harness.bootstrap --dev --engine` (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


class Visit:
    """A page opened from disk, with every console message, page error and request it made."""

    def __init__(self, browser, site: Path, name: str, shots: Path):
        self.site, self.console, self.errors, self.requests = site, [], [], []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        path, _, query = name.partition("?")
        self.page.goto((site / path).as_uri() + (f"?{query}" if query else ""))
        self.page.wait_for_load_state("load")
        shots.mkdir(exist_ok=True)
        self.page.screenshot(path=str(shots / (path.replace("/", "_") + ".png")), full_page=True)

    def assert_clean(self) -> None:
        assert self.errors == [] and self.console == [], (self.errors, self.console)
        outside = [url for url in self.requests if not _inside(url, self.site) and not url.startswith("data:")]
        assert outside == [], f"requests left the output directory: {outside}"


def _inside(url: str, site: Path) -> bool:
    parsed = urlparse(url)
    return parsed.scheme == "file" and Path(unquote(parsed.path)).resolve().is_relative_to(site.resolve())


def golden_runs() -> dict[str, dict]:
    return {path.parent.name: read_json(path) for path in STORE.glob("*/run.json")}


def run_of(status: str, kind: str = "train") -> str:
    return next(run_id for run_id, run in sorted(golden_runs().items())
                if run["status"] == status and run["spec"]["kind"] == kind and not run.get("group"))


def test_the_index_lists_every_run_with_its_verdict_newest_first(browser, site, tmp_path):
    visit = Visit(browser, site, "index.html", tmp_path / "screenshots")
    rows = visit.page.locator("table.runs tbody tr")
    shown = {row.get_attribute("data-run"): row.inner_text() for row in rows.all()}
    assert set(shown) == set(golden_runs())
    assert "pass" in shown[run_of("succeeded")]
    assert "diverged" in shown[run_of("diverged")]
    assert "failed" in shown[run_of("failed")] and "incomplete" in shown[run_of("failed")]
    assert "bench" in shown[run_of("succeeded", "bench")]
    started = [golden_runs()[row.get_attribute("data-run")]["started"] for row in rows.all()]
    assert started == sorted(started, reverse=True), "newest first"
    groups = visit.page.locator("#groups tbody tr").all_inner_texts()
    assert [g.split()[0] for g in groups] == ["golden-b", "golden-a"] and all("out of tolerance" in g for g in groups)
    stack = visit.page.locator("#stacks tbody tr").inner_text()
    assert "cpu" in stack and "2.13.0" in stack and run_of("failed") in stack and "incomplete" in stack, \
        "the latest verdict of the stack is the newest run's, a failed one's too"
    assert visit.page.locator("#stacks tbody tr td").nth(9).inner_text() not in ("", "-"), "the bench's images/s"
    assert visit.page.locator("#stacks .last-pass").inner_text() == run_of("succeeded"), "and the newest pass"
    visit.assert_clean()
    shutil.copyfile(tmp_path / "screenshots" / "index.html.png", tmp_path / "index.png")
    visit.page.set_viewport_size({"width": 1100, "height": 640})
    visit.page.screenshot(path=str(SCREENSHOT))  # README's picture, remade by every test run


def non_blank_pixels(page, canvas_id: str) -> int:
    return page.evaluate("""(id) => {
        const canvas = document.getElementById(id);
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let count = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] < 250 || data[i + 1] < 250 || data[i + 2] < 250) count++;
        return count;
    }""", canvas_id)


def test_a_run_page_draws_its_curves_and_says_how_to_reproduce_it(browser, site, tmp_path):
    run_id = run_of("succeeded")
    visit = Visit(browser, site, f"runs/{run_id}.html", tmp_path / "screenshots")
    assert visit.page.locator(".verdict-line").inner_text().startswith("pass")
    for chart in ("chart-map", "chart-loss"):
        assert non_blank_pixels(visit.page, chart) > 2000, f"{chart} is blank"
    reproduce = visit.page.locator(".reproduce").inner_text()
    assert f"harness rerun {run_id}" in reproduce and "harness train --benchmark smoke" in reproduce
    source = golden_runs()[run_id]["environment"]["source"]
    assert source["dirty"] and f"harness revision: {source['revision']}-dirty (the checkout had uncommitted" in reproduce
    assert "torch" in visit.page.locator("table.facts").inner_text()
    visit.assert_clean()


def test_a_diverged_run_page_marks_the_divergence_on_the_loss_curve(browser, site, tmp_path):
    visit = Visit(browser, site, f"runs/{run_of('diverged')}.html", tmp_path / "screenshots")
    assert visit.page.locator(".verdict-line").inner_text().startswith("diverged")
    data = visit.page.evaluate("JSON.parse(document.getElementById('page-data').textContent)")
    (loss,) = [chart for chart in data["charts"] if chart["id"] == "loss"]
    diverged = golden_runs()[run_of("diverged")]["attempts"][-1]["error"]
    assert loss["vlines"] == [{"x": 5, "label": "diverged at iteration 5"}] and "at iteration 5 " in diverged
    assert non_blank_pixels(visit.page, "chart-loss") > 2000
    visit.assert_clean()


def test_a_group_page_overlays_its_runs_on_the_reference(browser, site, tmp_path):
    visit = Visit(browser, site, "groups/golden-a.html", tmp_path / "screenshots")
    assert visit.page.locator("table.runs tbody tr").count() == 3
    assert non_blank_pixels(visit.page, "chart-map") > 2000
    reproduce = visit.page.locator(".reproduce").inner_text()
    (revision,) = {run["environment"]["source"]["revision"] for run in golden_runs().values()
                   if run.get("group") == "golden-a"}
    assert "harness repro --benchmark smoke" in reproduce and f"harness revision: {revision}" in reproduce
    visit.assert_clean()


def test_the_comparison_page_shows_the_p_value_and_the_verdict(browser, site, tmp_path):
    visit = Visit(browser, site, "compare.html?a=golden-a&b=golden-b", tmp_path / "screenshots")
    result = visit.page.locator("#result").inner_text()
    assert "p-value (Welch, two-sided)" in result and "B is worse" in result
    assert "significantly worse" in visit.page.locator("#finding").inner_text()
    visit.page.select_option("#group-a", "golden-b")
    visit.page.select_option("#group-b", "golden-a")
    assert "B is not worse" in visit.page.locator("#result").inner_text()
    visit.assert_clean()
