"""`harness eval CHECKPOINT`: mmdet's test of a checkpoint, judged like a training run, locally and in docker."""

from __future__ import annotations

from pathlib import Path

from conftest import one_line_error, read_json, training_command


def final_checkpoint(smoke_run: Path) -> Path:
    return max(smoke_run.glob("work_dir/epoch_*.pth"), key=lambda p: int(p.stem.split("_")[1]))


def test_eval_of_the_smoke_checkpoint_reproduces_its_final_map(cli, smoke_run, session_env):
    result = cli("eval", final_checkpoint(smoke_run), "--work-dir", session_env / "eval-local")
    assert result.exit_code == 0, result.stdout + result.stderr
    run = read_json(session_env / "eval-local" / "run.json")
    trained = read_json(smoke_run / "run.json")
    assert run["spec"]["kind"] == "eval" and run["spec"]["checkpoint"] == str(final_checkpoint(smoke_run))
    assert run["final_metrics"]["bbox_mAP"] == trained["final_metrics"]["bbox_mAP"]
    assert cli("verify", session_env / "eval-local").exit_code == 0


def test_eval_in_the_cpu_image_gives_the_same_verdict(cli, smoke_run, cpu_image, session_env):
    result = cli("eval", final_checkpoint(smoke_run), "--runtime", "docker", "--work-dir", session_env / "eval-docker")
    assert result.exit_code == 0, result.stdout + result.stderr
    run = read_json(session_env / "eval-docker" / "run.json")
    assert run["spec"]["runtime"] == "docker" and training_command(run["attempts"][0])[2].startswith("/work/run/")
    mounts = {m["target"]: m for m in run["container"]["mounts"]}
    assert mounts["/work/checkpoint"] == {"source": str(final_checkpoint(smoke_run).parent),
                                          "target": "/work/checkpoint", "read_only": True}
    assert run["final_metrics"]["bbox_mAP"] == read_json(smoke_run / "run.json")["final_metrics"]["bbox_mAP"]


def test_eval_into_a_work_dir_outside_the_current_directory(cli, smoke_run, tmp_path):
    result = cli("eval", final_checkpoint(smoke_run), "--work-dir", tmp_path / "elsewhere" / "eval")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert read_json(tmp_path / "elsewhere" / "eval" / "run.json")["spec"]["kind"] == "eval"


def test_a_missing_checkpoint_is_bad_input(cli, tmp_path):
    result = cli("eval", tmp_path / "epoch_24.pth")
    assert result.exit_code == 2
    assert "epoch_24.pth does not exist" in one_line_error(result)


def _saved(state: dict, path: Path, legacy: bool) -> Path:
    import torch

    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    return path


def test_eval_takes_the_legacy_format_and_mmdet_2_checkpoints_with_the_same_map(cli, smoke_run, tmp_path):
    """The 2020 model zoo's RepPoints files are torch's pre-1.6 (non-zip) format, mmdet 2.x's layout: weights
    under state_dict, the classes in meta; the smoke model's own weights written both ways give its mAP."""
    import torch

    trained = torch.load(final_checkpoint(smoke_run), map_location="cpu", weights_only=False)
    legacy = _saved(trained, tmp_path / "legacy.pth", legacy=True)
    mmdet2 = _saved({"meta": {"mmdet_version": "2.25.0", "CLASSES": ("circle", "square", "triangle"), "epoch": 20},
                     "state_dict": trained["state_dict"]}, tmp_path / "mmdet2.pth", legacy=True)
    expected = read_json(smoke_run / "run.json")["final_metrics"]["bbox_mAP"]
    for checkpoint in (legacy, mmdet2):
        result = cli("eval", checkpoint, "--work-dir", tmp_path / f"eval-{checkpoint.stem}")
        assert result.exit_code == 0, result.stdout + result.stderr
        assert read_json(tmp_path / f"eval-{checkpoint.stem}" / "run.json")["final_metrics"]["bbox_mAP"] == expected
    rerun = cli("rerun", tmp_path / "eval-legacy")  # a rerun of an eval ends with its verdict, as eval does
    assert rerun.exit_code == 0 and "bbox_mAP" in rerun.stdout and "pass" in rerun.stdout


def test_a_checkpoint_of_another_model_is_refused_before_anything_starts(cli, smoke_run, tmp_path):
    import torch

    weights = torch.load(final_checkpoint(smoke_run), map_location="cpu", weights_only=False)["state_dict"]
    half = dict(list(weights.items())[::2])
    cases = {"foreign": {"state_dict": {"fc.weight": torch.zeros(10, 512), "fc.bias": torch.zeros(10)}},
             "half": {"state_dict": half}, "reshaped": {"state_dict": {k: v.flatten() for k, v in weights.items()}}}
    for name, state in cases.items():
        checkpoint = _saved(state, tmp_path / f"{name}.pth", legacy=False)
        result = cli("eval", checkpoint, "--work-dir", tmp_path / f"eval-{name}")
        assert result.exit_code == 2 and not (tmp_path / f"eval-{name}").exists()
        line = one_line_error(result)
        assert "of the model's 141 tensors with matching shapes (smoke): it is not a checkpoint of this " \
               "benchmark's model" in line, line
    assert "holds 0 of" in one_line_error(cli("eval", tmp_path / "foreign.pth"))
    assert f"holds {len([k for k in half if 'num_batches_tracked' not in k])} of" in \
        one_line_error(cli("eval", tmp_path / "half.pth"))


def test_a_state_dict_that_is_not_a_mapping_is_named(cli, tmp_path):
    checkpoint = _saved({"state_dict": 5}, tmp_path / "five.pth", legacy=False)
    result = cli("eval", checkpoint)
    assert result.exit_code == 2
    assert one_line_error(result).endswith("five.pth loads, but its state_dict is int, not a mapping of names to tensors")


def test_where_the_host_lacks_the_stack_the_preflight_refuses_another_model_s_checkpoint(
        cli, smoke_run, cpu_image, session_env, monkeypatch):
    """A host that only drives containers has no mmdet to build the model with: the same check then runs in the
    preflight, where the job runs, before the test loop; the run ends failed, exit 2, naming the check."""
    import torch

    from harness.job import checkpoints

    monkeypatch.setattr(checkpoints, "stack_here", lambda: False)
    foreign = _saved({"state_dict": {"fc.weight": torch.zeros(10, 512)}}, session_env / "foreign.pth", legacy=False)
    result = cli("eval", foreign, "--runtime", "docker", "--work-dir", session_env / "eval-foreign-docker")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "checkpoint: /work/checkpoint/foreign.pth holds 0 of the model's 141 tensors" in result.stderr
    run = read_json(session_env / "eval-foreign-docker" / "run.json")
    assert run["status"] == "failed" and run["final_metrics"] is None
