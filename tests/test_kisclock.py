"""kisclock's wall clock: the precise sleep used for replay pacing."""

from __future__ import annotations

import pytest

from kisclock import SPIN_S, WallClock

pytestmark = pytest.mark.anyio


async def test_precise_sleep_never_returns_before_its_deadline() -> None:
    """Plain asyncio timers run on the monotonic clock and can wake a hair before a time.time() deadline;
    replay pacing must never send a frame early (the pacing benchmark measures how late)."""
    clock = WallClock()
    for delay in (0.0, SPIN_S / 2, SPIN_S, 3 * SPIN_S):
        deadline = clock.now() + delay
        await clock.sleep_until_precise(deadline)
        assert clock.now() >= deadline
    past = clock.now() - 1.0
    await clock.sleep_until_precise(past)          # a deadline in the past returns at once
    assert clock.now() - past < 1.0 + 0.5
