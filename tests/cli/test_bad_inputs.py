"""Small bad inputs: one line on stderr, exit 2, nothing started and nothing already written lost."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from harness.data.check import annotation_file
from harness.store import layout

from conftest import one_line_error
from support import GOLDEN


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
    (run_dir / "run.json").write_text((GOLDEN / "run-schema1.json").read_text())
    old = layout.read(run_dir)
    assert old.schema_version == 7 and old.benchmark == "smoke" and old.runtime == "docker" and old.gpus == 2
    assert old.spec.docker.shm_size == "2g" and old.spec.data is None and old.spec.seed == 1
    (attempt,) = old.attempts
    assert attempt.status == "succeeded" and attempt.command == old.command and attempt.command[0] == "python3"


def test_a_record_of_a_newer_schema_is_refused_by_name(cli, tmp_path):
    run_dir = tmp_path / "future"
    run_dir.mkdir()
    data = json.loads((GOLDEN / "run-schema1.json").read_text()) | {"schema_version": 8}
    (run_dir / "run.json").write_text(json.dumps(data))
    for command in (("verify", run_dir), ("train", "--resume", run_dir), ("rerun", run_dir)):
        result = cli(*command)
        assert result.exit_code == 2 and "has schema version 8, newer than this harness reads (up to 7)" in \
            one_line_error(result)


# --- The second round of bad inputs (issue 24), one table per kind; each row: what, the input, the words named.

# Item 4: every option value is checked before anything starts: exit 2, one `error:` line, no run record left
# (--dry-run: where a check is missing, nothing starts all the same).
OPTIONS = [
    ("seed below 0", ["train", "--seed", "-1", "--dry-run"], "Invalid value for '--seed'"),
    ("seed past 2**32-1", ["train", "--seed", "4294967296", "--dry-run"], "less than or equal to 4294967295"),
    ("unbalanced brackets", ["train", "--cfg-option", "model.x=[1,2", "--dry-run"], "its brackets do not pair up"),
    ("crossed brackets", ["eval", "x.pth", "--cfg-option", "a=[(1,2])"], "its brackets do not pair up"),
    ("negative hang timeout", ["train", "--hang-timeout", "-5", "--dry-run"], "Invalid value for '--hang-timeout'"),
    ("nan hang timeout", ["train", "--hang-timeout", "nan", "--dry-run"], "Invalid value for '--hang-timeout'"),
    ("negative curve margin", ["train", "--stop-below-curve", "-1", "--dry-run"], "for '--stop-below-curve'"),
    ("nan curve margin", ["train", "--stop-below-curve", "nan", "--dry-run"], "for '--stop-below-curve'"),
    ("infinite curve margin", ["train", "--stop-below-curve", "inf", "--dry-run"], "for '--stop-below-curve'"),
    ("synth seed below 0", ["dataset", "synth", "never", "--seed", "-1"], "Invalid value for '--seed'"),
    ("GPU ids not integers", ["train", "--gpu-ids", "a,b", "--gpus", "2", "--dry-run"], "give distinct GPU indices"),
    ("GPU ids twice", ["train", "--gpu-ids", "0,0", "--gpus", "2", "--dry-run"], "give distinct GPU indices"),
    ("GPU ids not --gpus", ["train", "--gpu-ids", "0,1", "--dry-run"], "names 2 GPU(s) but --gpus is 1"),
    ("empty group name", ["repro", "--group", "", "--runs", "1"], "a group's name starts with a letter or a digit"),
    ("group name '-x'", ["repro", "--group=-x", "--runs", "1"], "a group's name starts with a letter or a digit"),
    ("group name '..'", ["repro", "--group", "..", "--runs", "1"], "a group's name starts with a letter or a digit"),
    ("unknown status", ["runs", "--status", "done"], "unknown status 'done' (one of running, succeeded"),
    ("unknown kind", ["runs", "--kind", "test"], "unknown kind 'test' (one of train, eval, bench)"),
    ("unknown platform", ["runs", "--platform", "gpu"], "unknown platform 'gpu' (one of cpu, cuda, ixuca)"),
    ("unknown benchmark", ["runs", "--benchmark", "nope"], "unknown benchmark 'nope' (one of"),
    ("unknown policy", ["verify", "--policy", "foo"], "unknown policy 'foo'"),
    ("gpus not a number", ["train", "--gpus", "abc", "--dry-run"], "Invalid value for '--gpus'"),
    ("unknown option", ["train", "--bogus"], "No such option: --bogus"),
    ("unknown option of the tool", ["--bogus"], "No such option: --bogus"),
    ("out-of-range number", ["dataset", "synth", "never", "--train", "0"], "Invalid value for '--train'"),
    ("unknown subcommand", ["dataset", "bogus"], "No such command 'bogus'"),]


@pytest.mark.parametrize("argv, words", [case[1:] for case in OPTIONS], ids=[case[0] for case in OPTIONS])
def test_a_bad_option_value_is_one_line_and_starts_nothing(cli, session_env, argv, words):
    before = layout.run_ids()
    result = cli(*argv)
    line = one_line_error(result)
    assert result.exit_code == 2 and line.startswith("error: ") and words in line, line
    assert layout.run_ids() == before and not (session_env / "never").exists()
    assert not result.stdout.strip() and not result.stderr.startswith("\n")


# Item 3: a dataset the training cannot use does not pass the check, and `train` refuses it the same way.
def _empty_annotations(root):
    edit_annotations(root, lambda data: data.update(annotations=[]))


def _zero_byte_image(root):
    sorted((root / "train2017").iterdir())[0].write_bytes(b"")


def _negative_width(root):
    edit_annotations(root, lambda data: data["annotations"][0].update(bbox=[10.0, 10.0, -5.0, 5.0]))


def _symlink_loop(root):
    (root / "train2017" / "loop.jpg").symlink_to("loop.jpg")


def _one_file_two_ids(root):
    edit_annotations(root, lambda data: data["images"][1].update(file_name=data["images"][0]["file_name"]))


def _nested_brackets(root):
    """Where msgspec skips a field it does not decode (info), it still walks it, and once ran out of stack."""
    annotation_file(root, "train2017").write_text('{"info": ' + "[" * 200_000 + "]" * 200_000 + "}")


def _byte_order_mark(root):
    path = annotation_file(root, "train2017")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


DATASETS = [
    ("empty annotations list", _empty_annotations, "train2017: no annotation has a box of positive size"),
    ("0-byte image", _zero_byte_image, "is an empty file (0 bytes)"),
    ("box of negative width", _negative_width, "annotation 1 has bbox [10.0, 10.0, -5.0, 5.0]"),
    ("symlink loop", _symlink_loop, "loop.jpg cannot be read: Too many levels of symbolic links"),
    ("one file under two ids", _one_file_two_ids, "is listed as image 1 and as image 2"),
    ("200,000 nested brackets", _nested_brackets, "is nested too deeply to be a COCO detection file"),
    ("UTF-8 byte order mark", _byte_order_mark, "starts with a UTF-8 byte order mark"),
]


@pytest.fixture
def small_dataset(tmp_path) -> Path:
    from harness.data.synth import SynthParams, write_synthetic

    return write_synthetic(tmp_path / "coco", SynthParams(train=4, val=2, seed=0, image_size=64))


def edit_annotations(root: Path, change) -> None:
    path = annotation_file(root, "train2017")
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("damage, words", [case[1:] for case in DATASETS], ids=[case[0] for case in DATASETS])
def test_a_dataset_the_training_cannot_use_fails_the_check(cli, small_dataset, damage, words):
    damage(small_dataset)
    for argv in (("dataset", "check", small_dataset), ("train", "--data", small_dataset, "--dry-run")):
        result = cli(*argv)
        line = one_line_error(result)
        assert result.exit_code == 2 and line.startswith("error: dataset invalid: ") and words in line, line


def test_a_box_of_zero_width_is_still_only_a_warning(cli, small_dataset):
    edit_annotations(small_dataset, lambda data: data["annotations"][0].update(bbox=[10.0, 10.0, 0.0, 5.0]))
    result = cli("dataset", "check", small_dataset)
    assert result.exit_code == 0 and "box of zero width or height (mmdet skips it)" in result.stderr


# Item 6: messages that said something else than what happened.
def test_a_record_that_is_a_json_list_says_so(cli, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text("[1, 2]")
    result = cli("verify", tmp_path / "run")
    assert result.exit_code == 2 and "is not a run record: its JSON is a list, not an object" in one_line_error(result)


def test_resume_and_rerun_of_an_unknown_id_look_in_the_store(cli):
    for argv in (("train", "--resume", "nope"), ("rerun", "nope")):
        result = cli(*argv)
        assert result.exit_code == 2
        assert "nope: no run of that id under results/ and no such directory" in one_line_error(result)


def test_runs_piped_into_grep_prints_whole_ids_one_line_each(cli, tmp_path, monkeypatch):
    import shutil

    from rich.console import Console

    from harness.cli import output as cli_output

    for name in ("20261203-085910-smoke", "20261203-090248-smoke-bench"):
        shutil.copytree(GOLDEN / "store" / name, tmp_path / name, ignore=shutil.ignore_patterns("*.pth"))
    monkeypatch.setenv("HARNESS_RESULTS", str(tmp_path))
    monkeypatch.setattr(cli_output, "console", Console(width=40))  # a pipe: not a terminal, however narrow
    rows = [line.split()[0] for line in cli("runs").stdout.splitlines() if line.startswith("2026")]
    assert rows == ["20261203-085910-smoke", "20261203-090248-smoke-bench"]


# Item 5: logs that contradict themselves are named, not resolved in silence. The golden store's finished smoke
# run (bbox_mAP 77.2 at its 20th and last epoch), its scalars.json changed as each row says.
FINISHED = "20261203-085910-smoke"


def _evaluated_twice(rows: list[str]) -> list[str]:
    return rows + [json.dumps(json.loads(rows[-1]) | {"coco/bbox_mAP": 0.99})]


def _cut_before_the_last_evaluation(rows: list[str]) -> list[str]:
    return rows[:-1]


def _off_scale(rows: list[str]) -> list[str]:
    return rows[:-1] + [json.dumps(json.loads(rows[-1]) | {"coco/bbox_mAP": 77.2})]


LOGS = [  # (what, the change, exit code, the words of the verdict or the error)
    ("one evaluation twice, other values", _evaluated_twice, 2,
     "contradicts itself: the evaluation at epoch 20 is logged twice, with bbox_mAP 77.2 and then 99.0"),
    ("scalars.json cut short, the text log whole", _cut_before_the_last_evaluation, 0,
     "stops at epoch 19, the text log goes on to epoch 20: read from the text log"),
    ("bbox_mAP off mmengine's 0-1 scale", _off_scale, 2,  # an incomplete verdict
     "reports bbox_mAP 77.2, outside the 0-1 scale mmengine and mmdet write"),
]


@pytest.mark.parametrize("change, code, words", [case[1:] for case in LOGS], ids=[case[0] for case in LOGS])
def test_a_log_that_contradicts_itself_is_named(cli, tmp_path, change, code, words):
    import shutil

    run_dir = tmp_path / FINISHED
    shutil.copytree(GOLDEN / "store" / FINISHED, run_dir, ignore=shutil.ignore_patterns("*.pth"))
    (scalars,) = run_dir.glob("work_dir/*/vis_data/scalars.json")
    scalars.write_text("\n".join(change(scalars.read_text().splitlines())) + "\n")
    result = cli("verify", run_dir)
    assert result.exit_code == code and words in result.stderr, result.stdout + result.stderr
