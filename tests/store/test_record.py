"""Run records: atomic, versioned, with the permissions of an ordinary file."""

from __future__ import annotations

import json
import os
import stat

import pytest

from harness import files
from harness.errors import BadInput
from harness.store import layout


def test_atomic_write_leaves_no_temporary_file_and_honours_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        files.write_json_atomic(tmp_path / "run.json", {"a": 1})
    finally:
        os.umask(old)
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
    assert stat.S_IMODE((tmp_path / "run.json").stat().st_mode) == 0o644
    assert json.loads((tmp_path / "run.json").read_text()) == {"a": 1}


def test_new_run_dirs_never_collide(tmp_path):
    first, second = layout.new_run_dir("smoke", tmp_path), layout.new_run_dir("smoke", tmp_path)
    assert first != second and first.is_dir() and second.is_dir()


def test_claiming_a_non_empty_directory_is_refused(tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    with pytest.raises(BadInput, match="is not empty"):
        layout.claim_run_dir(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep"


def test_latest_run_is_the_last_started_whatever_its_directory_name(tmp_path):
    from store_records import make_record

    for name, started in (("20261124-090000-smoke", "2026-11-24T09:00:00+00:00"),
                          ("zz-named-by-hand", "2026-11-24T08:00:00+00:00")):
        (tmp_path / name).mkdir()
        layout.write(tmp_path / name, make_record(name, started=started))
    assert layout.latest(tmp_path).name == "20261124-090000-smoke"
