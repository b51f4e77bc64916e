"""The installed stack is exactly the pinned one, with the traps of the OpenMMLab stack avoided."""

from __future__ import annotations

import importlib.util
from importlib import metadata
from pathlib import Path

import pytest

from harness import bootstrap


def pins() -> dict[str, str]:
    found = {}
    for line in bootstrap.CONSTRAINTS.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            found[name.strip()] = version.strip()
    return found


def test_every_pinned_package_is_installed_at_its_version():
    wrong = {name: metadata.version(name) for name, version in pins().items()
             if metadata.version(name).split("+")[0] != version}
    assert wrong == {}


def test_the_version_maze_is_pinned_where_it_matters():
    assert bootstrap.pinned("torch") == "2.13.0"
    assert bootstrap.pinned("mmcv") == "2.1.0" == bootstrap.MMCV_VERSION
    assert bootstrap.pinned("mmdet") == "3.3.0" and bootstrap.pinned("mmengine") == "0.10.7"
    assert int(bootstrap.pinned("setuptools").split(".")[0]) < 81


def test_mmcv_has_compiled_ops_and_torchvision_is_absent():
    assert importlib.util.find_spec("mmcv._ext") is not None
    assert importlib.util.find_spec("torchvision") is None


@pytest.mark.parametrize("module", ["torch", "mmdet.apis", "typer", "pydantic.main", "harness.run.pipeline"])
def test_the_set_up_byte_compiled_what_every_start_imports(module):
    """These machines set PYTHONDONTWRITEBYTECODE: without the set-up's .pyc files, every start compiles again."""
    source = importlib.util.find_spec(module).origin
    assert Path(importlib.util.cache_from_source(source)).is_file(), source


def test_wheel_cache_key_names_every_version_it_depends_on(tmp_path):
    folder = bootstrap.wheel_cache_dir(tmp_path, "2.13.0")
    assert folder.parent == tmp_path / "wheels"
    assert folder.name.startswith("mmcv-2.1.0-torch2.13.0-cp311-")


def test_pinned_refuses_an_unpinned_package():
    with pytest.raises(bootstrap.BootstrapError, match="pins no version of nothing-here"):
        bootstrap.pinned("nothing-here")


def test_a_wheel_enters_the_cache_atomically(tmp_path):
    wheel = tmp_path / "mmcv-2.1.0-cp311-cp311-linux_x86_64.whl"
    wheel.write_bytes(b"wheel")
    bootstrap.keep_in_cache(wheel, tmp_path / "cache")
    (cached,) = bootstrap.wheel_cache_dir(tmp_path / "cache", "2.13.0").iterdir()
    assert cached.name == wheel.name and cached.read_bytes() == b"wheel"


def test_ci_runs_exactly_the_readme_test_command():
    readme = (bootstrap.ROOT / "README.md").read_text()
    command = readme.split("Set up and run the tests")[1].split("\n\n")[1].strip()
    assert command.startswith("python3 -m harness.bootstrap")
    assert command in (bootstrap.ROOT / ".ci" / "run").read_text().splitlines()
