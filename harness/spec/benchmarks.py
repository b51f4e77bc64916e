"""Typed models of `configs/benchmarks/*.toml`: what to train and what it must reach."""

from __future__ import annotations

import os
import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.errors import BadInput
from harness.spec.choices import Policy

CONFIGS_DIR = Path(os.environ.get("HARNESS_CONFIGS", Path(__file__).resolve().parents[2] / "configs"))
DEFAULT_BENCHMARK = "smoke"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Provenance(Frozen):
    source: str
    hardware: str
    sdk: str | None = None
    framework: str
    config: str | None = None
    date: str | None = None
    notes: str | None = None


class Reference(Frozen):
    """A published (or recorded) bbox mAP with where it comes from.

    `value` and `tolerance` are in AP points (0-100): the scale papers and model zoos
    publish. mmengine logs mAP on the 0-1 scale; the harness converts when it parses.
    """

    name: str
    metric: Literal["bbox_mAP"] = "bbox_mAP"
    value: float = Field(ge=0, le=100)
    unit: Literal["AP points"] = "AP points"
    tolerance: float = Field(ge=0, le=100)  # AP points; a fraction of `value` under the relative policy
    policy: Policy = "absolute"
    tolerance_rationale: str
    provenance: Provenance
    spread: float | None = Field(default=None, gt=0)  # run-to-run standard deviation, AP points
    spread_runs: int | None = Field(default=None, ge=2)  # how many runs that spread was measured over
    curve: list[float] | None = None  # the reference's own bbox mAP per epoch, AP points

    @model_validator(mode="after")
    def _spread_has_its_run_count(self) -> Reference:
        if (self.spread is None) != (self.spread_runs is None):
            raise ValueError("spread and spread_runs go together")
        return self


class Schedule(Frozen):
    epochs: int = Field(ge=1)
    val_interval: int = Field(default=1, ge=1)
    batch_per_gpu: int = Field(ge=1)
    # mmdet's auto_scale_lr base: the LR in the config is right for this total batch.
    base_batch_size: int = Field(ge=1)


class SyntheticData(Frozen):
    train: int = Field(ge=1)
    val: int = Field(ge=1)
    seed: int = 0
    image_size: int = Field(default=128, ge=32)


class Benchmark(Frozen):
    name: str
    description: str
    mmdet_config: str
    schedule: Schedule
    synthetic: SyntheticData | None = None
    overrides: dict = Field(default_factory=dict)
    references: list[Reference] = Field(default_factory=list)
    default_reference: str | None = None
    categories: Literal["coco"] | None = None  # the dataset check expects COCO 2017's 80 categories

    @property
    def expected_categories(self) -> dict[int, str] | None:
        if self.categories is None:
            return None
        from harness.spec.coco_categories import COCO_80

        return COCO_80

    @model_validator(mode="after")
    def _default_reference_exists(self) -> Benchmark:
        names = [r.name for r in self.references]
        if self.default_reference is not None and self.default_reference not in names:
            raise ValueError(f"default_reference {self.default_reference!r} is not one of {names}")
        return self

    @property
    def config_path(self) -> str:
        return self.config_path_in(CONFIGS_DIR.resolve())

    def config_path_in(self, configs_dir: Path) -> str:
        """`mmdet::...` stays as mmengine resolves it; anything else is relative to configs/ (wherever mounted)."""
        if self.mmdet_config.startswith("mmdet::"):
            return self.mmdet_config
        return str(configs_dir / self.mmdet_config)

    def reference(self, name: str | None = None) -> Reference:
        wanted = name or self.default_reference
        if wanted is None:
            raise BadInput(f"benchmark {self.name!r} has no reference to verify against")
        for ref in self.references:
            if ref.name == wanted:
                return ref
        known = ", ".join(r.name for r in self.references) or "none"
        raise BadInput(f"unknown reference {wanted!r} for benchmark {self.name!r} (known: {known})")


def load_benchmark_file(path: Path) -> Benchmark:
    try:
        data = tomllib.loads(path.read_text())
        return Benchmark(name=path.stem, **data)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadInput(f"{path}: {where}: {first['msg']}") from exc


@cache
def benchmarks() -> dict[str, Benchmark]:
    found = {p.stem: load_benchmark_file(p) for p in sorted((CONFIGS_DIR / "benchmarks").glob("*.toml"))}
    if not found:
        raise BadInput(f"no benchmark specs under {CONFIGS_DIR / 'benchmarks'} (set HARNESS_CONFIGS)")
    return found


def benchmark(name: str) -> Benchmark:
    known = benchmarks()
    if name not in known:
        raise BadInput(f"unknown benchmark {name!r} (known: {', '.join(known)})")
    return known[name]


def benchmark_for_config_name(config_stem: str) -> Benchmark | None:
    """The benchmark whose mmdet config has this file name (mmengine dumps it into work_dir)."""
    for bench in benchmarks().values():
        if Path(bench.mmdet_config.removeprefix("mmdet::")).stem == config_stem:
            return bench
    return None
