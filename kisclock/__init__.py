"""One clock, injected everywhere.

Every "now", timeout, backoff, freshness window, market-hours check and replay pace in both
`gateway` and `fakekis` reads a clock object. Production uses `WallClock`; replaying a recorded
morning at night uses `ShiftedClock`; tests use `ManualClock`, which only moves when told to.
This package is deliberately tiny and protocol-free: the two sides share time, never a codec.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol

KST = timezone(timedelta(hours=9), "KST")


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC)."""

    async def sleep_until(self, deadline: float) -> None:
        """Return once `now() >= deadline`."""

    async def sleep_until_precise(self, deadline: float) -> None:
        """The same, late by as little as the clock can manage (replay pacing)."""


async def sleep(clock: Clock, seconds: float) -> None:
    await clock.sleep_until(clock.now() + seconds)


SPIN_S = 0.002


class WallClock:
    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    async def sleep_until_precise(self, deadline: float) -> None:
        """Like `sleep_until`, but late by microseconds instead of up to a few milliseconds: asyncio's
        timers round up to the selector's 1 ms tick and wake after the loop's other work, so sleep to
        SPIN_S before the deadline, then yield to the loop until it (other tasks still run meanwhile).
        Costs up to SPIN_S of CPU per call: for replay pacing, not for ordinary timers."""
        delay = deadline - self.now()
        if delay > SPIN_S:
            await asyncio.sleep(delay - SPIN_S)
        while self.now() < deadline:  # noqa: ASYNC110 - deliberate: yield to the loop until the instant
            await asyncio.sleep(0)


class ShiftedClock(WallClock):
    """Starts at a chosen instant and runs at normal speed (GATEWAY_CLOCK_START)."""

    def __init__(self, start: float) -> None:
        self._offset = start - time.monotonic()

    def now(self) -> float:
        return self._offset + time.monotonic()


class ManualClock:
    """A clock that only moves when `advance`/`set` is called.

    Sleepers are woken in deadline order. `advance` is synchronous: it resolves the futures of every
    sleeper whose deadline has passed; the woken tasks run at the event loop's next turns.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._seq), fut))
        await fut

    # Exact by construction: a manual clock wakes sleepers at their deadline and must never be spun on.
    sleep_until_precise = sleep_until

    def set(self, instant: float) -> None:
        if instant < self._now:
            raise ValueError("a ManualClock never goes backwards")
        self._now = instant
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    def advance(self, seconds: float) -> None:
        self.set(self._now + seconds)


class RemoteClock(ManualClock):
    """A clock that follows another process's manual clock (fakekis `--clock manual`) over HTTP.

    `follow()` long-polls `GET {url}?after=<now>`, which the server answers once its clock has moved
    past `now`; each answer moves this clock, waking local sleepers in deadline order. So a gateway in
    one process and fakekis in another step through a scenario together, driven by
    `POST {url} {"advance": seconds}`.
    """

    def __init__(self, url: str, start: float) -> None:
        super().__init__(start)
        self.url = url

    async def follow(self) -> None:
        import httpx  # only the remote clock needs HTTP

        async with httpx.AsyncClient(timeout=None) as http:
            while True:
                try:
                    r = await http.get(self.url, params={"after": repr(self.now())})
                    epoch = float(r.json()["epoch"])
                except (httpx.HTTPError, ValueError, KeyError):
                    await asyncio.sleep(0.2)  # the clock server is restarting; real time, on purpose
                    continue
                if epoch > self.now():
                    self.set(epoch)


def parse_instant(text: str) -> float:
    """ISO-8601 instant with an offset -> epoch seconds. Raises ValueError naming the value."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO-8601 instant (e.g. 2026-11-25T09:05:00+09:00)") from None
    if dt.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (write e.g. 2026-11-25T09:05:00+09:00)")
    return dt.timestamp()


_second_memo: tuple[int, str] = (-1, "")  # (whole second, its KST isoformat): one entry is enough


def iso_ms(ts: float) -> str:
    """`datetime.fromtimestamp(ts, KST).isoformat(timespec="milliseconds")`, without building a datetime
    each call: the formatted second is kept and only the milliseconds change (4 us -> under 1 us, on the
    quote API's path). Same rounding as datetime: microseconds round half-even, then truncate to ms."""
    global _second_memo
    frac, whole = math.modf(ts)
    us = round(frac * 1e6)
    if us >= 1_000_000:
        whole, us = whole + 1, us - 1_000_000
    elif us < 0:
        whole, us = whole - 1, us + 1_000_000
    second = int(whole)
    if _second_memo[0] != second:
        _second_memo = (second, datetime.fromtimestamp(second, KST).isoformat())
    text = _second_memo[1]
    return f"{text[:19]}.{us // 1000:03d}{text[19:]}"
