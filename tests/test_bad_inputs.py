"""Small bad inputs: one line on stderr, exit 2, nothing started and nothing already written lost."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from conftest import one_line_error
from harness import store

DATA = Path(__file__).parent / "data"


def test_report_into_a_directory_that_cannot_be_created(cli, smoke_run, tmp_path):
    (tmp_path / "a-file").write_text("keep")
    result = cli("report", smoke_run, "--out", tmp_path / "a-file" / "report")
    assert result.exit_code == 2 and "cannot create the report directory" in one_line_error(result)
    assert (tmp_path / "a-file").read_text() == "keep"


def test_runs_with_an_unreadable_results_directory(cli, tmp_path, monkeypatch):
    (tmp_path / "results").write_text("not a directory")
    monkeypatch.setenv("HARNESS_RESULTS", str(tmp_path / "results"))
    result = cli("runs")
    assert result.exit_code == 2
    assert one_line_error(result).startswith(f"error: cannot read the results directory {tmp_path / 'results'}: ")


def test_eval_of_a_file_that_is_not_a_checkpoint_starts_nothing(cli, tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    archive = tmp_path / "other.pth"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("readme.txt", "a zip, but no pickle")
    for bad in (text, archive):
        result = cli("eval", bad, "--work-dir", tmp_path / f"eval-{bad.stem}")
        assert result.exit_code == 2 and "is not a torch checkpoint" in one_line_error(result)
        assert not (tmp_path / f"eval-{bad.stem}").exists()


def test_eval_of_a_torch_file_without_a_state_dict(cli, tmp_path):
    import torch

    bad = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), bad)
    result = cli("eval", bad, "--work-dir", tmp_path / "eval")
    assert result.exit_code == 2 and "holds no state_dict" in one_line_error(result)


def test_synth_refuses_a_size_that_does_not_fit_the_disk(cli, tmp_path):
    result = cli("dataset", "synth", tmp_path / "huge", "--train", "100000000")
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "100000016 images of 128 px need about" in line and "GB free" in line
    assert not (tmp_path / "huge").exists()


def test_synth_shows_progress(cli, tmp_path):
    result = cli("dataset", "synth", tmp_path / "small", "--train", "4", "--val", "2")
    assert result.exit_code == 0 and (tmp_path / "small" / "train2017").is_dir()


def test_a_schema_1_record_written_by_the_previous_harness_still_reads(tmp_path):
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    (run_dir / "run.json").write_text((DATA / "run-schema1.json").read_text())
    old = store.read(run_dir)
    assert old.schema_version == 7 and old.benchmark == "smoke" and old.runtime == "docker" and old.gpus == 2
    assert old.spec.docker.shm_size == "2g" and old.spec.data is None and old.spec.seed == 1
    (attempt,) = old.attempts
    assert attempt.status == "succeeded" and attempt.command == old.command and attempt.command[0] == "python3"


def test_a_record_of_a_newer_schema_is_refused_by_name(cli, tmp_path):
    run_dir = tmp_path / "future"
    run_dir.mkdir()
    data = json.loads((DATA / "run-schema1.json").read_text()) | {"schema_version": 8}
    (run_dir / "run.json").write_text(json.dumps(data))
    for command in (("verify", run_dir), ("train", "--resume", run_dir), ("rerun", run_dir)):
        result = cli(*command)
        assert result.exit_code == 2 and "has schema version 8, newer than this harness reads (up to 7)" in \
            one_line_error(result)
