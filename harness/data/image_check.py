"""`--deep`: open and decode every listed image, in parallel across the cores (Pillow releases no GIL for a
whole decode, so processes, not threads)."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

CHUNK = 64  # images per task: large enough that the inter-process traffic stays small


def check_images(directory: Path, rows: list[tuple[str, float, float]], on_image: Callable[[int], None],
                 workers: int | None = None) -> Iterable[tuple[str, str]]:
    """rows: (file name, width, height) as annotated. Yields (kind, detail) for each image that fails."""
    jobs = [(str(directory / name), width, height) for name, width, height in rows]
    if not jobs:
        return
    workers = workers or os.cpu_count() or 1
    with multiprocessing.get_context("fork").Pool(workers, initializer=_plain_signals) as pool:
        for failure in pool.imap_unordered(_check_one, jobs, chunksize=CHUNK):
            on_image(1)
            if failure is not None:
                yield failure


def _plain_signals() -> None:
    """A forked worker inherits the harness's SIGTERM handler (it raises KeyboardInterrupt, to record a run as
    interrupted), and a worker that runs Python code to die can block for ever on a lock another thread held at
    the fork: the pool's terminate() (SIGTERM) then waited on it for ever (seen once, in CI). SIGTERM ends a
    worker at once; Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _check_one(job: tuple[str, float | None, float | None]) -> tuple[str, str] | None:
    path, width, height = job
    try:
        with Image.open(path) as image:
            size = image.size
            image.load()  # decodes: a truncated file raises here
    except UnidentifiedImageError:
        return "not an image", f"{path} is not an image file Pillow can read"
    except (OSError, SyntaxError, ValueError) as exc:
        return "unreadable image", f"{path} cannot be decoded ({exc})"
    if width is not None and size != (round(width), round(height)):
        return ("size differs from its annotation",
                f"{path} is {size[0]}x{size[1]} but its annotation says {width:g}x{height:g}")
    return None
