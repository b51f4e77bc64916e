"""Real reproducibility runs: `harness repro` interrupted and resumed, `harness rerun` bit-identical, drift refused."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness import logs

from conftest import one_line_error, read_json
from support import group_runs, wait_for

pytestmark = pytest.mark.real  # every test here trains a group

EPOCHS = "3"


def training_started(results: Path, group: str, seed: int) -> bool:
    run = group_runs(results, group).get(seed)
    log = results / run["run_id"] / "console.log" if run else None  # the record comes before the job's first line
    return bool(log and log.exists()) and "Epoch(train) [1]" in log.read_text(errors="replace")


@pytest.fixture(scope="module")
def group(session_env) -> dict:
    """`harness repro --runs 3`, Ctrl-C while seed 1 trains, then `harness repro --resume GROUP`."""
    results = session_env / "results"
    campaign = subprocess.Popen([sys.executable, "-m", "harness", "repro", "--runs", "3", "--epochs", EPOCHS],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    group_id = None
    try:
        assert wait_for(lambda: any(results.glob("groups/*/group.json")), 60), "no group was created"
        (group_file,) = results.glob("groups/*/group.json")
        group_id = group_file.parent.name
        assert wait_for(lambda: training_started(results, group_id, 1), 400), "seed 1 never started training"
        campaign.send_signal(signal.SIGINT)
        out, err = campaign.communicate(timeout=120)
    finally:
        campaign.kill()
        if group_id is not None:  # the campaign outlives its command: a failure here must not leave it running
            subprocess.run([sys.executable, "-m", "harness", "stop", group_id], capture_output=True, timeout=300)
    after_interrupt = group_runs(results, group_id)
    resumed = subprocess.run([sys.executable, "-m", "harness", "repro", "--resume", group_id],
                             capture_output=True, text=True, timeout=900)
    return {"id": group_id, "results": results, "interrupted": (campaign.returncode, out, err),
            "after_interrupt": after_interrupt, "resumed": resumed}


def test_ctrl_c_leaves_the_group_resumable(group):
    code, out, err = group["interrupted"]
    assert code == 130, out + err
    assert err.strip().splitlines()[-1] == f"error: group {group['id']} left resumable: harness repro --resume {group['id']}"
    assert "seed 0: succeeded" in out and "seed 1: started" in out and "seed 2" not in out
    runs = group["after_interrupt"]
    assert sorted(runs) == [0, 1] and runs[0]["status"] == "succeeded" and runs[1]["status"] == "interrupted"


def test_the_resumed_group_has_three_runs_and_one_verdict_with_n_3(group, cli):
    resumed, runs = group["resumed"], group_runs(group["results"], group["id"])
    assert sorted(runs) == [0, 1, 2] and all(r["status"] == "succeeded" for r in runs.values()), resumed.stderr
    assert [len(r["attempts"]) for _, r in sorted(runs.items())] == [1, 2, 1], "seed 1 resumed, not restarted"
    assert runs[1]["attempts"][0]["status"] == "interrupted"
    assert f"seed 1: resuming {runs[1]['run_id']}" in resumed.stdout and "seed 0:" not in resumed.stdout
    verdict = cli("verify", *[group["results"] / runs[s]["run_id"] for s in (0, 1, 2)], "--json")
    judged = json.loads(verdict.stdout)
    assert judged["aggregate"]["n"] == 3 and resumed.returncode == verdict.exit_code
    report = group["results"] / "groups" / group["id"] / "report"
    assert (report / "bbox_mAP.png").stat().st_size > 10_000
    text = (report / "report.md").read_text()
    assert f"group {group['id']}: {judged['verdict']}" in text and "Runs: 3 of 3 (seeds 0, 1, 2)" in text
    listed = cli("runs", "--group", group["id"], "--json")
    assert sorted(r["spec"]["seed"] for r in json.loads(listed.stdout)) == [0, 1, 2]
    again = cli("report", "--group", group["id"])
    assert again.exit_code == 0 and "report-2/report.md" in again.stdout, "the first report is kept"


def test_every_run_records_where_it_came_from(group):
    run = group_runs(group["results"], group["id"])[0]
    environment, dataset = run["environment"], run["dataset"]
    assert environment["source"]["revision"] and environment["stack"]["packages"]["mmdet"] == "3.3.0"
    assert environment["machine"]["cores"] and environment["machine"]["memory_bytes"] and not environment["errors"]
    assert [s["split"] for s in dataset["splits"]] == ["train2017", "val2017"] and not dataset["deep"]
    assert len(run["config_sha256"]) == 64 and len(run["resolved_config_sha256"]) == 64


def test_a_rerun_gives_identical_metrics(group, cli):
    original = group_runs(group["results"], group["id"])[0]
    result = cli("rerun", original["run_id"])
    assert result.exit_code == 0, result.stdout + result.stderr
    (new,) = [read_json(p) for p in group["results"].glob("*/run.json")
              if read_json(p).get("rerun_of") == original["run_id"]]  # the session's store holds other reruns
    assert new["spec"] == original["spec"] and new["drift"] == [] and new["group"] is None
    assert new["final_metrics"] == original["final_metrics"]
    first, second = (logs.parse_path(group["results"] / r["run_id"] / "work_dir") for r in (original, new))
    assert [e.metrics for e in first.evaluations] == [e.metrics for e in second.evaluations]
    assert cli("compare", original["run_id"], new["run_id"], "--tolerance", "0").exit_code == 0


def drifted_copy(group, tmp_path, seed: int, epochs: int) -> Path:
    """A copy of a group run whose record says its dataset was fingerprinted deep, with other val2017 images
    (and, to keep the rerun short, fewer epochs): the rerun fingerprints deep too, and finds the drift."""
    original = group_runs(group["results"], group["id"])[seed]
    copy = tmp_path / "drifted"
    shutil.copytree(group["results"] / original["run_id"], copy, ignore=shutil.ignore_patterns("*.pth"))
    data = read_json(copy / "run.json")
    data["dataset"]["deep"], data["dataset"]["splits"][1]["images_sha256"] = True, "0" * 64
    data["spec"]["epochs"], data["run_id"] = epochs, copy.name
    data["config_sha256"] = None  # the config of the new epoch count differs; the dataset is the drift tested
    (copy / "run.json").write_text(json.dumps(data))
    return copy


def test_a_rerun_on_drifted_data_is_refused_and_allowed_with_allow_drift(group, cli, tmp_path):
    copy = drifted_copy(group, tmp_path, 2, 1)
    before = sorted(p.name for p in group["results"].iterdir())
    refused = cli("rerun", copy)
    line = one_line_error(refused)
    assert refused.exit_code == 2 and line.startswith(f"error: rerun {copy.name}: the dataset (val2017 images_sha256 0000")
    assert "--allow-drift runs it anyway" in line and sorted(p.name for p in group["results"].iterdir()) == before
    allowed = cli("rerun", copy, "--allow-drift")
    assert allowed.exit_code == 0, allowed.stdout + allowed.stderr
    assert "drifted from drifted: the dataset (val2017 images_sha256 0000" in allowed.stdout
    (new,) = [p for p in group["results"].glob("*/run.json") if read_json(p).get("rerun_of") == "drifted"]
    record = read_json(new)
    assert record["spec"]["epochs"] == 1 and record["status"] == "succeeded"
    assert record["dataset"]["deep"] and all(s["images_sha256"] for s in record["dataset"]["splits"])
    (drift,) = record["drift"]
    assert drift.startswith("the dataset (val2017 images_sha256 0000")


def test_two_runs_at_a_time_on_two_cores(cli, session_env):
    result = cli("repro", "--runs", "2", "--epochs", "1", "--seed", "10", "--parallel", "2", "--group", "two-at-once")
    assert result.exit_code in (0, 1), result.stdout + result.stderr
    runs = group_runs(session_env / "results", "two-at-once")
    assert sorted(runs) == [10, 11] and all(r["status"] == "succeeded" for r in runs.values())
    first, second = (runs[s]["attempts"][0] for s in (10, 11))
    assert first["started"] <= second["finished"] and second["started"] <= first["finished"], "they overlapped"
    folder = session_env / "results" / "groups" / "two-at-once"
    assert all("succeeded: " in (folder / f"seed-{s}.log").read_text() for s in (10, 11)), "each run's own output"
    taken = cli("repro", "--runs", "1", "--group", "two-at-once")
    assert taken.exit_code == 2 and "a group of that name exists" in one_line_error(taken)
