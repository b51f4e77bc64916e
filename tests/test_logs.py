"""Log parsing on the real mmengine output of this test session's smoke run, and mutations of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness import logs, spec
from harness.errors import BadInput
from harness.logs import Evaluation, TrainStep


def test_scalars_and_text_log_agree(smoke_run, smoke_log):
    from_dir = logs.parse_path(smoke_run / "work_dir")
    from_text = logs.parse_path(smoke_log)
    assert from_dir.format == "mmengine-scalars" and from_text.format == "mmengine-text"
    assert from_dir.evaluations == from_text.evaluations
    epochs = spec.benchmark("smoke").schedule.epochs
    assert [e.epoch for e in from_dir.evaluations] == list(range(1, epochs + 1))
    assert from_dir.max_epochs == from_text.max_epochs == epochs
    assert from_text.last_step.epoch == epochs


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


def cut_before_first_evaluation(source: Path, target: Path) -> Path:
    lines = source.read_text().splitlines(keepends=True)
    first_val = next(i for i, l in enumerate(lines) if isinstance(logs.parse_line(l), Evaluation))
    target.write_text("".join(lines[:first_val]))
    return target


def test_cut_off_log_has_progress_but_no_evaluation(smoke_log, tmp_path):
    parsed = logs.parse_path(cut_before_first_evaluation(smoke_log, tmp_path / "cut.log"))
    assert parsed.evaluations == [] and parsed.last_step.epoch == 1


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
