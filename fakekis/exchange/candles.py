"""Candles, sans I/O: one bar type for days and minutes, the minute bars of one business day built from
trades, and the folding of daily bars into weeks, months and years.

Minute bars are keyed by minute of the day (`HHMM` as an int), appended in time order, so "the bars at or
before 10:31" is a bisect and a slice: a minute-chart answer never looks at the tape, only at the at most
720 minutes of one day (docs/kis/endpoints.md §A5).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date


@dataclass(slots=True)
class Bar:
    """One candle. `day` is YYYYMMDD; `minute` is HHMM for a minute bar (-1 for a daily one); `amount` is
    the traded value (거래대금) of the bar, `acml_amount` the day's cumulative value at the bar's end
    (minute charts' `acml_tr_pbmn`)."""

    day: str
    open: int
    high: int
    low: int
    close: int
    volume: int
    amount: int = 0
    minute: int = -1
    acml_amount: int = 0

    def add(self, price: int, qty: int, acml_amount: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty
        self.amount += qty * price
        self.acml_amount = acml_amount


def minute_of(hhmmss: str) -> int:
    """`093112` -> 931."""
    return int(hhmmss[:4]) if len(hhmmss) >= 4 and hhmmss[:4].isdigit() else -1


class MinuteBars:
    """The one-minute bars of one business day, from its trades in time order."""

    __slots__ = ("_bars", "_keys", "day", "touched")

    def __init__(self, day: str) -> None:
        self.day = day
        self._keys: list[int] = []
        self._bars: dict[int, Bar] = {}
        self.touched: set[int] = set()  # minutes changed since the last `take_touched` (index checkpoints)

    def take_touched(self) -> list[Bar]:
        """The bars changed since the last call, oldest first (what a warm-up checkpoint must carry)."""
        out = [self._bars[m] for m in sorted(self.touched)]
        self.touched = set()
        return out

    def put(self, bar: Bar) -> None:
        """Set the bar of `bar.minute` as a checkpoint recorded it (warm-up: exchange/warm.py)."""
        if bar.minute not in self._bars:
            self._keys.insert(bisect_right(self._keys, bar.minute), bar.minute)
        self._bars[bar.minute] = bar

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, hhmmss: str, price: int, qty: int, acml_amount: int) -> Bar | None:
        """Fold a trade into its minute's bar; that bar (None: no minute in `hhmmss`), so a caller folding
        a run of trades can add the next ones of the same minute to it directly."""
        m = minute_of(hhmmss)
        if m < 0:
            return None
        self.touched.add(m)
        bar = self._bars.get(m)
        if bar is None:
            bar = self._bars[m] = Bar(self.day, price, price, price, price, qty, qty * price, m, acml_amount)
            if self._keys and m < self._keys[-1]:  # a late record: keep the keys sorted
                self._keys.insert(bisect_right(self._keys, m), m)
            else:
                self._keys.append(m)
        else:
            bar.add(price, qty, acml_amount)
        return bar

    def prelude(self, first: int, anchors: list[tuple[int, int]], volume: int, amount: int) -> None:
        """Bars for 09:00 up to (not including) minute `first`, for a tape that starts mid-session: the
        prices pass through `anchors` (minute, price), e.g. the open at OPRC_HOUR, the high at HGPR_HOUR and
        the low at LWPR_HOUR the first record names, straight lines between them on the tick grid, and
        `volume` / `amount` (what the day traded before the tape) spread evenly. Called before any trade."""
        minutes = []
        m = 900
        while m < first:
            minutes.append(m)
            m = _next_minute(m)
        if not minutes or not anchors or self._keys:
            return
        points = sorted({a for a in anchors if 900 <= a[0] <= first} or {(900, anchors[0][1])})
        if points[0][0] != 900:
            points.insert(0, (900, points[0][1]))
        prices = []
        for m in minutes:
            before = max((p for p in points if p[0] <= m), key=lambda p: p[0])
            after = min((p for p in points if p[0] >= m), key=lambda p: p[0], default=before)
            span = _index(after[0]) - _index(before[0])
            frac = (_index(m) - _index(before[0])) / span if span else 0.0
            prices.append(round(before[1] + (after[1] - before[1]) * frac))
        each, acml = volume // len(minutes), 0
        prev = prices[0]
        for i, (m, p) in enumerate(zip(minutes, prices, strict=True)):
            vol = each + (volume - each * len(minutes) if i == len(minutes) - 1 else 0)
            acml += vol
            exact = {a[1] for a in anchors if a[0] == m}
            high, low = max([prev, p, *exact]), min([prev, p, *exact])
            bar = Bar(self.day, prev, high, low, p, vol, 0, m, amount * acml // volume if volume else 0)
            self._bars[m] = bar
            self._keys.append(m)
            self.touched.add(m)
            prev = p

    def upto(self, minute: int, limit: int, fill_until: int = -1) -> list[Bar]:
        """At most `limit` bars at or before `minute`, newest first. Minutes without a trade between the
        first bar and `min(minute, fill_until)` are flat bars at the previous close with no volume (INF:
        KIS's charts show every minute of the session; docs/kis/endpoints.md §A5)."""
        i = bisect_right(self._keys, minute)
        if i == 0:
            return []
        end = min(minute, fill_until) if fill_until >= 0 else self._keys[i - 1]
        end = max(end, self._keys[i - 1])
        out: list[Bar] = []
        m, j = end, i - 1
        while len(out) < limit and j >= 0:
            key = self._keys[j]
            if m == key:
                out.append(self._bars[key])
                j -= 1
                m = _prev_minute(m)
            elif m > key:  # a gap after bar j: flat at its close
                b = self._bars[key]
                out.append(Bar(self.day, b.close, b.close, b.close, b.close, 0, 0, m, b.acml_amount))
                m = _prev_minute(m)
            else:  # pragma: no cover - keys are sorted and m starts at or after the newest key
                break
        return out

    def containing(self, minute: int) -> Bar | None:
        """The bar of `minute` itself, if a trade fell in it."""
        return self._bars.get(minute)


def _next_minute(m: int) -> int:
    h, mm = divmod(m, 100)
    return (h + 1) * 100 if mm == 59 else m + 1


def _index(m: int) -> int:
    return (m // 100) * 60 + m % 100


def _prev_minute(m: int) -> int:
    h, mm = divmod(m, 100)
    return (h - 1) * 100 + 59 if mm == 0 else m - 1


PERIODS: dict[str, Callable[[date], tuple[int, ...]]] = {
    "D": lambda d: (d.year, d.month, d.day),
    "W": lambda d: tuple(d.isocalendar()[:2]),
    "M": lambda d: (d.year, d.month),
    "Y": lambda d: (d.year,),
}


def _day(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def fold(daily: Sequence[Bar], period: str) -> list[Bar]:
    """Daily bars (oldest first) folded into `period` bars (D, W, M or Y), oldest first. A period bar is
    dated by its first trading day in `daily` (INF: KIS's date for a week/month bar is not documented)."""
    if period == "D":
        return list(daily)  # nothing is folded, so nothing is copied
    key = PERIODS[period]
    out: list[Bar] = []
    last: tuple[int, ...] | None = None
    for b in daily:
        k = key(_day(b.day))
        if k != last:
            out.append(replace(b))
            last = k
        else:
            cur = out[-1]
            cur.high, cur.low = max(cur.high, b.high), min(cur.low, b.low)
            cur.close = b.close
            cur.volume += b.volume
            cur.amount += b.amount
    return out


def between(bars: Sequence[Bar], start: str, end: str) -> list[Bar]:
    """The bars (sorted by day) dated within [start, end]: two bisects, not a scan."""
    lo = bisect_left(bars, start, key=_day_of)
    return list(bars[lo : bisect_right(bars, end, key=_day_of)])


def _day_of(b: Bar) -> str:
    return b.day
