"""The preflight around a run's job: harness.job.preflight_probe copied into the run directory, the job's command
wrapped so that the probe runs first, where and as the training will run (this machine, the image's
container, each Slurm node), its report read from the job's output, a failure named in one line."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from harness.edges import host
from harness.files import write_text_atomic
from harness.job.command import Job, JobRequest
from harness.job.preflight_probe import MARKER
from harness.store import layout
from harness.store.record import NodePreflight

PROBE_FILE = "preflight.py"
FAILED = "preflight failed on "  # how a failure's line begins (the run's error names the node next)
PROBE_SOURCE = Path(__file__).with_name("preflight_probe.py")


def expected_stack(platform: str, image_labels: dict[str, str] | None) -> dict[str, str]:
    """The versions the run must find: a docker image's labels, else the platform's pinned stack."""
    if image_labels is not None:
        pinned = host.image_versions(image_labels)
    else:
        from harness.bootstrap import ROOT
        from harness.spec.platforms import load_platform, versions

        pinned = versions(load_platform(platform), ROOT)
    return {name: pinned[name] for name in host.PACKAGES if name in pinned}  # the stack the record names


def probe_spec(request: JobRequest, site_run_dir: Path, expected: dict[str, str]) -> dict:
    spec = {"platform": request.platform, "processes": request.gpus, "expect": expected,
            "config": str(site_run_dir / layout.CONFIG)}
    if request.checkpoint is not None:  # eval: the checkpoint must be the benchmark's model's
        spec |= {"checkpoint": str(request.checkpoint), "cfg_options": list(request.cfg_options)}
    return spec


def wrap(job: Job, spec: dict, site_run_dir: Path) -> Job:
    """The job's command behind the probe: `python RUN/preflight.py SPEC -- COMMAND...` (the probe then runs it)."""
    argv = [job.argv[0], str(site_run_dir / PROBE_FILE), json.dumps(spec, sort_keys=True), "--", *job.argv]
    return job.model_copy(update={"argv": argv})


def install(run_dir: Path) -> None:
    """This harness's probe, beside the run's config (every attempt runs the harness's current preflight)."""
    write_text_atomic(run_dir / PROBE_FILE, PROBE_SOURCE.read_text())


def report_of(line: str) -> NodePreflight | None:
    if not line.startswith(MARKER):
        return None
    try:
        return NodePreflight.model_validate_json(line[len(MARKER):])
    except ValidationError:
        return None


def failure(nodes: list[NodePreflight]) -> str | None:
    """The first failed check, as the one line the user reads: the cause and the fix."""
    for node in nodes:
        for check in node.failed:
            return f"{FAILED}{node.node}: {check.name}: {check.detail}; fix: {check.fix}"
    return None
