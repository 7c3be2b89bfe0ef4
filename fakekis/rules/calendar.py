"""KRX trading days: weekdays minus the XKRX financial holidays of the maintained `holidays` package, the
same calendar the gateway's session check reads (gateway/market.py; the two packages never share code,
so each asks the library itself). Pure: a date in, a yes/no out.

Used by the seeded daily history (which days have candles) and by `chk-holiday` (CTCA0903R).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _closed(year: int) -> holidays.HolidayBase:
    return holidays.financial_holidays("XKRX", years=year)


def is_trading_day(day: date) -> bool:
    """KRX is open on `day` (개장일)."""
    return day.weekday() < 5 and day not in _closed(day.year)


def holiday_name(day: date) -> str | None:
    """The XKRX holiday's name, or None on a weekday the market opens or on a weekend."""
    name = _closed(day.year).get(day)
    return None if name is None else str(name)


def previous_trading_day(day: date) -> date:
    """The last KRX trading day strictly before `day`."""
    d = day - timedelta(days=1)
    while not is_trading_day(d):
        d -= timedelta(days=1)
    return d
