"""The quote cache: the latest trade per symbol, stamped with the gateway's own receive time.

Freshness is judged on `received_at` (our clock), never on the exchange's timestamp, so a replayed
or delayed tape cannot make an old tick look fresh. Updates mutate one slot object per symbol in
place: no allocation per tick on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Quote:
    symbol: str
    price: int = 0
    change: int = 0
    change_rate: str = "0.00"
    volume: int = 0
    exchange_date: str = ""
    exchange_hhmmss: str = ""
    received_at: float = 0.0
    ticks: int = 0
    venue: str = "krx"  # whose trade TR the last tick came on (codec.TRADE_VENUES)
    _formatted: tuple[str, str, str | None] = ("", "", None)  # (date, hhmmss, exchange_time) last served

    @property
    def exchange_time(self) -> str | None:
        """Formatted when asked (the API), not on every tick (ingest), and kept until the second changes."""
        d, t = self.exchange_date, self.exchange_hhmmss
        if self._formatted[0] == d and self._formatted[1] == t:
            return self._formatted[2]
        text = (
            None if len(d) != 8 or len(t) != 6 else f"{d[:4]}-{d[4:6]}-{d[6:]}T{t[:2]}:{t[2:4]}:{t[4:]}+09:00"
        )
        self._formatted = (d, t, text)
        return text


class QuoteCache:
    def __init__(self) -> None:
        self._quotes: dict[str, Quote] = {}

    def update_from_h0stcnt0(
        self, fields: list[str], offset: int, received_at: float, venue: str = "krx"
    ) -> bool:
        """Apply one trade record (H0STCNT0, or its NXT/unified twin: same positions) starting at `offset`
        in a frame's field list."""
        symbol = fields[offset]
        try:
            price = int(fields[offset + 2])
            change = int(fields[offset + 4])
            volume = int(fields[offset + 13])
        except (ValueError, IndexError):
            return False
        q = self._quotes.get(symbol)
        if q is None:
            q = self._quotes[symbol] = Quote(symbol)
        q.price, q.change, q.volume = price, change, volume
        q.change_rate = fields[offset + 5]
        q.exchange_hhmmss = fields[offset + 1]
        q.exchange_date = fields[offset + 33] if len(fields) > offset + 33 else ""
        q.received_at = received_at
        q.venue = venue
        q.ticks += 1
        return True

    def get(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    def __len__(self) -> int:
        return len(self._quotes)
