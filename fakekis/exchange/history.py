"""The days before the tape, seeded and internally consistent: what daily and period charts show for
dates a recording does not cover (docs/kis/endpoints.md §A3, §A4, §A6).

A tape knows one thing about yesterday: its first trade's `PRDY_VRSS` gives the previous close. The history
is generated backwards from there, one KRX trading day at a time (`fakekis.rules.calendar`), so that

- the close of day d-1 is the previous close of day d (so `prdy_vrss` of every bar is its close minus the
  close before it, and yesterday's close is the tape's previous close);
- every bar keeps open, high, low and close on the tick grid and inside the daily price limits of the
  previous close (`fakekis.rules.prices`), with low <= open, close <= high;
- the same (seed, symbol, day) gives the same history, in every process.

Past minute bars (§A6) are drawn from a day's bar the same way: they start at its open, end at its close,
touch its high and low, and their volumes add up to its volume. Nothing here is a fact about the real
market; it is a plausible, checkable past.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from fakekis.exchange.candles import Bar
from fakekis.rules.calendar import is_trading_day
from fakekis.rules.prices import limit_prices, tick_size

YEARS = 5  # how far back the seeded history goes (older ranges are empty, as before a listing)
SESSION_MINUTES = 390  # 09:00-15:29, then the 15:30 closing auction


def on_tick(price: int) -> int:
    price = max(price, 1)
    return price - price % tick_size(price)


def _clamp(price: int, lower: int, upper: int) -> int:
    return max(lower, min(upper, price))


def _day_bar(rng: random.Random, day: date, prev: int, close: int, volume: int) -> Bar:
    upper, lower = limit_prices(prev)
    open_ = _clamp(on_tick(int(prev * (1 + rng.gauss(0, 0.006)))), lower, upper)
    top, bottom = max(open_, close), min(open_, close)
    high = _clamp(on_tick(int(top * (1 + abs(rng.gauss(0, 0.008))))), top, upper)
    low = _clamp(on_tick(int(bottom * (1 - abs(rng.gauss(0, 0.008))))), lower, bottom)
    low = max(low, lower)
    vwap = (open_ + high + low + close) // 4
    return Bar(day.strftime("%Y%m%d"), open_, high, low, close, volume, volume * vwap)


@dataclass
class History:
    """Seeded daily bars per symbol, generated on first use and kept (about 1,240 bars a symbol)."""

    seed: int = 0
    years: int = YEARS
    _cache: dict[tuple[str, date, int], list[Bar]] = field(default_factory=dict, repr=False)

    def daily(self, symbol: str, today: date, prev_close: int, prev_volume: int) -> list[Bar]:
        """Bars of the trading days before `today`, oldest first; the last one closes at `prev_close`."""
        key = (symbol, today, prev_close)
        bars = self._cache.get(key)
        if bars is None:
            if len(self._cache) > 256:  # bounded: a long replay across many days drops old entries
                self._cache.clear()
            bars = self._cache[key] = self._generate(symbol, today, prev_close, max(prev_volume, 1_000))
        return bars

    def _generate(self, symbol: str, today: date, prev_close: int, prev_volume: int) -> list[Bar]:
        rng = random.Random(f"{self.seed}:{symbol}:{today.isoformat()}")
        oldest = today - timedelta(days=round(365.25 * self.years))
        out: list[Bar] = []
        close, volume, day = max(prev_close, 1), prev_volume, today - timedelta(days=1)
        while day >= oldest:
            if is_trading_day(day):
                prev = on_tick(int(close / (1 + max(-0.08, min(0.08, rng.gauss(0, 0.015))))))
                upper, lower = limit_prices(prev)
                if not lower <= close <= upper or prev < 100:
                    prev = close  # keep the chain inside the limits (and off the floor)
                out.append(_day_bar(rng, day, prev, close, volume))
                close = prev
                volume = max(1_000, int(prev_volume * rng.lognormvariate(0, 0.35)))
            day -= timedelta(days=1)
        out.reverse()
        return out


def minutes_of(bar: Bar, seed: int, symbol: str) -> list[Bar]:
    """One-minute bars of a past day, oldest first (09:00 ... 15:29, then 15:30)."""
    rng = random.Random(f"{seed}:{symbol}:{bar.day}:minutes")
    n = SESSION_MINUTES + 1
    path = [bar.open + (bar.close - bar.open) * i / (n - 1) for i in range(n)]
    wander = 0.0
    for i in range(1, n - 1):  # a random walk pinned at both ends (a Brownian bridge, roughly)
        wander += rng.gauss(0, (bar.high - bar.low) / 30 or 0.5)
        path[i] += wander * (1 - i / (n - 1))
    prices = [_clamp(on_tick(int(p)), bar.low, bar.high) for p in path]
    prices[0], prices[-1] = bar.open, bar.close
    hi_at, lo_at = rng.sample(range(1, n - 1), 2)
    prices[hi_at], prices[lo_at] = bar.high, bar.low
    weights = [1.0 + 2.0 * ((i - n / 2) / (n / 2)) ** 2 for i in range(n)]  # U-shaped volume
    total = sum(weights)
    volumes = [int(bar.volume * w / total) for w in weights]
    volumes[-1] += bar.volume - sum(volumes)
    out: list[Bar] = []
    prev, acml = bar.open, 0
    for i, (price, vol) in enumerate(zip(prices, volumes, strict=True)):
        minute = 1530 if i == n - 1 else 900 + (i // 60) * 100 + i % 60
        acml += vol
        amount = bar.amount * acml // bar.volume if bar.volume else 0
        out.append(Bar(bar.day, prev, max(prev, price), min(prev, price), price, vol, 0, minute, amount))
        prev = price
    return out
