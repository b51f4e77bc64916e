"""The results store, record schemas, environment collectors, dataset fingerprints and the rerun drift check
(offline: records made in memory, a tiny synthetic dataset)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.data import fingerprint
from harness.data.synth import SynthParams, write_synthetic
from harness.edges import host
from harness.edges.host import Stack
from harness.errors import BadInput
from harness.run import repro
from harness.spec.runspec import RunSpec, train_args
from harness.store import layout, record
from harness.store.record import GroupRecord
from harness.verdict import groups

from conftest import one_line_error
from store_records import make_record
from support import GOLDEN


@pytest.fixture
def results(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HARNESS_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def put(results: Path, run_id: str, **changes) -> Path:
    run_dir = results / run_id
    run_dir.mkdir(parents=True)
    layout.write(run_dir, make_record(run_id, **changes))
    return run_dir


def test_runs_filter_by_benchmark_group_status_and_platform_and_list_unreadable_ones(results):
    put(results, "a", group="g1", started="2026-12-01T09:00:00+00:00")
    put(results, "b", group="g1", status="failed", started="2026-12-01T10:00:00+00:00")
    put(results, "c", started="2026-12-01T08:00:00+00:00")
    (results / "broken").mkdir()
    (results / "broken" / "run.json").write_text("{not json")
    listed = layout.runs()
    assert [e.path.name for e in listed] == ["broken", "c", "a", "b"]
    assert listed[0].record is None and "is not a readable run record" in listed[0].error
    assert [e.path.name for e in layout.runs(group="g1")] == ["a", "b"]
    assert [e.path.name for e in layout.runs(group="g1", status="failed")] == ["b"]
    assert layout.runs(platform="cuda") == [] and len(layout.runs(benchmark="smoke", kind="train")) == 3


def test_runs_cli_filters_and_refuses_an_unknown_group(cli, results):
    layout.new_group_dir("g1", exact=True)
    layout.write_group(GroupRecord(group_id="g1", spec=RunSpec(benchmark="smoke", platform="cpu", epochs=1), seeds=[0],
                                  created="2026-12-01T09:00:00+00:00"))
    put(results, "a", group="g1")
    put(results, "b")
    listed = cli("runs", "--group", "g1", "--json")
    assert listed.exit_code == 0 and [r["run_id"] for r in json.loads(listed.stdout)] == ["a"]
    unknown = cli("runs", "--group", "nope")
    assert unknown.exit_code == 2 and "no group 'nope'" in one_line_error(unknown)


def test_a_group_record_round_trips_and_a_newer_one_is_refused(results):
    folder = layout.new_group_dir("smoke-x3")
    group = GroupRecord(group_id=folder.name, spec=RunSpec(benchmark="smoke", platform="cpu", epochs=3),
                        seeds=[0, 1, 2], created="2026-12-01T09:00:00+00:00")
    layout.write_group(group)
    assert layout.read_group(folder.name) == group
    (folder / "group.json").write_text(json.dumps(group.model_dump(mode="json") | {"schema_version": 4}))
    with pytest.raises(BadInput, match="schema version 4, newer than this harness reads"):
        layout.read_group(folder.name)
    schema_1 = {k: v for k, v in group.model_dump(mode="json").items() if k != "campaign"} | {"schema_version": 1}
    schema_1["spec"] = {k: v for k, v in schema_1["spec"].items() if k not in ("hang_timeout", "skip_preflight")}
    (folder / "group.json").write_text(json.dumps(schema_1))
    assert layout.read_group(folder.name) == group  # a group of an earlier harness reads as schema 3


def test_a_schema_2_record_written_by_the_previous_harness_reads_as_schema_3(tmp_path):
    """tests/golden/run-schema2.json: the record of a real 1-epoch smoke run by commit e97e67b."""
    old = record.read_record(GOLDEN / "run-schema2.json")
    raw = json.loads((GOLDEN / "run-schema2.json").read_text())
    assert raw["schema_version"] == 2 and old.schema_version == 7
    assert raw["spec"]["docker"]["gpu_ids"] is None and old.spec.gpu_ids is None and "gpu_ids" not in old.spec.docker.model_dump()
    assert old.environment.stack.packages["mmdet"] == raw["environment"]["mmdet"] == "3.3.0"
    assert old.environment.machine.hostname == raw["environment"]["hostname"]
    assert old.dataset is None and old.config_sha256 is None and old.group is None


def test_every_collector_runs_and_a_failing_one_is_recorded_not_fatal(monkeypatch):
    facts = host.collect("cpu")
    machine = facts.machine
    assert machine.cores == os.cpu_count() and machine.memory_bytes > 0 and machine.kernel and machine.cpu_model
    assert facts.stack.packages["mmdet"] == "3.3.0" and len(facts.stack.digest) == 64
    assert facts.source.revision and facts.errors == {}

    def broken(path, field):
        raise OSError(f"cannot read {path}")

    monkeypatch.setattr(host, "_proc_field", broken)
    facts = host.collect("cpu")
    assert set(facts.errors) == {"cpu", "memory"} and "cannot read /proc/cpuinfo" in facts.errors["cpu"]
    assert facts.machine.cpu_model is None and facts.machine.cores == os.cpu_count()


def test_the_stack_digest_is_the_environment_s_not_the_import_path_s(tmp_path, monkeypatch):
    """Importing pkg_resources puts setuptools' vendored packages on sys.path: the digest must not move."""
    before = host.collect("cpu").stack
    (tmp_path / "vendored-1.0.dist-info").mkdir()
    (tmp_path / "vendored-1.0.dist-info" / "METADATA").write_text("Name: vendored\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert host.collect("cpu").stack == before


def test_gpu_facts_come_from_the_vendor_tool(tmp_path, monkeypatch):
    fake = tmp_path / "ixsmi"  # ixsmi takes nvidia-smi's flags; its header names the IX-ML (SDK) version
    fake.write_text('#!/bin/sh\ncase "$1" in\n'
                    '  -L) echo "GPU 0: Iluvatar BI-V150 (UUID: GPU-0)";;\n'
                    '  --query-gpu=*) echo "Iluvatar BI-V150, 4.2.0";;\n'
                    '  *) echo "| IX-ML: 4.2.0       Driver Version: 4.2.0       CUDA Version: 10.2 |";;\nesac\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    machine = host.collect("ixuca").machine
    assert machine.gpus == ["GPU 0: Iluvatar BI-V150 (UUID: GPU-0)"] and machine.gpu_model == "Iluvatar BI-V150"
    assert (machine.driver, machine.cuda, machine.sdk) == ("4.2.0", "10.2", "4.2.0")
    assert host.detect_platform() == "ixuca"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("tiny") / "coco", SynthParams(train=4, val=2, seed=0, image_size=32))


def test_a_fingerprint_names_what_changed_in_a_copy_of_the_dataset(tiny, tmp_path):
    import shutil

    before = fingerprint.fingerprint(tiny)
    assert [s.images for s in before.splits] == [4, 2] and before.splits[0].image_bytes > 0
    copy = Path(shutil.copytree(tiny, tmp_path / "copy"))
    assert fingerprint.fingerprint(copy).splits == before.splits, "the same files fingerprint the same anywhere"
    (copy / "val2017" / "extra.jpg").write_bytes(b"x" * 10)
    ann = copy / "annotations" / "instances_train2017.json"
    ann.write_text(ann.read_text().replace('"iscrowd": 0', '"iscrowd": 0 '))
    changes = before.differences(fingerprint.fingerprint(copy))
    assert any(c.startswith("train2017 annotation_sha256 ") for c in changes)
    assert "val2017 images 2 -> 3" in changes and any(c.startswith("val2017 image_bytes") for c in changes)


def test_a_deep_fingerprint_hashes_every_image_with_progress(tiny, tmp_path):
    import shutil

    counted = []
    deep = fingerprint.fingerprint(tiny, deep=True, on_image=lambda: counted.append(1))
    assert len(counted) == fingerprint.image_count(tiny) == 6 and all(s.images_sha256 for s in deep.splits)
    copy = Path(shutil.copytree(tiny, tmp_path / "copy"))
    image = sorted((copy / "train2017").iterdir())[0]
    data = bytearray(image.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte different: only the deep fingerprint sees it
    image.write_bytes(bytes(data))
    assert fingerprint.fingerprint(copy).differences(fingerprint.fingerprint(tiny)) == []
    changes = deep.differences(fingerprint.fingerprint(copy, deep=True))
    assert len(changes) == 1 and changes[0].startswith("train2017 images_sha256 ")


def test_drift_names_the_stack_the_image_the_dataset_and_the_config():
    old = make_record("old")
    assert groups.drift(old, make_record("new")) == []
    stack = Stack(packages={"torch": "2.2.0", "mmcv": "2.1.0"}, digest="e" * 64)
    moved = make_record("new", environment=old.environment.model_copy(update={"stack": stack}),
                        dataset=old.dataset.model_copy(update={"splits": [old.dataset.splits[0].model_copy(
                            update={"images": 5})]}),
                        config_sha256="f" * 64, image={"id": "sha256:b"})
    assert groups.drift(old, moved) == [
        "the stack (torch 2.1.0 -> 2.2.0)", "the image (None -> sha256:b)", "the dataset (val2017 images 4 -> 5)",
        "the generated config (sha256 cccccccccccc -> ffffffffffff)"]
    other_packages = Stack(packages=old.environment.stack.packages, digest="e" * 64)
    assert groups.drift(old, make_record("new", environment=old.environment.model_copy(
        update={"stack": other_packages}))) == ["the installed packages (stack digest dddddddddddd -> eeeeeeeeeeee)"]


def test_seeds_and_parallel_are_checked():
    assert repro.seeds_for(3, None, 5) == [5, 6, 7] and repro.seeds_for(None, "4,2", 0) == [4, 2]
    for runs, seeds, message in ((None, None, "needs --runs"), (0, None, "at least 1"), (2, "1,2,3", "names 3"),
                                 (None, "1,x", "not a comma-separated"), (None, "1,1", "names a seed twice")):
        with pytest.raises(BadInput, match=message):
            repro.seeds_for(runs, seeds, 0)
    cpu = RunSpec(benchmark="smoke", platform="cpu", epochs=1)
    repro.check_parallel(cpu, os.cpu_count())
    with pytest.raises(BadInput, match=f"needs {os.cpu_count() + 1} CPU cores; this host has {os.cpu_count()}"):
        repro.check_parallel(cpu, os.cpu_count() + 1)
    with pytest.raises(BadInput, match="needs 4 cuda GPUs; this host has 0"):
        repro.check_parallel(RunSpec(benchmark="smoke", platform="cuda", gpus=2, epochs=1), 2)
    on_slurm = RunSpec(benchmark="smoke", platform="cuda", runtime="slurm", gpus=8, epochs=1)
    repro.check_parallel(on_slurm, 4)  # the scheduler finds each job its GPUs, not this host
    group = GroupRecord(group_id="g", spec=on_slurm, seeds=[0, 1], parallel=2, created="now")
    assert "--gpu-ids" not in repro.child_argv(group, repro.Step(1, "train"), 1)


SPECS = [RunSpec(benchmark="smoke", platform="cpu", epochs=2, seed=7),
         RunSpec(benchmark="smoke", platform="cuda", runtime="docker", gpus=2, gpu_ids=("3", "5"), epochs=4,
                 cfg_options=("optim_wrapper.optimizer.lr=0.02", "model.bbox_head.num_points=9"),
                 stop_below_curve=2.5, data="/data/coco",
                 docker={"image": "harness-cuda:x", "shm_size": "8g", "ipc_host": True, "privileged": True})]


@pytest.mark.parametrize("spec", SPECS)
def test_train_args_start_the_same_spec_again(cli, monkeypatch, spec):
    """What `harness repro` hands each child `harness train`: the spec must survive the command line."""
    from harness.run import pipeline

    seen = []
    monkeypatch.setattr(pipeline, "train", lambda run, *args, **kwargs: seen.append(run) or _stop())
    cli("train", *train_args(spec))
    assert seen == [spec]


def _stop():
    raise BadInput("stopped by the test")


def test_parallel_runs_get_gpus_of_their_own():
    spec = RunSpec(benchmark="smoke", platform="cuda", gpus=2, epochs=1, cfg_options=("a.b=1",))
    group = GroupRecord(group_id="g", spec=spec, seeds=[0, 1], parallel=2, created="2026-12-01T09:00:00+00:00")

    def gpu_ids(slot: int) -> str:
        argv = repro.child_argv(group, repro.Step(seed=slot, action="train"), slot)
        assert argv[argv.index("--group") + 1] == "g" and argv[argv.index("--seed") + 1] == str(slot)
        return argv[argv.index("--gpu-ids") + 1]

    assert [gpu_ids(0), gpu_ids(1)] == ["0,1", "2,3"]
    resumed = repro.child_argv(group, repro.Step(seed=1, action="resume", run_dir=Path("/r/run")), 0, verbose=True)
    assert resumed[-4:] == ["train", "--resume", "/r/run", "--verbose"]
    one_at_a_time = group.model_copy(update={"parallel": 1})
    assert "--gpu-ids" not in repro.child_argv(one_at_a_time, repro.Step(seed=0, action="train"), 0)
