"""`harness build`: platform spec -> wheels -> build context -> content tag -> engine build -> build record."""

from __future__ import annotations

import re
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

import harness
from harness.bootstrap import ROOT, default_cache, pins
from harness.edges import docker_engine, host
from harness.errors import BadInput, InfrastructureError
from harness.files import write_json_atomic
from harness.images.context import assemble, content_hash, write_tar
from harness.spec.benchmarks import Frozen
from harness.spec.platforms import PlatformSpec, find_wheels, load_platform, versions, wheel_version
from harness.store import layout, record

# The grammar of docker's distribution/reference: [domain[:port]/]path[:tag][@digest].
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)"
REFERENCE = re.compile(rf"^{_DOMAIN}?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@sha256:[0-9a-f]{{64}})?$")
TAIL_LINES = 15
BUILD_RECORD_SCHEMA = 1


@dataclass(frozen=True)
class BuildOptions:
    platform: str = "cpu"
    base_image: str | None = None
    wheelhouse: Path | None = None
    tags: tuple[str, ...] = ()
    weights: tuple[Path, ...] = ()
    no_cache: bool = False
    verbose: bool = False


class BuildPlan(Frozen):
    """Everything the engine is asked to do; `tag` is derived from the content hash."""

    platform: str
    dockerfile: str
    image: str
    tag: str
    content_hash: str
    build_args: dict[str, str]
    versions: dict[str, str]
    wheels: list[str]
    base_image: str


class BuildRecord(Frozen):
    schema_version: int = BUILD_RECORD_SCHEMA
    platform: str
    image_id: str
    tags: list[str]
    labels: dict[str, str]
    build_args: dict[str, str]
    built_at: str
    build_seconds: float
    size_bytes: int
    reused: bool


@dataclass
class _StepTracker:
    """The current Dockerfile step and the last lines of its output, for a failure message."""

    step: str = ""
    tail: deque = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    def feed(self, text: str) -> bool:
        """True when the line starts a new step."""
        line = text.rstrip("\n")
        if line.startswith("Step ") and " : " in line:
            self.step, self.tail = line, deque(maxlen=TAIL_LINES)
            return True
        if line.strip():
            self.tail.append(line)
        return False


def plan(options: BuildOptions, root: Path = ROOT):
    """The build plan and its context; every input error is raised here, before the engine is asked."""
    platform = load_platform(options.platform)
    base_image = options.base_image or platform.base_image
    for reference in (base_image, *options.tags):
        if not REFERENCE.match(reference):
            raise BadInput(f"{reference!r} is not a valid image reference (like name:tag or registry/name:tag)")
    for weight in options.weights:
        if not weight.is_file():
            raise BadInput(f"weights file {weight} does not exist")
    pinned = versions(platform, root)
    wheels = find_wheels(platform, _wheelhouse(platform, options.wheelhouse), pinned)
    pinned |= {package: wheel_version(path) for package, path in wheels.items() if package not in pinned}
    build_args = {"BASE_IMAGE": base_image, **{f"{k.upper()}_VERSION": v for k, v in pinned.items()},
                  **platform.build_args}
    context = assemble(root, list(wheels.values()), list(options.weights))
    digest = content_hash(context, platform.dockerfile, build_args)
    return BuildPlan(platform=platform.name, dockerfile=platform.dockerfile, image=platform.image,
                     tag=f"{platform.image}:{digest[:12]}", content_hash=digest, build_args=build_args,
                     versions=pinned, wheels=sorted(p.name for p in wheels.values()), base_image=base_image), context


def _wheelhouse(platform: PlatformSpec, given: Path | None) -> Path | None:
    if given is not None or platform.default_wheelhouse is None:
        return given
    return default_cache() / platform.default_wheelhouse


def labels(build: BuildPlan, root: Path = ROOT) -> dict[str, str]:
    """OCI annotations plus the platform, the content hash and every pinned version."""
    return {
        "org.opencontainers.image.title": build.image,
        "org.opencontainers.image.source": host.source_location(root),
        "org.opencontainers.image.revision": host.source_revision(root),
        "org.opencontainers.image.created": record.now(),
        "org.opencontainers.image.version": harness.__version__,
        "org.opencontainers.image.base.name": build.base_image,
        docker_engine.PLATFORM_LABEL: build.platform,
        "io.harness.content-hash": build.content_hash,
        **{f"io.harness.version.{package}": version for package, version in sorted(build.versions.items())},
        "io.harness.pins": " ".join(f"{name}=={version}" for name, version in
                                    sorted(pins(root / load_platform(build.platform).constraints).items())),
    }


def build(options: BuildOptions, console: Console) -> BuildRecord:
    build_plan, context = plan(options)
    client = docker_engine.connect()
    if docker_engine.image(client, build_plan.base_image) is None:
        raise BadInput(f"base image {build_plan.base_image} is not in the engine: "
                       f"{load_platform(build_plan.platform).base_image_hint}")
    started = time.monotonic()
    existing = None if options.no_cache else docker_engine.image(client, build_plan.tag)
    if existing:
        console.print(f"[bold]{build_plan.tag}[/] is up to date (same content hash); not rebuilt", highlight=False)
        image_id = existing.id
    else:
        console.print(f"[bold]building[/] {build_plan.tag} from {build_plan.dockerfile}", highlight=False)
        image_id = _run_build(client, build_plan, context, options, console)
    for extra in (f"{build_plan.image}:latest", *options.tags):
        docker_engine.add_tag(client, image_id, extra)
    built = docker_engine.image(client, image_id)
    result = BuildRecord(platform=build_plan.platform, image_id=image_id, tags=sorted(built.tags),
                         labels=built.labels, build_args=build_plan.build_args, built_at=record.now(),
                         build_seconds=round(time.monotonic() - started, 1), size_bytes=built.size,
                         reused=existing is not None)
    _write_build_record(result, build_plan)
    return result


def _run_build(client, build_plan: BuildPlan, context, options: BuildOptions, console: Console) -> str:
    tracker, image_id = _StepTracker(), None
    with tempfile.TemporaryFile() as tar, console.status("sending the build context") as status:
        write_tar(context, tar)
        events = docker_engine.build(client, tar, build_plan.dockerfile, build_plan.tag, build_plan.build_args,
                                     labels(build_plan), options.no_cache)
        for event in events:
            if "error" in event:
                _fail(tracker, event, console)
            image_id = (event.get("aux") or {}).get("ID", image_id)
            for line in event.get("stream", "").splitlines():
                if tracker.feed(line):
                    status.update(line)
                    if " : LABEL " not in line:  # the labels the harness adds: one step each, noise here
                        console.print(line, markup=False, highlight=False, soft_wrap=True)
                elif options.verbose and line.strip():
                    console.print(line, markup=False, highlight=False, soft_wrap=True, style="dim")
    if image_id is None:
        raise InfrastructureError(f"the engine finished building {build_plan.tag} without reporting an image id")
    return image_id


def _fail(tracker: _StepTracker, event: dict, console: Console) -> None:
    for line in tracker.tail:
        console.print(f"  | {line}", markup=False, highlight=False, style="dim")
    message = (event.get("errorDetail") or {}).get("message") or event["error"]
    raise InfrastructureError(f"build failed at {tracker.step or 'the first step'}: {message.strip().splitlines()[-1]}")


def _write_build_record(result: BuildRecord, build_plan: BuildPlan) -> Path:
    folder = layout.image_records_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{build_plan.platform}-{build_plan.content_hash[:12]}"
    path, n = folder / f"{stem}.json", 1
    if result.reused and path.exists():
        return path  # the record of the build that made it stays
    while path.exists():  # a --no-cache rebuild of the same content: a new record beside the old one
        n += 1
        path = folder / f"{stem}-{n}.json"
    write_json_atomic(path, result.model_dump(mode="json"))
    return path
