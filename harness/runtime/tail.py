"""Follow a growing file line by line from a byte offset (console.log, a Slurm job's output file).

Readers never hold the writer's pipe: the job writes into a file, any number of readers follow it, and one that
dies takes nothing with it."""

from __future__ import annotations

from pathlib import Path


class Tail:
    """The complete lines written to `path` since `offset`; a partial last line waits until it is complete."""

    def __init__(self, path: Path, offset: int = 0):
        self.path, self.offset, self.pending = path, offset, b""

    def read(self, final: bool = False) -> list[str]:
        """New complete lines (each ending in a newline); final: also the unterminated rest (the writer is done)."""
        chunk = self.read_bytes()
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        if final and self.pending:
            lines.append(self.pending)
            self.pending = b""
        return [line.decode(errors="replace") + "\n" for line in lines]

    def read_bytes(self) -> bytes:
        chunk = _read_from(self.path, self.offset)
        self.offset += len(chunk)
        return chunk


def size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def complete_log(console_log: Path, offset: int, output: bytes, skip: tuple[bytes, ...] = ()) -> None:
    """Append to console_log what of a job's whole output (a container's log, a Slurm output file) its lost
    supervisor had not copied yet. What it copied, from offset on, is a prefix of the output, less the lines of
    its own it added (starting with one of skip)."""
    copied = b"".join(line for line in _read_from(console_log, offset).splitlines(keepends=True)
                      if not line.startswith(skip))
    with console_log.open("ab") as log:
        if output.startswith(copied):
            log.write(output[len(copied):])
        else:
            log.write(b"\n===== harness: the job's whole output, as its runtime kept it =====\n" + output)


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read()
    except FileNotFoundError:
        return b""
