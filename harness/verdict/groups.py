"""Judging a repro group: its runs by the multi-run rules, in seed order; and what a rerun would run differently
from its original (drift). The group's members come from the caller (harness.run.repro reconciles them first)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from harness.errors import BadInput
from harness.store import layout
from harness.store.record import GroupRecord, RunRecord
from harness.verdict import verify


def judge(group: GroupRecord, found: dict[int, layout.Entry],
          load: Callable[[Path], verify.Target] | None = None) -> tuple[verify.Judgement, list[tuple[str, verify.Target]]]:
    """The group's runs, in seed order, by the multi-run rules; a seed that never ran is named in a warning.

    Each target comes labelled `seed N`, for plots; found: the group's members by seed, and load: their targets,
    when already read (harness.site reads every run once)."""
    labelled = labelled_targets(group, found, load)
    result = verify.judge([target for _, target in labelled])
    missing = [str(seed) for seed in group.seeds if seed not in found]
    if missing:
        result = result.model_copy(update={"warnings": [*result.warnings, f"seeds {', '.join(missing)} never ran"]})
    return result, labelled


def labelled_targets(group: GroupRecord, found: dict[int, layout.Entry],
                     load: Callable[[Path], verify.Target] | None = None) -> list[tuple[str, verify.Target]]:
    """The group's runs in seed order, each labelled `seed N`; found: its members by seed."""
    load = load or (lambda path: verify.load_target(path, None))
    labelled = [(f"seed {seed}", load(found[seed].path)) for seed in group.seeds if seed in found]
    if not labelled:
        raise BadInput(f"group {group.group_id} has no runs yet (`harness repro --resume {group.group_id}` runs them)")
    return labelled


def drift(old: RunRecord, new: RunRecord) -> list[str]:
    """What a rerun would run differently from the original: stack, image, dataset, generated config."""
    found = _stack_drift(old, new)
    old_image, new_image = (old.image or {}).get("id"), (new.image or {}).get("id")
    if old_image != new_image:
        found.append(f"the image ({old_image} -> {new_image})")
    if old.dataset and new.dataset:
        found += [f"the dataset ({change})" for change in old.dataset.differences(new.dataset)]
    if old.config_sha256 and old.config_sha256 != new.config_sha256:
        found.append(f"the generated config (sha256 {old.config_sha256[:12]} -> {(new.config_sha256 or '-')[:12]})")
    return found


def _stack_drift(old: RunRecord, new: RunRecord) -> list[str]:
    was, now = old.environment.stack, new.environment.stack
    changed = [f"{name} {was.packages.get(name, 'absent')} -> {now.packages.get(name, 'absent')}"
               for name in sorted(set(was.packages) | set(now.packages))
               if was.packages.get(name, "absent") != now.packages.get(name, "absent")]
    if changed:
        return [f"the stack ({change})" for change in changed]
    if was.digest and now.digest and was.digest != now.digest:
        return [f"the installed packages (stack digest {was.digest[:12]} -> {now.digest[:12]})"]
    return []
