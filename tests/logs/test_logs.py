"""Log parsing on the real mmengine output of this test session's smoke run, and mutations of it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness import logs
from harness.cli import app
from harness.errors import BadInput
from harness.logs import TrainStep
from harness.spec import benchmarks

from support import GOLDEN, cut_before_first_evaluation


def test_scalars_and_text_log_agree(smoke_run, smoke_log):
    from_dir = logs.parse_path(smoke_run / "work_dir")
    from_text = logs.parse_path(smoke_log)
    assert from_dir.format == "mmengine-scalars" and from_text.format == "mmengine-text"
    assert from_dir.evaluations == from_text.evaluations
    epochs = benchmarks.benchmark("smoke").schedule.epochs
    assert [e.epoch for e in from_dir.evaluations] == list(range(1, epochs + 1))
    assert from_dir.max_epochs == from_text.max_epochs == epochs
    assert from_text.last_step.epoch == epochs and from_dir.finished and from_text.finished
    # both count iterations globally (the text log within the epoch, converted)
    assert from_text.last_step.iter == from_dir.last_step.iter
    assert [s.iter for s in from_text.steps] == [s.iter for s in from_dir.steps]


def test_metrics_are_ap_points_without_coco_placeholders(smoke_run):
    final = logs.parse_path(smoke_run / "work_dir").final
    assert set(final.metrics) <= set(logs.BBOX_KEYS) and "bbox_mAP" in final.metrics
    assert all(0 <= v <= 100 for v in final.metrics.values())
    assert final.metrics["bbox_mAP_50"] >= final.metrics["bbox_mAP"]


def test_val_progress_lines_are_not_evaluations():
    line = "11/24 06:46:55 - mmengine - INFO - Epoch(val)  [1][4/4]    eta: 0:00:00  time: 0.0927  data_time: 0.0028"
    assert logs.parse_line(line) is None


def test_train_line(smoke_log):
    line = next(l for l in smoke_log.read_text().splitlines() if "Epoch(train)" in l)
    step = logs.parse_line(line)
    assert isinstance(step, TrainStep) and step.epoch == 1 and step.iters_per_epoch > 0 and step.loss > 0


def test_cut_off_log_has_progress_but_no_evaluation(smoke_log, tmp_path):
    parsed = logs.parse_path(cut_before_first_evaluation(smoke_log, tmp_path / "cut.log"))
    assert parsed.evaluations == [] and parsed.last_step.epoch == 1 and parsed.finished is False


def test_work_dir_with_cut_off_logs(smoke_run, tmp_path):
    (ts_dir,) = (smoke_run / "work_dir").glob("2*")
    copy = tmp_path / "work" / ts_dir.name
    shutil.copytree(ts_dir, copy)
    (copy / "vis_data" / "scalars.json").write_text("")
    cut_before_first_evaluation(ts_dir / f"{ts_dir.name}.log", copy / f"{ts_dir.name}.log")
    parsed = logs.parse_path(tmp_path / "work")
    assert parsed.format == "mmengine-text" and parsed.evaluations == []


@pytest.mark.parametrize("content", [b"", b"\x00\xff garbage \x13" * 100, b"just some text\nno log lines\n"])
def test_empty_or_garbage_log_is_bad_input(tmp_path, content):
    path = tmp_path / "x.log"
    path.write_bytes(content)
    with pytest.raises(BadInput, match="holds no mmengine"):
        logs.parse_path(path)


def test_directory_without_logs(tmp_path):
    with pytest.raises(BadInput, match="no mmengine logs under"):
        logs.parse_path(tmp_path)


def test_mmdet2_log_json_in_the_published_format():
    parsed = logs.parse_path(GOLDEN / "20230601_101500.log.json")
    assert parsed.format == "mmdet2-json" and parsed.max_epochs == 24
    assert [e.epoch for e in parsed.evaluations] == [1, 2, 3]
    assert parsed.final.metrics == {"bbox_mAP": 43.2, "bbox_mAP_50": 63.1, "bbox_mAP_75": 46.3, "bbox_mAP_s": 26.2,
                                    "bbox_mAP_m": 46.8, "bbox_mAP_l": 56.3}
    assert parsed.last_step.epoch == 3 and parsed.last_step.loss == 1.44329 and parsed.diverged_at is None
    assert parsed.last_step.iter == 2 * 7330 + 100  # global: the val rows give the epoch's length
    assert logs.parse_path(GOLDEN).format == "mmdet2-json"  # a work_dir of that era


def with_nan_loss(lines: list[str], nth_train: int, make_nan) -> list[str]:
    seen = 0
    for i, line in enumerate(lines):
        if isinstance(logs.parse_line(line), TrainStep) or '"loss":' in line:
            seen += 1
            if seen == nth_train:
                lines[i] = make_nan(line)
                break
    return lines


def test_nan_loss_in_the_text_log_is_found_with_its_iteration(smoke_log, tmp_path):
    lines = with_nan_loss(smoke_log.read_text().splitlines(keepends=True), 3,
                          lambda l: re.sub(r"  loss: [0-9.]+", "  loss: nan", l))
    (tmp_path / "nan.log").write_text("".join(lines))
    parsed = logs.parse_path(tmp_path / "nan.log")
    expected = [s for s in map(logs.parse_line, lines) if isinstance(s, TrainStep)][2]
    assert (parsed.diverged_at.epoch, parsed.diverged_at.iter) == (expected.epoch, expected.iter)


def test_infinite_loss_in_scalars_json(smoke_run, tmp_path):
    (scalars,) = smoke_run.glob("work_dir/*/vis_data/scalars.json")
    lines = with_nan_loss(scalars.read_text().splitlines(keepends=True), 2,
                          lambda l: json.dumps({**json.loads(l), "loss": float("inf")}) + "\n")
    (tmp_path / "scalars.json").write_text("".join(lines))
    parsed = logs.parse_path(tmp_path / "scalars.json")
    assert parsed.diverged_at is not None and parsed.diverged_at.loss == float("inf")


def test_scalars_and_text_are_cross_checked(smoke_run, tmp_path):
    (ts_dir,) = (smoke_run / "work_dir").glob("2*")
    copy = tmp_path / ts_dir.name
    shutil.copytree(ts_dir, copy)
    scalars = copy / "vis_data" / "scalars.json"
    rows = [json.loads(l) for l in scalars.read_text().splitlines()]
    last_val = max(i for i, r in enumerate(rows) if "coco/bbox_mAP" in r)
    rows[last_val]["coco/bbox_mAP"] = 0.001
    scalars.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parsed = logs.parse_path(copy)
    assert len(parsed.warnings) == 1 and "scalars.json has bbox_mAP 0.1, the text log" in parsed.warnings[0]


@pytest.fixture(scope="module")
def resumed_run(session_env) -> Path:
    """A real resumed run: 1 epoch through the harness, then mmdet's own --resume to epoch 2 in the same work_dir."""
    run = session_env / "resumed"
    assert CliRunner().invoke(app, ["train", "--epochs", "1", "--work-dir", str(run)]).exit_code == 0
    time.sleep(1.1)  # mmengine names timestamp folders by the second
    command = json.loads((run / "run.json").read_text())["attempts"][-1]["command"]
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    subprocess.run([*command, "--resume", "--cfg-options", "train_cfg.max_epochs=2"], cwd=run, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return run


def test_resumed_run_is_merged_in_order_without_double_counting(resumed_run):
    assert len(list((resumed_run / "work_dir").glob("2*"))) == 2
    parsed = logs.parse_path(resumed_run / "work_dir")
    assert [e.epoch for e in parsed.evaluations] == [1, 2] and parsed.max_epochs == 2
    keys = [(s.epoch, s.iter) for s in parsed.steps]
    assert keys == sorted(set(keys)) and {e for e, _ in keys} == {1, 2}
    assert parsed.last_step.epoch == 2


def test_segmentation_only_log_is_not_a_detection_log(smoke_run, tmp_path):
    (scalars,) = smoke_run.glob("work_dir/*/vis_data/scalars.json")
    (tmp_path / "scalars.json").write_text(scalars.read_text().replace("coco/bbox_", "coco/segm_"))
    with pytest.raises(BadInput, match=r"reports no bbox metrics \(coco/segm_mAP.*not a detection log"):
        logs.parse_path(tmp_path / "scalars.json")


@pytest.mark.parametrize("value, expected", [(3, 3), (3.0, 3), (10**400, None), (-1, None), (2.5, None),
                                             (float("inf"), None), (True, None), ("3", None)])
def test_epoch_and_iteration_values_from_json(value, expected):
    from harness.logs.models import whole

    assert whole(value) == expected
