"""Every ```python block of README.md runs as written, each in a fresh interpreter.

A block is skipped only when the line before its fence says why, e.g.
``<!-- readme-test: skip (needs a GPU) -->``; the reason is the skip's reason.
Each block runs in a temporary working directory (so the files it writes, like
the Dask block's ``image.npy``, go there) against the fastconv that this test
imports, with numba's on-disk cache shared, so only a kernel's first run
anywhere compiles it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fastconv

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SKIP = re.compile(r"<!--\s*readme-test:\s*skip\s*\((.+?)\)\s*-->")


def readme_blocks() -> list:
    text = README.read_text(encoding="utf-8")
    params = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        marks = [pytest.mark.skip(reason=f"README line {line}: {skip.group(1)}")] if skip else []
        params.append(pytest.param(match.group(1), id=f"line-{line}", marks=marks))
    return params


BLOCKS = readme_blocks()


def test_the_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("code", BLOCKS)
def test_readme_block_runs_verbatim(code: str, tmp_path: Path) -> None:
    src = str(Path(fastconv.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p), "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-W", "error::fastconv.ChannelAxisWarning", "-c", code],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, f"README block failed:\n{code}\n--- stderr ---\n{result.stderr[-4000:]}"
