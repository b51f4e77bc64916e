"""Run records made in memory for offline tests of the store, the rerun drift check and the listings."""

from __future__ import annotations

from harness.data.fingerprint import DatasetFingerprint, SplitFingerprint
from harness.edges.host import Environment, Source, Stack
from harness.spec.runspec import RunSpec
from harness.store.record import Attempt, RunRecord


def make_record(run_id: str, started: str = "2026-12-01T09:00:00+00:00", status: str = "succeeded",
                **changes) -> RunRecord:
    spec = RunSpec(benchmark="smoke", platform="cpu", epochs=1, seed=changes.pop("seed", 0))
    return RunRecord(
        run_id=run_id, spec=spec, status=status, started=started,
        attempts=[Attempt(number=1, started=started, status=status, command=["python", "train.py"])],
        total_batch=8, data_root="/d", synthetic_data=True, config_file="config.py", work_dir="work_dir",
        console_log="console.log", config_sha256="c" * 64,
        environment=Environment(source=Source(harness="0.1.0"),
                                stack=Stack(packages={"torch": "2.1.0", "mmcv": "2.1.0"}, digest="d" * 64)),
        dataset=DatasetFingerprint(path="/d", splits=[SplitFingerprint(
            split="val2017", annotation_sha256="a" * 64, annotation_bytes=10, images=4, image_bytes=400)]),
    ).model_copy(update=changes)
