"""Every parser, fed mutated real logs, returns a parsed log or a one-line BadInput: never a crash.

CI runs a small number of examples; `benchmarks/fuzz_parsers.py` runs 10,000 per parser
(HARNESS_FUZZ_EXAMPLES)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import logs
from harness.errors import BadInput

from support import GOLDEN

EXAMPLES = int(os.environ.get("HARNESS_FUZZ_EXAMPLES", "150"))
JUNK = st.binary(min_size=1, max_size=40)
HUGE = st.sampled_from(["1e400", "-1e400", "9" * 5000, "9" * 400, "9" * 300, "-7", "1.5", "NaN", "nan", "Infinity", "-inf", "1e-400", "0x1F", "null"])


@st.composite
def mutations(draw, lines: list[bytes]) -> bytes:
    lines = list(lines)
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["truncate", "junk", "number", "drop_key", "swap", "duplicate", "cut_file"]))
        line = lines[i]
        if op == "truncate":
            lines[i] = line[: draw(st.integers(0, len(line)))]
        elif op == "junk":
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(JUNK) + line[at:]
        elif op == "number":
            lines[i] = _replace_a_number(line, draw(HUGE).encode(), draw(st.integers(0, 20)))
        elif op == "drop_key":
            lines[i] = _drop_a_key(line, draw(st.integers(0, 20)))
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "duplicate":
            lines.insert(i, line)
        else:
            lines = lines[:i]
    return b"".join(lines)


def _replace_a_number(line: bytes, new: bytes, nth: int) -> bytes:
    import re

    numbers = list(re.finditer(rb"-?\d+(?:\.\d+)?(?:e-?\d+)?", line))
    if not numbers:
        return line
    match = numbers[nth % len(numbers)]
    return line[: match.start()] + new + line[match.end():]


def _drop_a_key(line: bytes, nth: int) -> bytes:
    import re

    keys = list(re.finditer(rb'"[\w/]+": [^,}]+,? ?|[\w/]+: \S+\s*', line))
    if not keys:
        return line
    match = keys[nth % len(keys)]
    return line[: match.start()] + line[match.end():]


def sample_lines(path: Path, limit: int = 400) -> list[bytes]:
    """The head of a real log (config dump, first iterations) and every evaluation line."""
    lines = path.read_bytes().splitlines(keepends=True)
    evaluations = [line for line in lines if b"Epoch(val)" in line or b"coco/bbox_mAP" in line or b'"val"' in line]
    return lines[:limit] + evaluations


def parse_never_crashes(content: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        try:
            parsed = logs.parse_path(path)
        except BadInput as exc:
            assert "\n" not in str(exc) or str(exc).count("\n") == 0
            return
        assert all(0 <= v <= 100 for e in parsed.evaluations for v in e.metrics.values())


FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def real_logs(smoke_run) -> dict[str, list[bytes]]:
    (text_log,) = smoke_run.glob("work_dir/*/*.log")
    (scalars,) = smoke_run.glob("work_dir/*/vis_data/scalars.json")
    return {"run.log": sample_lines(text_log), "scalars.json": sample_lines(scalars),
            "20230601_101500.log.json": sample_lines(GOLDEN / "20230601_101500.log.json")}


@pytest.mark.parametrize("name", ["run.log", "scalars.json", "20230601_101500.log.json"])
def test_parsers_survive_mutated_real_logs(real_logs, name):
    @FUZZ
    @given(data=st.data())
    def check(data):
        parse_never_crashes(data.draw(mutations(real_logs[name])), name)

    check()
