"""`harness repro`: a campaign of runs (one per seed) in a group, judged together (by harness.verdict.groups).

Each run is a child `harness train` process (a normal run record naming the group): in its own session,
so Ctrl-C reaches the campaign once and the campaign hands each running child exactly one SIGTERM, which
the child handles as Ctrl-C and records as `interrupted`. `harness repro --resume GROUP` then resumes what was interrupted and
starts what never ran; a run that failed, diverged or finished is kept and counted.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from harness.edges import host
from harness.errors import BadInput, ExitCode, HarnessError, InfrastructureError, Interrupted
from harness.spec.runspec import RunSpec, train_args
from harness.store import layout, record
from harness.store.record import Campaign, GroupRecord
from harness.verdict import group_compare, groups, verify

RESUMED = ("interrupted", "running", "hung")  # what `--resume GROUP` continues; every other status is kept
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Step:
    seed: int
    action: Literal["train", "resume"]
    run_dir: Path | None = None  # resume: the run to continue


def seeds_for(runs: int | None, seeds: str | None, first: int) -> list[int]:
    """--seeds 0,1,2 as given; else --runs N seeds counting up from the spec's seed."""
    if seeds:
        try:
            chosen = [int(part) for part in seeds.split(",")]
        except ValueError:
            raise BadInput(f"--seeds {seeds!r} is not a comma-separated list of integers") from None
        if len(set(chosen)) != len(chosen):
            raise BadInput(f"--seeds {seeds} names a seed twice")
        if runs is not None and runs != len(chosen):
            raise BadInput(f"--runs {runs} but --seeds names {len(chosen)} seeds")
        return chosen
    if runs is None or runs < 1:
        raise BadInput(f"--runs must be at least 1, got {runs}" if runs is not None else "repro needs --runs N or --seeds")
    return [first + n for n in range(runs)]


def start(template: RunSpec, seeds: list[int], parallel: int, name: str | None = None) -> GroupRecord:
    """A new group (named, or <stamp>-<benchmark>-x<N>) and its record; no run has started yet."""
    check_parallel(template, parallel)
    layout.require_writable()
    folder = layout.new_group_dir(name, exact=True) if name is not None else layout.new_group_dir(f"{template.benchmark}-x{len(seeds)}")
    group = GroupRecord(group_id=folder.name, spec=template, seeds=seeds, parallel=parallel, created=record.now())
    layout.write_group(group)
    return group


def check_parallel(template: RunSpec, parallel: int) -> None:
    """K runs at a time need K times the devices: CPU cores on the cpu platform, else the GPUs this host lists."""
    if parallel < 1:
        raise BadInput(f"--parallel must be at least 1, got {parallel}")
    if parallel == 1 or template.runtime == "slurm":  # the scheduler finds each job its GPUs
        return
    if template.gpu_ids:
        raise BadInput("--gpu-ids cannot go with --parallel: each parallel run is given its own GPUs")
    needed = parallel * template.gpus
    have = (os.cpu_count() or 1) if template.platform == "cpu" else len(host.gpu_inventory(template.platform) or [])
    what = "CPU cores" if template.platform == "cpu" else f"{template.platform} GPUs"
    if needed > have:
        raise BadInput(f"--parallel {parallel} x --gpus {template.gpus} needs {needed} {what}; this host has {have}")


def members(group_id: str) -> dict[int, layout.Entry]:
    """The group's runs by seed (the latest run of a seed, should there be two), a lost one reconciled."""
    from harness.run import reconcile

    return {entry.record.seed: entry for entry in reconcile.runs(group=group_id)}


def plan(group: GroupRecord) -> list[Step]:
    found = members(group.group_id)
    steps = []
    for seed in group.seeds:
        entry = found.get(seed)
        if entry is None:
            steps.append(Step(seed, "train"))
        elif entry.record.status in RESUMED:
            steps.append(Step(seed, "resume", entry.path))
    return steps


def run_pending(group: GroupRecord, say: Callable[[str], None], verbose: bool = False, deep: bool = False) -> None:
    """Run the group's missing runs, `group.parallel` at a time; Ctrl-C stops them and leaves the group resumable."""
    pending, running, free = deque(plan(group)), {}, list(range(group.parallel))
    try:
        while pending or running:
            while pending and free:
                step, slot = pending.popleft(), free.pop(0)
                running[_launch(group, step, slot, verbose, deep)] = (step, slot)
                say(f"seed {step.seed}: {'resuming ' + step.run_dir.name if step.run_dir else 'started'}")
            for child in [c for c in running if c.poll() is not None]:
                step, slot = running.pop(child)
                free.append(slot)
                say(_ended(group, step, child))
            time.sleep(POLL_SECONDS if running else 0)
    except KeyboardInterrupt:
        _stop(running)
        raise Interrupted(f"group {group.group_id} left resumable: harness repro --resume {group.group_id}") from None
    except BaseException:
        _stop(running)  # a refused run ends the campaign; the others are stopped, resumable
        raise


def child_argv(group: GroupRecord, step: Step, slot: int, verbose: bool = False, deep: bool = False) -> list[str]:
    """The `harness train` that runs one step in a slot (slot k of K owns GPUs k*N .. k*N+N-1)."""
    if step.action == "resume":
        args = ["--resume", str(step.run_dir)]
    else:
        spec = group.spec.model_copy(update={"seed": step.seed, "gpu_ids": _slot_gpus(group, slot)})
        args = [*train_args(spec), "--group", group.group_id] + ["--deep-fingerprint"] * deep
    return [sys.executable, "-m", "harness", "train", *args] + ["--verbose"] * verbose


def _launch(group: GroupRecord, step: Step, slot: int, verbose: bool, deep: bool) -> subprocess.Popen:
    argv = child_argv(group, step, slot, verbose, deep)
    if group.parallel == 1:  # one at a time: the child draws its progress in this terminal
        return subprocess.Popen(argv, start_new_session=True)
    log = (layout.group_dir(group.group_id) / f"seed-{step.seed}.log").open("a")
    with log:
        return subprocess.Popen(argv, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)


def _slot_gpus(group: GroupRecord, slot: int) -> tuple[str, ...] | None:
    spec = group.spec
    if group.parallel == 1 or spec.platform == "cpu" or spec.runtime == "slurm":
        return spec.gpu_ids
    return tuple(str(n) for n in range(slot * spec.gpus, (slot + 1) * spec.gpus))


def _ended(group: GroupRecord, step: Step, child: subprocess.Popen) -> str:
    where = "above" if group.parallel == 1 else f"in {layout.group_dir(group.group_id) / f'seed-{step.seed}.log'}"
    if child.returncode == ExitCode.BAD_INPUT:
        raise BadInput(f"seed {step.seed}: `harness train` refused the run (its error is {where}); the group stops "
                       f"here: fix it, then `harness repro --resume {group.group_id}`")
    entry = members(group.group_id).get(step.seed)
    if entry is None:
        raise InfrastructureError(f"seed {step.seed}: `harness train` exited with code {child.returncode} before "
                                  f"writing a run record (its output is {where})")
    run = entry.record
    value = (run.final_metrics or {}).get("bbox_mAP")
    shown = f", bbox_mAP {value:.2f}" if value is not None else ""
    return f"seed {step.seed}: {run.status} ({run.run_id}{shown})"


def _stop(running: dict) -> None:
    for child in running:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in running:
        try:
            child.wait()
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting, the children still record their end
            break


def campaign(group: GroupRecord, say: Callable[[str], None], verbose: bool = False,
             deep: bool = False) -> tuple[verify.Judgement, Path]:
    """Run what the group is missing, judge it, write its report: the verdict and where the report is."""
    run_pending(group, say, verbose, deep)
    return write_report(group)


def launch_campaign(group: GroupRecord, verbose: bool = False, deep: bool = False) -> GroupRecord:
    """Hand the campaign to its supervisor (`python -m harness.run.supervisor --group ID`), detached from the terminal;
    the group record names it. The supervisor's output, and its runs' (one at a time), go to the group's
    supervisor.log."""
    from harness.run.reconcile import locked
    from harness.run.supervisor import LOG, spawn
    from harness.runtime.tail import size

    folder = layout.group_dir(group.group_id)
    started = group.model_copy(update={"campaign": Campaign(status="running", started=record.now(),
                                                            host=socket.gethostname(), log_offset=size(folder / LOG))})
    arguments = ["--group", group.group_id] + ["--verbose"] * verbose + ["--deep"] * deep
    with locked(folder):  # no reader takes it for lost before its supervisor is up
        layout.write_group(started)
        spawn(arguments, folder / LOG, {**os.environ, "HARNESS_RESULTS": str(layout.root().resolve())})
    return started


def supervise_campaign(group_id: str, verbose: bool, deep: bool) -> int:
    """The campaign supervisor's work: run the group, judge it, write its report, record how the campaign ended."""
    group = layout.read_group(group_id)
    update = {"pid": os.getpid(), "host": socket.gethostname()}
    group = group.model_copy(update={"campaign": group.campaign.model_copy(update=update)})
    layout.write_group(group)
    try:
        result, written = campaign(group, lambda line: print(line, flush=True), verbose, deep)
        ended = {"status": "finished", "exit_code": result.exit_code, "report": str(written)}
    except HarnessError as exc:
        ended = {"status": "interrupted" if isinstance(exc, Interrupted) else "failed",
                 "exit_code": int(exc.exit_code), "error": str(exc)}
    ended = group.campaign.model_copy(update={**ended, "finished": record.now()})
    layout.write_group(layout.read_group(group_id).model_copy(update={"campaign": ended}))
    print(f"campaign {group_id}: {ended.status}" + (f" ({ended.error})" if ended.error else ""), flush=True)
    return ended.exit_code or 0


def current_group(group_id: str) -> GroupRecord:
    """The group's record; a campaign whose supervisor was lost is recorded failed (its runs reconcile alone)."""
    group = layout.read_group(group_id)
    if not _campaign_lost(group):
        return group
    from harness.run.reconcile import locked

    with locked(layout.group_dir(group_id)):
        group = layout.read_group(group_id)
        return _record_lost(group) if _campaign_lost(group) else group


def _campaign_lost(group: GroupRecord) -> bool:
    found = group.campaign
    if found is None or found.status != "running" or (found.host and found.host != socket.gethostname()):
        return False
    return not campaign_supervisors(group.group_id)


def _record_lost(group: GroupRecord) -> GroupRecord:
    found, group_id = group.campaign, group.group_id
    lost = found.model_copy(update={"status": "failed", "finished": record.now(), "exit_code": int(ExitCode.INFRASTRUCTURE),
                                    "error": f"the harness supervising this campaign was lost; continue it with "
                                             f"`harness repro --resume {group_id}`"})
    group = group.model_copy(update={"campaign": lost})
    layout.write_group(group)
    return group


def campaign_supervisors(group_id: str) -> list[int]:
    from harness.run.reconcile import processes_with
    from harness.run.supervisor import EARLIER_MODULES, MODULE

    return [pid for module in (MODULE, *EARLIER_MODULES)
            for pid in processes_with([module.encode(), b"--group", group_id.encode()])]


def judge(group: GroupRecord) -> tuple[verify.Judgement, list[tuple[str, verify.Target]]]:
    """The group judged on its members as they are now (a lost run reconciled first)."""
    return groups.judge(group, members(group.group_id))


def group_targets(group_id: str) -> list[verify.Target]:
    """The targets `harness verify --group` judges: the group's runs in seed order, reconciled."""
    group = layout.read_group(group_id)
    return [target for _, target in groups.labelled_targets(group, members(group.group_id))]


def compare_groups(a: str, b: str) -> group_compare.GroupComparison:
    """Two groups read from the store, their members reconciled, compared."""
    first, second = layout.read_group(a), layout.read_group(b)
    group_compare.checked_pair(first, second)
    return group_compare.compare_sides(group_compare.side(first, members(a)), group_compare.side(second, members(b)),
                                       first.spec.benchmark)


def write_report(group: GroupRecord, out: Path | None = None) -> tuple[verify.Judgement, Path]:
    from harness.report import files  # matplotlib only when a report is drawn

    result, labelled = judge(group)
    destination = out or _new_report_dir(layout.group_dir(group.group_id))
    return result, files.write_group_report(group, labelled, result, destination)


def _new_report_dir(folder: Path) -> Path:
    """report/, or report-2/, ...: an earlier report of the group stays as it was."""
    for name in ["report", *(f"report-{n}" for n in range(2, 1000))]:
        if not (folder / name).exists():
            return folder / name
    raise BadInput(f"{folder} holds too many reports; pass --out")
