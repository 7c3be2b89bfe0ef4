"""Is the KRX regular session open at this instant? (docs/kis/protocol.md §6)

Holidays come from the maintained `holidays` package's XKRX financial calendar, never a hand list.
Session hours are configurable because KRX has been extending them (2026 pre/after-market).
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


@dataclass
class KrxCalendar:
    open_at: time = time(9, 0)
    close_at: time = time(15, 30)
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
        if not self.open_at <= local.time() < self.close_at:
            return f"{local:%H:%M} KST is outside the session {self.open_at:%H:%M}-{self.close_at:%H:%M}"
        return None
