"""The pytest plugin serves a recording as `fakekis serve` does, streamed: a tape six times longer
replays in about the same memory (tracemalloc peak, not RSS or timing).

Catches the plugin going back to `tape.load` (every line in a list: the peak grows with the tape) and
any per-frame state that the replay keeps (frames held by the player, the market fold or the fan-out).
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import datetime
from pathlib import Path

import pytest

from fakekis import tape
from fakekis.tape import synthday
from fakekis.testing import pytest_plugin
from kisclock import KST

START = datetime(2026, 11, 25, 9, 0, tzinfo=KST)


@pytest.fixture(scope="module")
def tapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("plugin-tapes")
    out = {}
    for name, minutes in (("short", 12.0), ("long", 72.0)):
        session, lines = synthday.generate(START, minutes, seed=11)
        out[name] = tape.write(root / name, session, lines, rest=[], ws_name="ws.jsonl.zst")
    return out


def _replay_peak(recording: Path) -> tuple[int, int]:
    """(tracemalloc peak in bytes, frames sent) for a plugin-driven FakeKis replaying `recording` asap."""
    tracemalloc.start()
    try:
        served = pytest_plugin._serve({"speed": "asap"}, pytest_plugin.open_recording(recording))
        handle = next(served)
        try:
            handle.start_replay()
            deadline = time.monotonic() + 120
            while not handle.stats()["replay"]["done"]:
                assert time.monotonic() < deadline, f"{recording.name}: replay did not finish in 120 s"
                time.sleep(0.05)  # polling another thread's progress, bounded by the deadline above
            sent = handle.stats()["replay"]["emitted"]
        finally:
            served.close()
        return tracemalloc.get_traced_memory()[1], sent
    finally:
        tracemalloc.stop()


def test_plugin_replay_memory_is_flat_in_tape_length(tapes: dict[str, Path]) -> None:
    short_peak, short_sent = _replay_peak(tapes["short"])
    long_peak, long_sent = _replay_peak(tapes["long"])
    assert long_sent > 5 * short_sent  # the long tape really is longer, and all of it was replayed
    # In a list (tape.load), the long tape's extra lines alone add megabytes to the peak.
    assert long_peak < short_peak * 1.25 + 1_000_000, (short_peak, long_peak)
