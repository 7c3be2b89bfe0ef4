"""The paper-trading matching engine, sans-I/O: the tape is the market, your orders ride on it.

Nothing here reads a clock or a socket. The player hands in every replayed frame (`feed`) in tape order;
the REST shell hands in orders and cancels (`submit`, `cancel`) as they arrive. Each call returns the
fills it caused, so the same tape and the same calls in the same order give the same fills, always.

Rules (docs/paper-trading.md, "Matching"):

- **Fill prices are tape prices.** An order fills either at a level of the last H0STASP0 book (taking
  liquidity when it arrives) or at the price of a replayed H0STCNT0 trade. Never anywhere else.
- **Marketable on arrival.** A market order walks the opposite side of the last book, level by level, up to
  each level's displayed quantity; what the book cannot fill fills at the last trade's price; with neither,
  it waits for the next trade. A limit order walks the levels at or better than its price, then rests.
  Quantity taken from a book level is gone until the next book for that symbol.
- **Resting limit orders fill on trades that reach them.** A resting buy at P is reached by a trade at
  T <= P (a sell at P by T >= P), and fills at T. A trade *through* P (T < P for a buy) fills up to its whole
  volume. A trade *at* P first works off the queue ahead of you: the volume the book showed at P when your
  order came to rest (0 if the book did not show P). A later book that shows less at P shortens the queue
  (cancellations ahead of you); never lengthens it.
- **One trade, shared volume.** A trade's volume (CNTG_VOL) fills your resting orders on each side in price
  then time priority, and is used up: two of your orders never fill from the same shares.
- **Cancels race fills in arrival order.** A cancel removes what is still resting when it arrives; a fill
  that arrived first is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fakekis.wire import frames

BUY, SELL = "02", "01"  # SELN_BYOV_CLS / SLL_BUY_DVSN_CD codes (docs/kis/protocol.md §5.3)
_TRADE_MIN, _BOOK_MIN = 13, 43  # fields the engine reads: trades up to CNTG_VOL, books up to BIDP_RSQN10


@dataclass(slots=True)
class Resting:
    """The part of an order the engine needs. `price` 0 is a market order."""

    odno: str
    symbol: str
    side: str
    price: int
    qty: int
    seq: int
    filled: int = 0
    ahead: int = 0  # tape volume ahead of this order at its price

    @property
    def remaining(self) -> int:
        return self.qty - self.filled


@dataclass(frozen=True, slots=True)
class Fill:
    odno: str
    qty: int
    price: int
    hhmmss: str  # the tape's time of the trade or book that filled it
    source: str  # "trade" or "book"


@dataclass(slots=True)
class Book:
    hhmmss: str
    asks: list[list[int]]  # [[price, qty], ...] best first
    bids: list[list[int]]


@dataclass
class Symbol:
    last_price: int | None = None
    last_time: str = ""
    book: Book | None = None
    pending_book: str | None = None  # the latest book frame text, parsed only when an order needs it
    pending_trade: tuple[str, int] | None = None
    resting: list[Resting] = field(default_factory=list)


class Engine:
    def __init__(self) -> None:
        self.symbols: dict[str, Symbol] = {}
        self._seq = 0

    def _sym(self, symbol: str) -> Symbol:
        s = self.symbols.get(symbol)
        if s is None:
            s = self.symbols[symbol] = Symbol()
        return s

    # -- the tape ----------------------------------------------------------------------------
    def feed(self, tr_id: str, text: str, count: int, symbol: str) -> list[Fill]:
        """A replayed data frame, as sent. Cheap when nothing of ours rests on the symbol: the text is kept
        and parsed only when an order needs the book or the last price."""
        if tr_id == "H0STCNT0" and count:
            s = self._sym(symbol)
            if not s.resting:
                s.pending_trade = (text, count)
                return []
            s.pending_trade = None
            out: list[Fill] = []
            for rec in _records(text, count, _TRADE_MIN):
                out.extend(self._trade(s, rec))
            return out
        if tr_id == "H0STASP0" and count:
            s = self._sym(symbol)
            s.pending_book = text
            if s.resting:
                self._settle_book(s)
        return []

    def _settle(self, s: Symbol) -> None:
        if s.pending_trade is not None:
            text, count = s.pending_trade
            s.pending_trade = None
            recs = _records(text, count, _TRADE_MIN)
            if recs:
                s.last_price, s.last_time = int(recs[-1][2]), recs[-1][1]
        self._settle_book(s)

    def _settle_book(self, s: Symbol) -> None:
        text, s.pending_book = s.pending_book, None
        if text is None:
            return
        recs = _records(text, frames.frame_count(text.split("|", 3)[2]) or 1, _BOOK_MIN)
        if not recs:
            return
        r = recs[-1]
        asks = [[int(r[3 + i]), int(r[23 + i])] for i in range(10) if r[3 + i] not in ("", "0")]
        bids = [[int(r[13 + i]), int(r[33 + i])] for i in range(10) if r[13 + i] not in ("", "0")]
        s.book = Book(r[1], asks, bids)
        for o in s.resting:  # a shorter queue at our price: someone ahead cancelled
            shown = _shown(s.book, o)
            if shown is not None and shown < o.ahead:
                o.ahead = shown

    def _trade(self, s: Symbol, rec: list[str]) -> list[Fill]:
        price, volume, hhmmss = int(rec[2]), int(rec[12] or 0), rec[1]
        s.last_price, s.last_time = price, hhmmss
        out: list[Fill] = []
        for side in (BUY, SELL):
            left = volume
            for o in _priority([o for o in s.resting if o.side == side]):
                if left <= 0:
                    break
                if o.price and (price > o.price if side == BUY else price < o.price):
                    continue  # not reached
                can = left
                if o.price == price:
                    passed = min(o.ahead, left)
                    o.ahead -= passed
                    can = left - passed
                qty = min(o.remaining, can)
                if qty > 0:
                    o.filled += qty
                    left -= qty
                    out.append(Fill(o.odno, qty, price, hhmmss, "trade"))
        s.resting = [o for o in s.resting if o.remaining > 0]
        return out

    # -- orders ------------------------------------------------------------------------------
    def reference(self, symbol: str) -> tuple[int | None, Book | None]:
        """The last trade price and the last book of `symbol` (what a market order would meet)."""
        s = self._sym(symbol)
        self._settle(s)
        return s.last_price, s.book

    def submit(
        self, odno: str, symbol: str, side: str, price: int, qty: int, condition: str = ""
    ) -> list[Fill]:
        """A new order (price 0: market). Returns its immediate fills; the rest rests. `condition` "FOK"
        fills nothing unless all of it fills at once; "IOC" (and FOK) leave their remainder resting for the
        caller to cancel at once (`cancel`), so the caller decides what the exchange tells about it."""
        s = self._sym(symbol)
        self._settle(s)
        self._seq += 1
        o = Resting(odno, symbol, side, price, qty, self._seq)
        if condition == "FOK" and self._available(s, side, price) < qty:
            s.resting.append(o)
            return []
        out: list[Fill] = []
        if s.book is not None:
            levels = s.book.asks if side == BUY else s.book.bids
            for level in levels:
                if o.remaining <= 0:
                    break
                lp, lq = level
                if price and (lp > price if side == BUY else lp < price):
                    break
                take = min(o.remaining, lq)
                if take > 0:
                    level[1] -= take
                    o.filled += take
                    out.append(Fill(odno, take, lp, s.book.hhmmss, "book"))
        if not price and o.remaining > 0 and s.last_price is not None:
            take = o.remaining
            o.filled += take
            out.append(Fill(odno, take, s.last_price, s.last_time, "trade"))
        if o.remaining > 0:
            shown = _shown(s.book, o) if s.book is not None else None
            o.ahead = shown or 0
            s.resting.append(o)
        return out

    def _available(self, s: Symbol, side: str, price: int) -> int:
        """What an order could take at once: book levels at or better than `price`; a market order also
        the last trade (unbounded)."""
        if not price and s.last_price is not None:
            return 1 << 62
        levels = (s.book.asks if side == BUY else s.book.bids) if s.book is not None else []
        return sum(q for p, q in levels if not price or (p <= price if side == BUY else p >= price))

    def cancel(self, odno: str, qty: int | None = None) -> int:
        """Take up to `qty` (None: all) of what still rests of `odno` off the book; returns how much."""
        for s in self.symbols.values():
            for o in s.resting:
                if o.odno == odno:
                    n = o.remaining if qty is None else min(qty, o.remaining)
                    o.qty -= n
                    if o.remaining <= 0:
                        s.resting.remove(o)
                    return n
        return 0

    def resting(self, odno: str) -> int:
        for s in self.symbols.values():
            for o in s.resting:
                if o.odno == odno:
                    return o.remaining
        return 0


def _priority(orders: list[Resting]) -> list[Resting]:
    """Price then time priority; market orders (price 0) first of all."""
    if not orders:
        return orders
    side = orders[0].side
    return sorted(orders, key=lambda o: (o.price != 0, -o.price if side == BUY else o.price, o.seq))


def _shown(book: Book | None, o: Resting) -> int | None:
    if book is None or not o.price:
        return None
    for p, q in book.bids if o.side == BUY else book.asks:
        if p == o.price:
            return q
    return None


def _records(text: str, count: int, min_width: int) -> list[list[str]]:
    parts = frames.split_frame(text)
    if parts is None or not count:
        return []
    fields = parts[3].split("^")
    width = len(fields) // count
    if width < min_width:
        return []
    return [fields[i * width : (i + 1) * width] for i in range(count)]
