"""The scale-out bench (bench/scale.py) leans on pieces that live elsewhere: the scale harness's redis-server
and chaos proxy (loaded from their files in tests/) and the replica mirror's `apply` (wrapped by the fan-out probe
in bench/scalereplica.py). A rename or a new signature there would only show when someone next runs the bench,
minutes in, or worse as an empty fan-out row; these fail at once."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from fakekis.wire import frames
from gateway.cache import QuoteCache
from gateway.coord.stream import DATA, GAP_START, Mirror, entry

ROOT = Path(__file__).resolve().parents[2]


def _trade(vol: int) -> str:
    rec = ["0"] * 46
    rec[0], rec[1], rec[2], rec[13], rec[33] = "005930", "090000", "70000", str(vol), "20261125"
    return frames.data_frame("H0STCNT0", [rec])


def test_the_scale_bench_finds_the_harness_pieces_without_touching_sys_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    before = list(sys.path)
    world = importlib.reload(importlib.import_module("bench.scaleworld"))
    assert world.ChaosProxy.__name__ == "ChaosProxy" and hasattr(world.ChaosProxy, "mode")
    assert world.RedisServer.__name__ == "RedisServer" and callable(world.redis_binary)
    # tests/ on sys.path would let its gateway/ and fakekis/ test folders shadow the real packages
    assert sys.path == before


def test_the_fanout_probe_notes_each_applied_data_entry_with_the_leaders_receive_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    probe = importlib.import_module("bench.scalereplica")
    monkeypatch.setattr(Mirror, "apply", Mirror.apply)  # the probe replaces it; this puts it back after
    monkeypatch.setattr(probe, "SAMPLES", [])
    probe._probe()
    cache = QuoteCache()
    m = Mirror(cache)
    m.apply(entry(DATA, 1, 100.0, _trade(10)), 100.5)
    m.apply(entry(GAP_START, 1, 101.0, why="taking over"), 101.5)  # a marker: no frame, no sample
    assert [r for r, _ in probe.SAMPLES] == [100.0]
    q = cache.get("005930")
    assert q is not None and q.volume == 10, "the probe must still apply the entry"
