"""Source selection, the rule the whole project is about, as one pure function.

`kis-ws` exactly when the KRX session is open and the symbol's last WebSocket tick was received
(by our own clock) within the freshness window; otherwise `kis-rest`, with the reason.
"""

from __future__ import annotations

from gateway.cache import Quote
from gateway.market import KrxCalendar


def select(
    now: float, quote: Quote | None, calendar: KrxCalendar, freshness_s: float
) -> tuple[str, str | None]:
    closed = calendar.why_closed(now)
    if closed is not None:
        return "kis-rest", f"market closed: {closed}"
    if quote is None:
        return "kis-rest", "no WebSocket tick for this symbol yet"
    age = now - quote.received_at
    if age > freshness_s:
        return "kis-rest", f"last WebSocket tick is {age:.1f}s old (freshness {freshness_s:g}s)"
    return "kis-ws", None
