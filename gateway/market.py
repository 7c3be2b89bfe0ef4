"""Is the venue's session open at this instant? (docs/kis/protocol.md §6, docs/kis/endpoints.md §D3)

Holidays come from the maintained `holidays` package's XKRX financial calendar, never a hand list (NXT
trades on KRX's days). KRX session hours are configurable because KRX has been extending them (2026
pre/after-market). The venue (`KIS_VENUE`) decides which sessions count as open:

- `krx`: the KRX hours (`GATEWAY_SESSION_HOURS`, 09:00-15:30 by default);
- `nxt`: NXT's own sessions, pre-market 08:00-08:50, main 09:00-15:20, after-market 15:30-20:00
  ([reported] in §D3: NXT pauses for KRX's opening and closing auctions);
- `unified`: either, merged: with the default KRX hours 08:00-08:50 and 09:00-20:00.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

import holidays

from kisclock import KST


def _parse_hhmm(text: str) -> time:
    try:
        h, m = text.strip().split(":")
        return time(int(h), int(m))
    except ValueError:
        raise ValueError(f"{text!r} is not HH:MM") from None


VENUES = ("krx", "nxt", "unified")
NXT_SESSIONS = ((time(8, 0), time(8, 50)), (time(9, 0), time(15, 20)), (time(15, 30), time(20, 0)))


def _merge(windows: list[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    """Sorted, with overlapping or touching windows joined."""
    out: list[tuple[time, time]] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


@dataclass
class KrxCalendar:
    open_at: time = time(9, 0)
    close_at: time = time(15, 30)
    venue: str = "krx"
    extra: tuple[tuple[time, time], ...] = ()  # nxt/unified: the windows beyond open_at-close_at
    _holidays: dict[int, holidays.HolidayBase] = field(default_factory=dict, repr=False)
    _memo: tuple[int, str | None] = field(default=(-1, None), repr=False)  # (minute, why_closed then)

    @classmethod
    def from_hours(cls, hours: str) -> KrxCalendar:
        """`"09:00-15:30"` -> calendar. Raises ValueError naming the bad part."""
        start, sep, end = hours.partition("-")
        if not sep:
            raise ValueError(f"{hours!r} is not HH:MM-HH:MM")
        cal = cls(_parse_hhmm(start), _parse_hhmm(end))
        if cal.open_at >= cal.close_at:
            raise ValueError(f"{hours!r}: the session must open before it closes")
        return cal

    @classmethod
    def for_venue(cls, venue: str, hours: str = "09:00-15:30") -> KrxCalendar:
        """The sessions `venue` trades in; `hours` are KRX's (unused for `nxt`)."""
        krx = cls.from_hours(hours)
        if venue == "krx":
            return krx
        if venue not in VENUES:
            raise ValueError(f"{venue!r} is not a venue ({', '.join(VENUES)})")
        own = [(krx.open_at, krx.close_at)] if venue == "unified" else []
        windows = _merge(own + list(NXT_SESSIONS))
        return cls(windows[0][0], windows[0][1], venue, windows[1:])

    @property
    def windows(self) -> tuple[tuple[time, time], ...]:
        return ((self.open_at, self.close_at), *self.extra)

    def is_trading_day(self, day: date) -> bool:
        if day.weekday() >= 5:
            return False
        cal = self._holidays.get(day.year)
        if cal is None:
            cal = self._holidays[day.year] = holidays.financial_holidays("XKRX", years=day.year)
        return day not in cal

    def is_open(self, instant: float) -> bool:
        return self.why_closed(instant) is None

    def why_closed(self, instant: float) -> str | None:
        """None when open, else why not. Asked on every quote request: the answer is kept per minute
        (session bounds are whole minutes and KST is a whole-minute offset, so it cannot change inside one)."""
        minute = int(instant // 60)
        if self._memo[0] == minute:
            return self._memo[1]
        reason = self._why_closed(instant)
        self._memo = (minute, reason)
        return reason

    def _why_closed(self, instant: float) -> str | None:
        local = datetime.fromtimestamp(instant, KST)
        if local.weekday() >= 5:
            return f"{local:%Y-%m-%d} is a {local:%A}"
        if not self.is_trading_day(local.date()):
            name = self._holidays[local.year].get(local.date())
            return f"{local:%Y-%m-%d} is a KRX holiday ({name})"
        at = local.time()
        if not self.extra:
            if not self.open_at <= at < self.close_at:
                return f"{local:%H:%M} KST is outside the session {self.open_at:%H:%M}-{self.close_at:%H:%M}"
            return None
        if not any(a <= at < b for a, b in self.windows):
            spans = ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in self.windows)
            return f"{local:%H:%M} KST is outside the {self.venue} sessions {spans}"
        return None
