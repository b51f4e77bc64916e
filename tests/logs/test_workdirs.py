"""The parsers and verdicts on golden work_dirs: real mmdet 3.3.0 runs of every shape a long run leaves.

Made by tests/golden/make_workdirs.py with the pinned stack and checked in (logs, scalars, config dumps;
no checkpoints), so these tests run offline and do not depend on runs the test session makes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness import logs
from harness.logs import mmengine

from conftest import one_line_error
from support import GOLDEN

WORKDIRS = GOLDEN / "workdirs"


def golden(name: str) -> Path:
    path = WORKDIRS / name
    assert path.is_dir(), f"{path} is missing: run tests/golden/make_workdirs.py"
    return path


def verify_json(cli, path: Path, *args: str) -> tuple[int, dict]:
    result = cli("verify", path, "--benchmark", "smoke", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def test_a_resume_that_died_at_start_up_is_skipped_with_a_warning():
    work = golden("resumed-crashed-attempt")
    folders = sorted(p.name for p in work.glob("2*"))
    assert len(folders) == 3, "killed attempt, crashed resume, resume that worked"
    parsed = logs.parse_path(work)
    assert [e.epoch for e in parsed.evaluations] == [1, 2, 3] and parsed.finished
    assert len(parsed.warnings) == 1 and folders[1] in parsed.warnings[0] and "skipped 1 attempt" in parsed.warnings[0]
    iterations = [s.iter for s in parsed.steps]
    assert iterations == sorted(set(iterations)), "the killed attempt's repeated iterations are counted once"


def test_verify_merges_the_attempts_that_logged(cli):
    code, document = verify_json(cli, golden("resumed-crashed-attempt"))
    assert code != 2 and document["runs"][0]["status"] == "finished"
    assert [e["epoch"] for e in document["evaluations"]] == [1, 2, 3]
    assert any("skipped 1 attempt" in w for w in document["warnings"])


def test_a_test_work_dir_whose_first_attempt_crashed(cli):
    parsed = logs.parse_path(golden("test-crashed-attempt"))
    assert len(parsed.evaluations) == 1 and "bbox_mAP" in parsed.final.metrics
    code, document = verify_json(cli, golden("test-crashed-attempt"))
    assert code != 2 and document["runs"][0]["status"] == "finished"


def test_iteration_loop_evaluations_are_keyed_by_iteration():
    work = golden("iteration-loop")
    for parsed in (logs.parse_path(work), logs.parse_path(next(work.glob("2*/2*.log")))):
        assert parsed.loop == "iter" and parsed.unit == "iteration"
        assert [e.epoch for e in parsed.evaluations] == [4, 8, 12] and parsed.max_epochs == 12 and parsed.finished
        assert all("bbox_mAP" in e.metrics for e in parsed.evaluations)
        assert parsed.last_step.iter == 12 and [s.iter for s in parsed.steps] == list(range(1, 13))
    scalars, text = logs.parse_path(work), logs.parse_path(next(work.glob("2*/2*.log")))
    assert scalars.format == "mmengine-scalars" and scalars.evaluations == text.evaluations


def test_an_iteration_loop_cut_before_its_last_evaluation_is_incomplete(cli, tmp_path):
    work = shutil.copytree(golden("iteration-loop"), tmp_path / "cut")
    (ts_dir,) = work.glob("2*")
    text_log = ts_dir / f"{ts_dir.name}.log"
    lines = text_log.read_text().splitlines(keepends=True)
    last_val = max(i for i, line in enumerate(lines) if "Iter(val)" in line and "coco/bbox_mAP" in line)
    text_log.write_text("".join(lines[:last_val]))
    (ts_dir / "vis_data" / "scalars.json").write_text("")
    code, document = verify_json(cli, work)
    assert code == 2 and document["verdict"] == "incomplete"
    assert document["runs"][0]["reason"] == "last evaluation at iteration 8 of 12"
    assert document["evaluated_by"] == "iteration"


def test_an_empty_evaluation_has_no_metrics_never_the_reprinted_ones():
    work = golden("empty-evaluation")
    (ts_dir,) = work.glob("2*")
    text = (ts_dir / f"{ts_dir.name}.log").read_text()
    assert text.count(mmengine.EMPTY_RESULTS) == 1, "epoch 4 found nothing"
    (epoch_3,) = [line for line in text.splitlines() if "Epoch(val) [3][2/2]    coco/bbox_mAP:" in line]
    (epoch_4,) = [line for line in text.splitlines() if "Epoch(val) [4][2/2]    coco/bbox_mAP:" in line]
    assert epoch_3.split("coco/bbox_mAP:")[1][:8] == epoch_4.split("coco/bbox_mAP:")[1][:8] != " 0.0000 ", \
        "mmengine re-prints epoch 3's (non-zero) values on the empty epoch's line"
    for parsed in (logs.parse_path(work), logs.parse_path(ts_dir / f"{ts_dir.name}.log")):
        *earlier, last = parsed.evaluations
        assert [e.epoch for e in parsed.evaluations] == [1, 2, 3, 4] and not any(e.empty for e in earlier)
        assert earlier[-1].metrics["bbox_mAP"] > 0
        assert last.empty and last.metrics == {}


def test_an_empty_last_evaluation_is_incomplete_with_that_reason(cli):
    code, document = verify_json(cli, golden("empty-evaluation"))
    assert code == 2 and document["verdict"] == "incomplete" and document["value"] is None
    assert document["runs"][0]["reason"].startswith("the last evaluation (epoch 4) was empty: no box scored above")
    assert [e["empty"] for e in document["evaluations"]] == [False, False, False, True]


def test_the_per_evaluation_table_says_empty(cli):
    result = cli("verify", golden("empty-evaluation"), "--benchmark", "smoke")
    assert result.exit_code == 2
    assert result.stdout.count("empty: no box above the score threshold") == 1


def test_a_nan_loss_is_a_divergence_at_its_first_iteration(cli):
    parsed = logs.parse_path(golden("nan-loss"))
    assert parsed.diverged_at is not None and parsed.diverged_at.iter == 6 and parsed.diverged_why is None
    code, document = verify_json(cli, golden("nan-loss"))
    assert code == 1 and document["verdict"] == "diverged"
    assert document["reason"].startswith("the loss became nan at iteration 6 (epoch 2)")


def test_every_golden_text_log_agrees_with_its_scalars():
    for work in sorted(WORKDIRS.iterdir()):
        assert logs.parse_path(work).warnings == [] or "skipped" in logs.parse_path(work).warnings[0], work.name


def test_a_work_dir_whose_only_attempt_logged_nothing_is_still_bad_input(cli, tmp_path):
    work = tmp_path / "crashed"
    (crashed,) = [p for p in sorted(golden("resumed-crashed-attempt").glob("2*"))[1:2]]
    shutil.copytree(crashed, work / crashed.name)
    result = cli("verify", work, "--benchmark", "smoke")
    assert result.exit_code == 2 and "holds no mmengine training or evaluation lines" in one_line_error(result)


@pytest.mark.parametrize("line, iteration, epoch, loss", [
    ("2026/12/01 10:00:00 - mmengine - ERROR - harness: training diverged at iteration 37 (epoch 3): loss nan "
     "(not finite)", 37, 3, None),
    ("2026/12/01 10:00:00 - mmengine - ERROR - harness: training diverged at iteration 5 (epoch 1): loss 4.9e+03 "
     "(above 1000 x its first value 2.2)", 5, 1, 4900.0),
])
def test_the_divergence_hooks_line_is_read(tmp_path, line, iteration, epoch, loss):
    log = tmp_path / "x.log"
    log.write_text(line + "\n")
    parsed = logs.parse_path(log)
    assert (parsed.diverged_at.iter, parsed.diverged_at.epoch) == (iteration, epoch)
    assert parsed.diverged_at.loss == loss or (loss is None and parsed.diverged_at.loss != parsed.diverged_at.loss)
    assert "stopped by the harness's divergence check" in logs.divergence_reason(parsed)
