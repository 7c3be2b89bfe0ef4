"""The plugin's record modes (fakekis/testing/record_modes.py): a test records through the proxy on its
first run and replays after, as with vcrpy's `once`; `new_episodes` adds what the recording lacks.
The upstream is a local fakekis (tests/e2e/data/record_modes_inner.py), never real KIS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fakekis import tape
from fakekis.testing import record_modes

pytestmark = pytest.mark.ws  # the inner test subscribes through the proxy and the replay
INNER = Path(__file__).parent / "data" / "record_modes_inner.py"


def _run(tmp: Path, *args: str, **env: str) -> list[dict]:
    results, seen = tmp / "results.jsonl", tmp / "seen.txt"
    results.unlink(missing_ok=True)
    seen.unlink(missing_ok=True)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_inner.py", *args],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RESULTS": str(results), "UPSTREAM_SEEN": str(seen), **env},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    return [{**x, "upstream": seen.is_file()} for x in lines]


def _interactions(folder: Path) -> list[str]:
    doc = yaml.safe_load((folder / "rest.yaml").read_text(encoding="utf-8"))
    return [it["request"]["uri"] for it in doc["interactions"]]


def test_once_records_on_the_first_run_and_replays_after(tmp_path: Path) -> None:
    shutil.copy(INNER, tmp_path / "test_inner.py")
    folder = tmp_path / "recordings" / "test_inner" / "test_price_and_a_trade"
    (first,) = _run(tmp_path)
    assert first["recording"] and first["upstream"] and record_modes.exists(folder)
    rec = tape.load(folder)
    assert rec.data_frames() and any("inquire-price" in uri for uri in _interactions(folder))
    assert (
        "PSfakekis" not in (folder / "rest.yaml").read_text() + (folder / "ws.jsonl").read_text()
    )  # scrubbed
    (second,) = _run(tmp_path)
    assert not second["recording"] and not second["upstream"]  # KIS (here: the upstream) is never asked
    assert second["price"] == first["price"] and second["rest_hits"] == 1  # answered from rest.yaml


def test_new_episodes_adds_the_calls_the_recording_lacks(tmp_path: Path) -> None:
    shutil.copy(INNER, tmp_path / "test_inner.py")
    folder = tmp_path / "recordings" / "test_inner" / "test_price_and_a_trade"
    _run(tmp_path)
    before = _interactions(folder)
    ws_before = (folder / "ws.jsonl").read_text()
    (again,) = _run(tmp_path, "--fake-kis-record=new_episodes", SYMBOL="000660")
    assert again["recording"] and again["upstream"]
    after = _interactions(folder)
    assert after[: len(before)] == before and any("000660" in uri for uri in after[len(before) :])
    assert (folder / "ws.jsonl").read_text() == ws_before  # the stream stays the first episode's
    assert not (folder.parent / (folder.name + ".new-episode")).exists()
    (replayed,) = _run(tmp_path, SYMBOL="000660")  # `once` again: both calls replay, no upstream
    assert not replayed["recording"] and not replayed["upstream"] and replayed["rest_hits"] == 1


def test_bad_record_mode_and_missing_upstream_are_clear(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "@pytest.mark.fake_kis(record='sometimes')\n"
        "def test_a(fake_kis): pass\n"
        "@pytest.mark.fake_kis(record='once')\n"
        "def test_b(fake_kis): pass\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_x.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert "record='sometimes' is not allowed (allowed: none, once, new_episodes)" in out.stdout
    assert "a test that records needs one (marker upstream= or the fake_kis_upstream fixture)" in out.stdout
    assert not (tmp_path / "recordings").exists()  # nothing half-made blocks the next run
