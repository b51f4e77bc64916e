"""Typed models of `configs/platforms/*.toml`: how each platform's image is built and what it pins."""

from __future__ import annotations

import fnmatch
import tomllib
from functools import cache
from pathlib import Path

from pydantic import ValidationError

from harness.bootstrap import pins
from harness.errors import BadInput
from harness.spec.benchmarks import CONFIGS_DIR, Frozen
from harness.spec.choices import PLATFORMS


class WheelRequirement(Frozen):
    """A wheel that must be in the wheelhouse; `pattern` may name pinned versions as {package}."""

    package: str
    pattern: str
    hint: str


class PlatformSpec(Frozen):
    name: str
    dockerfile: str
    image: str
    base_image: str
    base_image_hint: str
    constraints: str
    default_wheelhouse: str | None = None  # relative to the harness cache
    versions: list[str]  # packages whose pins (from `constraints`) the image's labels and build args carry
    fixed_versions: dict[str, str] = {}
    build_args: dict[str, str] = {}
    wheels: list[WheelRequirement] = []


def load_platform(name: str) -> PlatformSpec:
    if name not in PLATFORMS:
        raise BadInput(f"unknown platform {name!r} (one of {', '.join(PLATFORMS)})")
    return _load(name)


@cache
def _load(name: str) -> PlatformSpec:
    path = CONFIGS_DIR / "platforms" / f"{name}.toml"
    try:
        return PlatformSpec(name=name, **tomllib.loads(path.read_text()))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise BadInput(f"{path} is not a valid platform file: {exc}") from exc


def versions(platform: PlatformSpec, root: Path) -> dict[str, str]:
    """The versions an image of this platform pins, before the wheelhouse adds its own."""
    pinned = pins(root / platform.constraints)
    missing = [name for name in platform.versions if name not in pinned]
    if missing:
        raise BadInput(f"{platform.constraints} pins no version of {', '.join(missing)}")
    return {**{name: pinned[name] for name in platform.versions}, **platform.fixed_versions}


def find_wheels(platform: PlatformSpec, wheelhouse: Path | None, known: dict[str, str]) -> dict[str, Path]:
    """The wheel file for each required package, by package name; a missing one is named in the error."""
    if not platform.wheels:
        return {}
    if wheelhouse is None:
        raise BadInput(f"the {platform.name} platform needs a wheelhouse (--wheelhouse DIR) with "
                       f"{', '.join(w.package for w in platform.wheels)} wheels")
    if not wheelhouse.is_dir():
        raise BadInput(f"wheelhouse {wheelhouse} does not exist or is not a directory")
    files = sorted(p.name for p in wheelhouse.iterdir() if p.is_file())
    found = {}
    for wheel in platform.wheels:
        pattern = wheel.pattern.format(version=known.get(wheel.package, "*"), **known)
        matches = fnmatch.filter(files, pattern)
        if not matches:
            hint = wheel.hint.format(version=known.get(wheel.package, ""), **known)
            raise BadInput(f"wheelhouse {wheelhouse} has no {wheel.package} wheel matching {pattern} ({hint})")
        found[wheel.package] = wheelhouse / matches[-1]
    return found


def wheel_version(path: Path) -> str:
    """The version part of a wheel file name (PEP 427: name-version-...)."""
    return path.name.split("-")[1]
