"""The market as REST sees it: a fold of the replayed frames into small per-symbol, per-venue state.

The player calls `apply` for every replayed data frame, subscribed or not, in time order. The state keeps
no frames and no tape, only what the quotation answers need (docs/kis/protocol.md §3.2,
docs/kis/endpoints.md §A):

- the last trade record (inquire-price) and the day candle it carries (open, high, low, close, `ACML_VOL`,
  `ACML_TR_PBMN`), and the previous close its `PRDY_VRSS` implies;
- the day's one-minute bars, keyed by minute (`candles.MinuteBars`), and those of a few earlier days;
- a ring of the 30 most recent trades (inquire-ccnl);
- the latest book (H0STASP0) and the one before it (for the `*_icdc` changes), and the latest expected
  trade (H0STANC0).

Queries answer "as of now": as of what has been fed. Venues: `H0ST*` frames feed `J` (KRX), `H0NX*` feed
`NX` and `H0UN*` feed `UN`; a tape without unified frames answers `UN` from KRX (see `state`).

Hot path: `apply` splits nothing. Frames wait per symbol (at most `PENDING` of them) and are folded when
REST asks or the queue is full, so replaying a tape costs what it cost before REST had charts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from fakekis.exchange.candles import Bar, MinuteBars
from fakekis.exchange.history import History
from fakekis.exchange.price import price_output
from fakekis.wire import frames
from kisclock import KST

PENDING = 256  # frames a symbol may hold unfolded before `apply` folds them
RECENT = 30  # inquire-ccnl rows (docs/kis/endpoints.md §A2)
DAYS_KEPT = 5  # business days of minute bars kept per symbol (a multi-day tape keeps its last few)
TRADE_WIDTH, BOOK_WIDTH = 46, 59  # the fields every era of the trade / book record starts with

# tr_id -> (venue, kind): the realtime TRs that move the market state (docs/kis/endpoints.md §C0)
FEEDS: dict[str, tuple[str, str]] = {
    f"H0{src}{suffix}": (venue, kind)
    for src, venue in (("ST", "J"), ("NX", "NX"), ("UN", "UN"))
    for suffix, kind in (("CNT0", "trade"), ("ASP0", "book"), ("ANC0", "expected"))
}


@dataclass(frozen=True, slots=True)
class Tick:
    """One trade as inquire-ccnl shows it."""

    hhmmss: str
    price: str
    vrss: str
    sign: str
    ctrt: str
    qty: str
    strength: str  # CTTR, 체결강도


@dataclass
class SymbolState:
    code: str
    prev_close: int | None = None
    last: list[str] | None = None  # the last trade record, all its fields
    candle: Bar | None = None  # today's, from the last record
    minutes: dict[str, MinuteBars] = field(default_factory=dict)  # YYYYMMDD -> that day's bars
    recent: deque[Tick] = field(default_factory=lambda: deque(maxlen=RECENT))
    book: list[str] | None = None
    prev_book: list[str] | None = None
    expected: list[str] | None = None
    first_acml_vol: int = 0  # ACML_VOL of the first record seen (a tape may start mid-session)
    prev_volume: int = 0  # yesterday's volume as the first record implies it (for the seeded history)
    pending: list[tuple[str, str, int]] = field(default_factory=list)  # (kind, text, records)

    @property
    def day(self) -> str:
        return self.last[33] if self.last else ""

    def today_minutes(self) -> MinuteBars | None:
        return self.minutes.get(self.day)

    def first_seen(self, rec: list[str], price: int) -> None:
        """What the first record tells about yesterday: the close (price - PRDY_VRSS) and, from
        PRDY_SMNS_HOUR_ACML_VOL (yesterday's volume by this time), roughly yesterday's whole volume."""
        self.prev_close = price - (_int(rec[4]) or 0)
        self.first_acml_vol = _int(rec[13]) or 0
        hhmm = _int(rec[1][:4]) or 900
        elapsed = max(1, (hhmm // 100 - 9) * 60 + hhmm % 100)
        same_time = _int(rec[41]) or 0
        self.prev_volume = same_time * 390 // elapsed if 0 < elapsed < 390 else same_time

    def fold_trades(self, recs: list[list[str]]) -> None:
        """Fold trade records, in time order. Each one goes into its minute bar; only the last `RECENT`
        become ticks and only the last one sets `last` and the day candle, as folding them one by one
        would leave them (this is most of a replayed trade's cost, so it does no more than that)."""
        last, bars, bars_day = self.last, None, None
        minute, bar = "", None  # the minute (HHMM) of the last record folded, and its bar
        folded: list[list[str]] = []
        for rec in recs:
            try:
                price = int(rec[2])
            except ValueError:
                continue
            if rec[33] == bars_day and bar is not None and rec[1][:4] == minute:  # most trades
                bar.add(price, _int(rec[12]) or 0, _int(rec[14]) or 0)
                folded.append(rec)
                continue
            if self.prev_close is None:
                self.first_seen(rec, price)
            day = rec[33]
            if bars is None or day != bars_day:
                bars = self.minutes.get(day)
                if bars is None:
                    bars = self.minutes[day] = MinuteBars(day)
                    while len(self.minutes) > DAYS_KEPT:
                        del self.minutes[min(self.minutes)]
                    if last is not None and last[33] and last[33] < day:
                        self.prev_close = price - (_int(rec[4]) or 0)  # a new business day on the same tape
                    self._prelude(bars, rec, price, _int(rec[12]) or 0)
                bars_day = day
            bar = bars.add(rec[1], price, _int(rec[12]) or 0, _int(rec[14]) or 0)
            minute = rec[1][:4]
            folded.append(rec)
            last = rec
        if not folded:
            return
        self.recent.extend(Tick(r[1], r[2], r[4], r[3], r[5], r[12], r[18]) for r in folded[-RECENT:])
        self.last = folded[-1]
        self.candle = candle_of(folded[-1], int(folded[-1][2]))

    def _prelude(self, bars: MinuteBars, rec: list[str], price: int, qty: int) -> None:
        """A tape that starts mid-session: the first record's open, high and low (and their times) and
        its ACML_VOL give the minutes before it (`MinuteBars.prelude`), so a minute chart starts at 09:00
        as KIS's does and agrees with the day candle."""
        anchors = []
        for hour, value in ((rec[24], rec[7]), (rec[27], rec[8]), (rec[30], rec[9])):
            m, p = _int(hour[:4]), _int(value)
            if m is not None and p and len(hour) == 6:
                anchors.append((m, p))
        volume = max(0, (_int(rec[13]) or 0) - qty)
        amount = max(0, (_int(rec[14]) or 0) - qty * price)
        first = _int(rec[1][:4])
        if first is not None and anchors:
            bars.prelude(first, anchors + [(first, price)], volume, amount)

    def settle(self) -> None:
        """Fold the frames waiting in `pending`: every trade record; of the books and expected trades only
        the last ones, which are all the state keeps."""
        pending, self.pending = self.pending, []
        trades: list[list[str]] = []
        books: list[list[str]] = []  # the last record of the last two book frames, newest first
        expected: list[str] | None = None
        for kind, text, count in pending:
            if kind == "trade":
                fields = _fields(text, count)
                width = len(fields) // count if fields else 0
                if width >= TRADE_WIDTH:
                    if count == 1:  # most frames: the record is the fields, no copy
                        trades.append(fields)
                    else:
                        trades.extend(fields[i * width : (i + 1) * width] for i in range(count))
        for kind, text, count in reversed(pending):
            if kind == "trade" or (kind == "book" and len(books) == 2) or (kind == "expected" and expected):
                continue
            fields = _fields(text, count)
            width = len(fields) // count if fields else 0
            if kind == "book" and width >= BOOK_WIDTH:
                books.append(fields[(count - 1) * width : count * width])
            elif kind == "expected" and width >= TRADE_WIDTH - 1:
                expected = fields[(count - 1) * width : count * width]
        if trades:
            self.fold_trades(trades)
        if books:
            self.prev_book, self.book = (books[1] if len(books) == 2 else self.book), books[0]
        if expected is not None:
            self.expected = expected


class MarketState:
    def __init__(self, now: Callable[[], float] | None = None, seed: int = 0) -> None:
        """`now` is the exchange's idea of the present (the replay's market time); without it, the time of
        the latest trade fed. `seed` seeds the history before the tape (`history.History`)."""
        self.history = History(seed)
        self.symbols: dict[tuple[str, str], SymbolState] = {}
        self.now_fn = now
        self._latest = ""  # YYYYMMDDHHMMSS of the latest trade folded

    # -- the fold ---------------------------------------------------------------------------------
    def prime(self, record: list[str], venue: str = "J") -> None:
        """Know a symbol before its first replayed trade. A recording that starts mid-session has
        history before its first frame, so until then REST answers with that first record's day state
        (closer to the truth than an empty pre-open book)."""
        price = _int(record[2]) if len(record) >= TRADE_WIDTH else None
        st = self._state(venue, record[0]) if price is not None else None
        if st is None or price is None or st.last is not None or st.pending:
            return
        # Not folded as a trade: it has not happened yet (no minute bar, no inquire-ccnl row).
        st.first_seen(record, price)
        st.last = record
        st.candle = candle_of(record, price)

    def primed(self, symbol: str, venue: str = "J") -> bool:
        return (venue, symbol) in self.symbols

    def apply(self, tr_id: str, text: str, count: int, symbol: str) -> None:
        """Note a replayed data frame (`0|TR|NNN|payload`, as sent). Hot path: nothing is split here."""
        feed = FEEDS.get(tr_id)
        if feed is None or not count:
            return
        st = self._state(feed[0], symbol)
        st.pending.append((feed[1], text, count))
        if len(st.pending) >= PENDING:
            self._settle(st)

    def _state(self, venue: str, symbol: str) -> SymbolState:
        st = self.symbols.get((venue, symbol))
        if st is None:
            st = self.symbols[(venue, symbol)] = SymbolState(symbol)
        return st

    def _settle(self, st: SymbolState) -> None:
        if st.pending:
            st.settle()
            if st.last is not None:
                stamp = st.last[33] + st.last[1]
                self._latest = max(self._latest, stamp)

    # -- queries ----------------------------------------------------------------------------------
    def state(self, venue: str, symbol: str) -> SymbolState | None:
        """The folded state of `symbol` on `venue` (J, NX, UN; W is KRX), or None when the tape never
        traded it there. `UN` (KRX + NXT) falls back to KRX on a tape without unified frames: on such a
        tape the only trades there are are KRX's (INF; docs/fidelity.md)."""
        venue = "J" if venue == "W" else venue
        st = self.symbols.get((venue, symbol))
        if st is None and venue == "UN":
            st = self.symbols.get(("J", symbol))
        if st is None:
            return None
        self._settle(st)
        return st if st.last is not None or st.book is not None else None

    def now(self) -> datetime:
        """The present in KST: the injected market clock, else the latest trade folded."""
        if self.now_fn is not None:
            return datetime.fromtimestamp(self.now_fn(), KST)
        for st in self.symbols.values():
            self._settle(st)
        if self._latest:
            return datetime.strptime(self._latest, "%Y%m%d%H%M%S").replace(tzinfo=KST)
        return datetime(1970, 1, 1, tzinfo=KST)

    def today(self, st: SymbolState | None = None) -> date:
        """The business day a symbol's tape is on (its last trade's BSOP_DATE), else the clock's day."""
        if st is not None and st.day:
            return datetime.strptime(st.day, "%Y%m%d").date()
        return self.now().date()

    @property
    def prev_close(self) -> dict[str, int]:
        """KRX previous closes by symbol (the ones the tape told)."""
        return {s: st.prev_close for (v, s), st in self.symbols.items() if v == "J" and st.prev_close}

    def inquire_price(self, symbol: str, venue: str = "J") -> dict[str, str]:
        return price_output(symbol, self.state(venue, symbol))


def candle_of(rec: list[str], price: int) -> Bar:
    """The day candle a trade record carries: STCK_OPRC/HGPR/LWPR, the price, ACML_VOL, ACML_TR_PBMN."""
    return Bar(
        rec[33],
        _int(rec[7]) or price,
        _int(rec[8]) or price,
        _int(rec[9]) or price,
        price,
        _int(rec[13]) or 0,
        _int(rec[14]) or 0,
    )


def _fields(text: str, count: int) -> list[str]:
    """The `^`-separated fields of a data frame's payload (none: not a data frame, or no records)."""
    parts = frames.split_frame(text)
    return parts[3].split("^") if parts is not None and count else []


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
