"""`pytest -k ws` is a promise: it selects exactly the tests marked `ws` (the WebSocket path). `-k` matches
names, parametrize ids, module and folder names and markers, so a test called "...allows..." or a parameter
id naming KIS_WS_URL would slip in, and an unmarked WebSocket test would slip out. Collection is compared
in a subprocess, as a user would run it.

This file's own name contains "ws", so it is marked too: `tox -e ws` then also checks its promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ws
ROOT = Path(__file__).resolve().parents[2]


def _collect(*selection: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=", "-p", "no:cacheprovider"]
        + ["-p", "no:randomly", *selection],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ids(proc: subprocess.Popen[str]) -> set[str]:
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, out + err
    return {line for line in out.splitlines() if "::" in line}


def test_k_ws_selects_exactly_the_ws_marked_tests() -> None:
    by_name, by_marker = _collect("-k", "ws"), _collect("-m", "ws")
    named, marked = _ids(by_name), _ids(by_marker)
    assert marked, "no test carries the ws marker"
    assert named - marked == set(), "selected by -k ws but not marked ws (rename, or mark if WebSocket path)"
    assert marked - named == set(), "marked ws but not selected by -k ws"
    assert not any("/project/test_layering.py" in i for i in marked), "the marker selects non-WebSocket tests"
