"""What the published site shows, read from the results store once: every run with its verdict and curves,
every group with its verdict and spread, the latest verdict and speed of each hardware stack, and every
comparison of two groups of a benchmark. Plain data (typed models); harness.site.render turns it into pages."""

from __future__ import annotations

import shlex
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from harness.errors import BadInput
from harness.spec.benchmarks import Reference
from harness.spec.runspec import train_args
from harness.store import layout
from harness.store.record import GroupRecord, RunRecord
from harness.verdict import group_compare, groups, verify
from harness.verdict.group_compare import GroupComparison, GroupSide

STACK_FACTS = ("platform", "torch", "mmcv", "cuda", "sdk", "gpu model")  # what an index row stands for


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Curve(Frozen):
    label: str
    points: list[tuple[float, float]]


class RunView(Frozen):
    run_id: str
    benchmark: str
    kind: str
    status: str  # the record's, or unreadable
    verdict: str  # the policy's verdict; bench for a bench run; unreadable
    reason: str
    started: str
    group: str | None = None
    seed: int | None = None
    platform: str = "-"
    value: float | None = None
    unit: str = "epoch"
    map_curve: list[tuple[float, float]] = []
    loss_curve: list[tuple[float, float]] = []
    diverged_at: int | None = None  # the iteration whose loss became NaN/inf
    bench: dict | None = None
    facts: dict[str, str] = {}
    reproduce: list[str] = []
    record: dict | None = None


class GroupView(Frozen):
    group_id: str
    benchmark: str
    created: str
    verdict: str
    reason: str
    side: GroupSide | None
    runs: list[dict]  # seed, run_id, status, value
    curves: list[Curve]
    reproduce: list[str]
    record: dict
    warnings: list[str] = []


class StackRow(Frozen):
    """The latest verdict and speed of one benchmark on one hardware stack."""

    benchmark: str
    stack: dict[str, str]
    verdict: str | None
    value: float | None
    spread: float | None
    runs: int
    source: str | None  # the run or group the verdict is of
    source_kind: str | None  # run or group
    when: str | None
    images_per_second: float | None
    projected_seconds: float | None
    bench_run: str | None
    last_pass: str | None = None  # the newest run or group that passed, when the newest verdict is not a pass
    last_pass_kind: str | None = None
    last_pass_when: str | None = None


class Site(Frozen):
    references: dict[str, Reference]
    stacks: list[StackRow]
    runs: list[RunView]  # newest first
    groups: list[GroupView]  # newest first
    comparisons: list[GroupComparison]


def collect(where: Path | None = None) -> Site:
    from harness.run import reconcile

    entries = reconcile.runs(where)  # a run whose supervisor was lost is published as it ended
    targets = _Targets()
    views = [run_view(entry, targets) for entry in entries]
    group_entries = layout.groups(where)
    groups = [group_view(entry.record, entries, targets) for entry in group_entries if entry.record]
    groups += [_unreadable_group(entry) for entry in group_entries if entry.record is None]
    references = _references({v.benchmark for v in views} | {g.benchmark for g in groups})
    return Site(references=references, stacks=stack_rows(views, groups), runs=views[::-1],
                groups=sorted(groups, key=lambda g: g.created, reverse=True), comparisons=comparisons(groups))


class _Targets:
    """Each run's logs parsed once, for its own page and for its group's."""

    def __init__(self):
        self.found: dict[Path, verify.Target | BadInput] = {}

    def __call__(self, path: Path) -> verify.Target:
        if path not in self.found:
            try:
                self.found[path] = verify.load_target(path, None)
            except BadInput as exc:
                self.found[path] = exc
        if isinstance(self.found[path], BadInput):
            raise self.found[path]
        return self.found[path]


def run_view(entry: layout.Entry, targets: _Targets) -> RunView:
    run = entry.record
    if run is None:
        return RunView(run_id=entry.path.name, benchmark="-", kind="-", status="unreadable", verdict="unreadable",
                       reason=entry.error or "unreadable", started="")
    base = dict(run_id=entry.path.name, benchmark=run.benchmark, kind=run.kind, status=run.status, started=run.started,
                group=run.group, seed=run.seed, platform=run.platform, facts=group_compare.run_facts(run),
                reproduce=reproduce_run(run), record=run.model_dump(mode="json"))
    if run.kind == "bench":
        reason = "measured speed" if run.bench else f"the bench {run.status}: {run.error or 'no result'}"
        return RunView(**base, verdict="bench", reason=reason, bench=_bench(run))
    try:
        target = targets(entry.path)
        result = verify.judge(target)
    except BadInput as exc:
        return RunView(**base, verdict="incomplete", reason=str(exc))
    log = target.log
    metric = result.reference.metric
    return RunView(**base, verdict=result.verdict.value, reason=result.reason, value=result.value, unit=log.unit,
                   map_curve=[(e.epoch, e.metrics[metric]) for e in log.evaluations if metric in e.metrics],
                   loss_curve=[(s.iter, s.loss) for s in log.steps if s.loss is not None and s.finite],
                   diverged_at=log.diverged_at.iter if log.diverged_at else None)


def _bench(run: RunRecord) -> dict | None:
    if run.bench is None:
        return None
    keep = ("images_per_second", "images_per_second_per_gpu", "seconds_per_iter", "seconds_per_iter_sd",
            "data_share", "projected_seconds", "epochs", "processes", "total_batch", "peak_memory_bytes")
    return {key: getattr(run.bench, key) for key in keep}


def reproduce_run(run: RunRecord) -> list[str]:
    commands = [f"harness rerun {run.run_id}"]
    if run.kind == "train":
        commands.append(shlex.join(["harness", "train", *train_args(run.spec)]))
    return commands


def group_view(group: GroupRecord, entries: list[layout.Entry], targets: _Targets) -> GroupView:
    found = {e.record.seed: e for e in entries if e.record and e.record.group == group.group_id}
    base = dict(group_id=group.group_id, benchmark=group.spec.benchmark, created=group.created,
                reproduce=[shlex.join(["harness", "repro", *train_args(group.spec),
                                       "--seeds", ",".join(map(str, group.seeds))])],
                record=group.model_dump(mode="json"))
    try:
        result, labelled = groups.judge(group, found, targets)
        side = group_compare.judged_side(group, found, result, labelled)
    except BadInput as exc:
        return GroupView(**base, verdict="incomplete", reason=str(exc), side=None, runs=[], curves=[])
    metric = result.reference.metric
    runs = [{"seed": seed, "run_id": found[seed].path.name, "status": found[seed].record.status,
             "value": outcome.value} for seed, outcome in zip([s for s in group.seeds if s in found], result.runs)]
    curves = [Curve(label=label, points=[(e.epoch, e.metrics[metric]) for e in target.log.evaluations
                                         if metric in e.metrics]) for label, target in labelled]
    return GroupView(**base, verdict=result.verdict.value, reason=result.reason, side=side, runs=runs,
                     curves=curves, warnings=result.warnings)


def _unreadable_group(entry: layout.GroupEntry) -> GroupView:
    return GroupView(group_id=entry.path.name, benchmark="-", created="", verdict="unreadable",
                     reason=entry.error or "unreadable", side=None, runs=[], curves=[], reproduce=[], record={})


def _references(names: set[str]) -> dict[str, Reference]:
    from harness.spec import benchmarks

    known = benchmarks.benchmarks()
    return {name: known[name].reference() for name in sorted(names) if name in known}


def stack_key(facts: dict[str, str]) -> tuple[str, ...]:
    return tuple(facts.get(fact, "-") for fact in STACK_FACTS)


def stack_rows(runs: list[RunView], groups: list[GroupView]) -> list[StackRow]:
    """Per benchmark and stack: the newest verdict (a group, or a run outside any group) and the newest bench."""
    judged, benches = defaultdict(list), defaultdict(list)
    for run in runs:
        if run.record is None:
            continue
        key = (run.benchmark, stack_key(run.facts))
        if run.kind == "bench":
            if run.bench:
                benches[key].append(run)
        elif run.group is None:
            judged[key].append((run.started, "run", run))
    for group in groups:
        if group.side is not None:
            judged[(group.benchmark, stack_key(group.side.facts))].append((group.created, "group", group))
    return [_stack_row(key, judged.get(key, []), benches.get(key, []))
            for key in sorted(judged.keys() | benches.keys())]


def _stack_row(key, judged: list, benches: list[RunView]) -> StackRow:
    benchmark, stack = key[0], dict(zip(STACK_FACTS, key[1]))
    bench = max(benches, key=lambda r: r.started) if benches else None
    common = dict(images_per_second=bench.bench["images_per_second"] if bench else None,
                  projected_seconds=bench.bench["projected_seconds"] if bench else None,
                  bench_run=bench.run_id if bench else None)
    if not judged:
        return StackRow(benchmark=benchmark, stack=stack, verdict=None, value=None, spread=None, runs=0,
                        source=None, source_kind=None, when=None, **common)
    when, kind, latest = max(judged, key=lambda item: item[0])
    passes = [item for item in judged if item[2].verdict == "pass"]
    if passes and latest.verdict != "pass":
        passed_when, passed_kind, passed = max(passes, key=lambda item: item[0])
        passed_id = passed.group_id if passed_kind == "group" else passed.run_id
        common |= dict(last_pass=passed_id, last_pass_kind=passed_kind, last_pass_when=passed_when)
    if kind == "group":
        side = latest.side
        return StackRow(benchmark=benchmark, stack=stack, verdict=latest.verdict, value=side.mean, spread=side.std,
                        runs=len(side.values) + side.unfinished, source=latest.group_id, source_kind="group",
                        when=when, **common)
    return StackRow(benchmark=benchmark, stack=stack, verdict=latest.verdict, value=latest.value, spread=None,
                    runs=1, source=latest.run_id, source_kind="run", when=when, **common)


def comparisons(groups: list[GroupView]) -> list[GroupComparison]:
    """Every ordered pair of two groups of the same benchmark that both have finished runs."""
    by_benchmark = defaultdict(list)
    for group in groups:
        if group.side is not None and group.side.values:
            by_benchmark[group.benchmark].append(group)
    pairs = []
    for members in by_benchmark.values():
        for a in members:
            pairs += [group_compare.compare_sides(a.side, b.side, a.benchmark) for b in members if b is not a]
    return pairs
