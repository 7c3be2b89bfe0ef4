"""kisclock's wall clock: the precise sleep used for replay pacing."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kisclock import KST, SPIN_S, WallClock, iso_ms


@pytest.mark.anyio
async def test_precise_sleep_never_returns_before_its_deadline() -> None:
    """Plain asyncio timers run on the monotonic clock and can wake a hair before a time.time() deadline;
    replay pacing must never send a frame early (the pacing benchmark measures how late)."""
    clock = WallClock()
    for delay in (0.0, SPIN_S / 2, SPIN_S, 3 * SPIN_S):
        deadline = clock.now() + delay
        await clock.sleep_until_precise(deadline)
        assert clock.now() >= deadline
    past = clock.now() - 1.0
    await clock.sleep_until_precise(past)  # a deadline in the past returns at once
    assert clock.now() - past < 1.0 + 0.5


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))  # up to 2100
@example(1_795_651_203.9999996)  # microseconds round up into the next second
@example(1_795_651_203.0005)  # exactly half a millisecond: truncated, like datetime
def test_iso_ms_is_datetime_isoformat(ts: float) -> None:
    """The quote API's fast formatter must answer exactly what datetime would."""
    want = datetime.fromtimestamp(ts, KST).isoformat(timespec="milliseconds")
    assert iso_ms(ts) == want and iso_ms(ts) == want  # the second call answers from the memo
    later = ts + 0.25  # same second (usually): memo, new milliseconds
    assert iso_ms(later) == datetime.fromtimestamp(later, KST).isoformat(timespec="milliseconds")
