"""The shared REST limiter's arithmetic: GCRA (generic cell rate algorithm) with no burst credit, on
integer microseconds, exactly as the Redis script computes it (`redis_backend.GCRA_LUA`; tests run both).

One value per appkey is stored: the theoretical arrival time `tat`. A call at `now` gets the slot
`max(now, tat)`; if waiting for it would take longer than `max_wait` the call is refused (the gateway
answers 503 `budget`, as with `gateway.rest.Pacer`), else `tat` moves to `slot + interval`.

Why no burst credit: KIS counts calls per appkey per second (docs/kis/protocol.md §3.3). GCRA with a burst
tolerance admits up to twice the rate across a window edge; with none, grants are at least `interval`
apart, so any one-second window holds at most `ceil(rps)` of them. `Pacer` lets a burst of `int(rps)` go at
once instead; both meet the one spec in tests/gateway/coord/test_limiter_spec.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

US = 1_000_000


def interval_us(rps: float) -> int:
    """The spacing between grants, rounded up so the rate never exceeds `rps`."""
    if not (math.isfinite(rps) and rps > 0):
        raise ValueError(f"rps must be a positive finite number, not {rps!r}")
    return max(1, math.ceil(US / rps))


@dataclass(frozen=True, slots=True)
class Grant:
    wait_us: int  # -1: refused (would wait longer than max_wait)
    tat_us: int  # the stored value after this call


def reserve(tat_us: int | None, now_us: int, interval: int, max_wait_us: int) -> Grant:
    slot = now_us if tat_us is None else max(now_us, tat_us)
    wait = slot - now_us
    if wait > max_wait_us:
        return Grant(-1, now_us if tat_us is None else tat_us)
    return Grant(wait, slot + interval)


@dataclass
class Gcra:
    """An in-process GCRA on seconds (the fallback and the model the tests drive)."""

    rps: float
    max_wait: float = 2.0
    tat_us: int | None = None

    def acquire(self, now: float) -> float | None:
        """The wait in seconds before the call may go, or None when refused."""
        g = reserve(self.tat_us, round(now * US), interval_us(self.rps), round(self.max_wait * US))
        self.tat_us = g.tat_us
        return None if g.wait_us < 0 else g.wait_us / US
