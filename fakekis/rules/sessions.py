"""When each venue takes orders, as pure functions of the KST date and time (docs/kis/protocol.md §6,
docs/kis/endpoints.md §D3).

- KRX takes orders from the opening call (08:30) to the close (15:30): the 08:30-09:00 and 15:20-15:30 call
  auctions included (orders rest until the auction). The pre-2026 after-hours sessions (08:30-08:40 and
  15:40-16:00 closing price, 16:00-18:00 single price) are not modelled: an order then is refused as after
  the close.
- NXT takes orders 08:00-08:50, 09:00-15:20 and 15:30-20:00, and none in KRX's auctions (§D3).
- SOR takes orders while either venue does.
- No venue trades on weekends or KRX holidays (the `holidays` XKRX calendar).
"""

from __future__ import annotations

from datetime import date

import holidays

KRX = ((83000, 153000),)
NXT = ((80000, 85000), (90000, 152000), (153000, 200000))
_WINDOWS = {"KRX": KRX, "NXT": NXT, "SOR": KRX + NXT}
_XKRX = holidays.financial_holidays("XKRX")


def trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _XKRX


def order_window(venue: str, day: date, hhmmss: int) -> str:
    """ "open", "before" (the day's first window has not opened), "after" (it is past the last one or
    between windows) or "closed" (not a trading day)."""
    if not trading_day(day):
        return "closed"
    windows = _WINDOWS[venue]
    for start, end in windows:
        if start <= hhmmss < end:
            return "open"
    return "before" if hhmmss < windows[0][0] else "after"
