"""`harness images`: the images `harness build` made, with their platform, versions and age."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.table import Table

from harness.edges import docker_engine
from harness.edges.docker_engine import ImageInfo
from harness.images.build import BuildRecord

SHOWN_VERSIONS = ("torch", "mmcv", "mmdet", "corex", "cuda")


def built_images() -> list[ImageInfo]:
    return docker_engine.harness_images(docker_engine.connect())


def versions(info: ImageInfo) -> dict[str, str]:
    from harness.edges.host import image_versions

    return image_versions(info.labels)


def age(created: datetime, now: datetime | None = None) -> str:
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def to_json(info: ImageInfo) -> dict:
    return {"id": info.id, "tags": info.tags, "platform": info.labels.get(docker_engine.PLATFORM_LABEL),
            "versions": versions(info), "created": info.created.isoformat(), "size_bytes": info.size,
            "revision": info.labels.get("org.opencontainers.image.revision")}


def images_table(found: list[ImageInfo]) -> Table:
    table = Table("tags", "platform", "id", "versions", "size", "age", title="images built by harness")
    for info in found:
        shown = versions(info)
        table.add_row("\n".join(sorted(info.tags)) or "<untagged>", info.labels.get(docker_engine.PLATFORM_LABEL, "?"),
                      info.id.removeprefix("sha256:")[:12],
                      " ".join(f"{k} {shown[k]}" for k in SHOWN_VERSIONS if k in shown),
                      f"{info.size / 1e9:.2f} GB", age(info.created))
    return table


def build_summary(result: BuildRecord) -> str:
    state = "reused" if result.reused else f"built in {result.build_seconds:.0f} s"
    return (f"image {result.image_id.removeprefix('sha256:')[:12]} ({state}, {result.size_bytes / 1e9:.2f} GB): "
            f"{', '.join(result.tags)}")
