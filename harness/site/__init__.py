"""`harness publish`: a static site of the results store (harness.site.collect -> render -> output)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInput


@dataclass(frozen=True)
class Published:
    out: Path
    runs: int
    groups: int
    files: int
    removed: int
    seconds: float


def publish(out: Path, where: Path | None = None) -> Published:
    from harness.site import collect, output, render
    from harness.store import layout

    started = time.monotonic()
    source = where or layout.root()
    if not source.is_dir():
        raise BadInput(f"no results store at {source} (run `harness train` first; HARNESS_RESULTS moves it)")
    _outside_the_store(out, source)
    site = collect.collect(source)
    files = render.pages(site)
    removed = output.write_site(out, files)
    return Published(out=out, runs=len(site.runs), groups=len(site.groups), files=len(files), removed=removed,
                     seconds=time.monotonic() - started)


def _outside_the_store(out: Path, source: Path) -> None:
    """The site goes into a folder of its own: never the file system's root, nor the store's own top folder
    (where its pages would sit among the runs)."""
    where = out.resolve()
    if where == Path(where.anchor):
        raise BadInput(f"--out {out}: the file system's root is no place for the site; name a folder of its own")
    if where == source.resolve():
        raise BadInput(f"--out {out} is the results store itself; name a folder of its own (default: "
                       f"{source / 'site'})")
