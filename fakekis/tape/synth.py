"""Seeded synthetic KIS sessions: H0STCNT0 trades (optionally H0STASP0 books) that keep the field
invariants of docs/kis/protocol.md §5.1, so a client that checks arithmetic sees nothing odd.

Invariants kept in every record: VWAP = ACML_TR_PBMN / ACML_VOL; NTBY = SHNU_CSNU - SELN_CSNU;
CTTR = SHNU_SMTN / SELN_SMTN x 100; PRDY_CTRT = PRDY_VRSS / (PRICE - PRDY_VRSS) x 100;
OPRC/HGPR/LWPR_VRSS = price - open/high/low with matching sign codes; low <= price <= high;
ACML_VOL grows by CNTG_VOL; sign code agrees with the signed change. Books: asks ascending, bids
descending, totals = sum of the 10 levels. Output is marked `synthetic: true`.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from fakekis.rules.prices import limit_prices, tick_size
from fakekis.tape.format import FORMAT, VERSION, WsLine
from fakekis.wire import frames

PLACEHOLDER_APPROVAL = "00000000-0000-4000-8000-000000000000"
MAX_MINUTES = 720.0  # twelve hours: NXT's 08:00-20:00 day; a full day of three symbols is ~300k lines


def _2dp(num: Decimal) -> str:
    return str(num.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _ratio(a: int, b: int, scale: int = 100) -> str:
    return _2dp(Decimal(a) * scale / Decimal(b)) if b else "0.00"


def sign_code(diff: int, at_upper: bool = False, at_lower: bool = False) -> str:
    if at_upper:
        return "1"
    if at_lower:
        return "4"
    return "2" if diff > 0 else "5" if diff < 0 else "3"


@dataclass(frozen=True)
class SymbolSpec:
    code: str
    prev_close: int
    trades_per_second: float
    listed_shares: int
    prev_day_volume: int


DEFAULT_SYMBOLS = (
    SymbolSpec("005930", 71_000, 3.0, 5_919_637_922, 12_000_000),
    SymbolSpec("000660", 177_000, 1.5, 728_002_365, 3_000_000),
    SymbolSpec("035720", 41_050, 0.8, 444_000_000, 1_500_000),
)


class _Tape:
    """Running state of one symbol; every record is derived from it, so invariants hold by construction."""

    def __init__(self, spec: SymbolSpec, rng: random.Random, start: datetime) -> None:
        self.spec, self.rng = spec, rng
        p0 = spec.prev_close
        tick = tick_size(p0)
        self.bid = p0 + tick * rng.randint(-5, 5)
        self.open = self.bid + tick * rng.randint(-3, 3)
        self.high = max(self.open, self.bid + tick * rng.randint(1, 6))
        self.low = min(self.open, self.bid - tick * rng.randint(1, 6))
        opened = start.replace(hour=9, minute=0, second=0)
        elapsed = max(60.0, (start - opened).total_seconds())
        self.vol = int(spec.prev_day_volume * 0.004 * elapsed / 60) + 1000
        self.pbmn = self.vol * self.open
        self.sell_qty = self.vol // 2
        self.buy_qty = self.vol - self.sell_qty
        self.sell_n = max(1, self.sell_qty // 40)
        self.buy_n = max(1, self.buy_qty // 40)
        self.open_hour = (opened + timedelta(seconds=rng.randint(0, 30))).strftime("%H%M%S")
        self.high_hour = (opened + timedelta(seconds=rng.randint(30, int(elapsed)))).strftime("%H%M%S")
        self.low_hour = (opened + timedelta(seconds=rng.randint(30, int(elapsed)))).strftime("%H%M%S")
        self.ask_qty = [rng.randint(1_000, 90_000) for _ in range(10)]
        self.bid_qty = [rng.randint(1_000, 90_000) for _ in range(10)]
        self.upper, self.lower = limit_prices(p0)
        self.untraded = False
        self.last = (self.bid, False, 0)

    @property
    def ask(self) -> int:
        return self.bid + tick_size(self.bid)

    def drift(self) -> None:
        """One random step of the best bid (a tick up, a tick down, or none), inside the price limits."""
        move = self.rng.random()
        if move < 0.12 and self.ask < self.upper:
            self.bid = self.ask
        elif move < 0.24 and self.bid - tick_size(self.bid - 1) > self.lower:
            self.bid -= tick_size(self.bid - 1)

    def fresh(self) -> None:
        """Nothing traded yet today (a market-day tape, tape/market_day.py): the day's accumulators start
        at zero and the first trade sets open, high and low."""
        self.vol = self.pbmn = self.sell_qty = self.buy_qty = self.sell_n = self.buy_n = 0
        self.untraded = True

    def trade(self, now: datetime, forced: tuple[int, bool, int] | None = None) -> list[str]:
        """The next trade: random, or `forced` (bid, buy, qty), e.g. another venue's trade or an auction's
        single price. `self.last` is what was traded, for a follower to copy."""
        rng, spec = self.rng, self.spec
        if forced is None:
            self.drift()
            buy = rng.random() < 0.5
            qty = max(1, int(rng.paretovariate(1.3) * 10) if rng.random() < 0.7 else rng.randint(1, 5))
        else:
            self.bid, buy, qty = forced
        self.last = (self.bid, buy, qty)
        price = self.ask if buy else self.bid
        hhmmss = now.strftime("%H%M%S")
        if self.untraded:
            self.untraded = False
            self.open = self.high = self.low = price
            self.open_hour = self.high_hour = self.low_hour = hhmmss
        self.vol += qty
        self.pbmn += qty * price
        if buy:
            self.buy_qty += qty
            self.buy_n += 1
        else:
            self.sell_qty += qty
            self.sell_n += 1
        if price > self.high:
            self.high, self.high_hour = price, hhmmss
        if price < self.low:
            self.low, self.low_hour = price, hhmmss
        self.ask_qty[0] = max(100, self.ask_qty[0] + rng.randint(-2_000, 2_000))
        self.bid_qty[0] = max(100, self.bid_qty[0] + rng.randint(-2_000, 2_000))
        p0 = spec.prev_close
        change = price - p0
        session_s = (now - now.replace(hour=9, minute=0, second=0)).total_seconds()
        prev_same_time = int(spec.prev_day_volume * max(session_s, 60) / 23_400) + 5_000
        return [
            spec.code,
            hhmmss,
            str(price),
            sign_code(change, price >= self.upper, price <= self.lower),
            str(change),
            _ratio(change, p0),
            _2dp(Decimal(self.pbmn) / Decimal(self.vol)),
            str(self.open),
            str(self.high),
            str(self.low),
            str(self.ask),
            str(self.bid),
            str(qty),
            str(self.vol),
            str(self.pbmn),
            str(self.sell_n),
            str(self.buy_n),
            str(self.buy_n - self.sell_n),
            _ratio(self.buy_qty, self.sell_qty),
            str(self.sell_qty),
            str(self.buy_qty),
            "1" if buy else "5",
            _2dp(Decimal(self.buy_qty) / Decimal(self.vol)),
            _ratio(self.vol, spec.prev_day_volume),
            self.open_hour,
            sign_code(price - self.open),
            str(price - self.open),
            self.high_hour,
            sign_code(price - self.high),
            str(price - self.high),
            self.low_hour,
            sign_code(price - self.low),
            str(price - self.low),
            now.strftime("%Y%m%d"),
            "20",
            "N",
            str(self.ask_qty[0]),
            str(self.bid_qty[0]),
            str(sum(self.ask_qty)),
            str(sum(self.bid_qty)),
            _ratio(self.vol, spec.listed_shares),
            str(prev_same_time),
            _ratio(self.vol, prev_same_time),
            "0",
            "",
            str(self.open),
        ]

    def book(self, now: datetime) -> list[str]:
        rng = self.rng
        for side in (self.ask_qty, self.bid_qty):
            i = rng.randrange(10)
            side[i] = max(100, side[i] + rng.randint(-5_000, 5_000))
        asks, bids, a, b = [], [], self.ask, self.bid
        for _ in range(10):
            asks.append(a)
            bids.append(b)
            a += tick_size(a)
            b -= tick_size(b - 1)
        p0 = self.spec.prev_close
        return [
            self.spec.code,
            now.strftime("%H%M%S"),
            "0",
            *map(str, asks),
            *map(str, bids),
            *map(str, self.ask_qty),
            *map(str, self.bid_qty),
            str(sum(self.ask_qty)),
            str(sum(self.bid_qty)),
            "0",
            "0",
            "0",
            "0",
            str(rng.randint(1_000, 60_000)),
            str(-p0),
            "5",
            "-100.00",
            str(self.vol),
            str(rng.randint(-30_000, 30_000)),
            str(rng.randint(-30_000, 30_000)),
            "0",
            "0",
            "0",
        ]


def session_header(
    env: str,
    start: datetime,
    subs: list[tuple[str, str]],
    generator: dict[str, object],
    widths: dict[str, int],
    layout_day: date,
    notes: str,
) -> dict[str, object]:
    """A synthetic tape's session header; `notes` (ending in "record layouts of ") is followed by the layout
    day and the record widths the tape was written with."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "env": env,
        "start": start.isoformat(),
        "subscriptions": [list(s) for s in subs],
        "synthetic": True,
        "generator": generator | {"layout_day": layout_day.isoformat(), "widths": widths},
        "notes": notes
        + f"{layout_day.isoformat()}: "
        + ", ".join(f"{tr} {w} fields" for tr, w in widths.items())
        + " (fakekis/wire/layouts.py).",
    }


def subscribed(subs: list[tuple[str, str]], rng: random.Random) -> tuple[list[WsLine], float]:
    """A tape's opening: the connection, then each subscription 20 ms apart and its ack 10 ms later with
    an AES key and iv drawn from `rng`; returns the lines and the last subscription's time."""
    lines: list[WsLine] = [WsLine(0.0, event="open")]
    t = 0.0
    for i, (tr_id, key) in enumerate(subs):
        t = 0.05 + i * 0.02
        lines.append(WsLine(t, "send", _subscribe_text(tr_id, key)))
        iv = "".join(rng.choice("0123456789abcdef") for _ in range(16))
        k = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(32))
        ack = frames.control(tr_id, key, "0", "OPSP0000", "SUBSCRIBE SUCCESS", {"iv": iv, "key": k})
        lines.append(WsLine(t + 0.01, "recv", ack))
    return lines, t


def _subscribe_text(tr_id: str, tr_key: str) -> str:
    return json.dumps(
        {
            "header": {
                "approval_key": PLACEHOLDER_APPROVAL,
                "custtype": "P",
                "tr_type": "1",
                "content-type": "utf-8",
            },
            "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}},
        },
        separators=(",", ":"),
    )


def generate(
    start: datetime,
    minutes: float = 10.0,
    symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS,
    seed: int = 0,
    books: bool = True,
    env: str = "mock",
    ping_every: float = 20.0,
    batch_probability: float = 0.12,
    layout_day: date | None = None,
    venues: tuple[str, ...] | None = None,
) -> tuple[dict[str, object], list[WsLine]]:
    """A recording (session.json dict, ws.jsonl lines) of `minutes` of trading from `start` (KST aware),
    its records in the layouts of `layout_day` (default: start's day; fakekis/wire/layouts.py).

    `venues` (some of krx, nxt, unified) plays the market day instead, session by session, on those
    venues' TRs (tape/market_day.py; `books` and `batch_probability` do not apply). None, the default,
    is regular-session trading at every instant, as this generator always wrote it."""
    if venues is not None:
        from fakekis.tape.market_day import generate_day  # it builds on this module

        return generate_day(start, minutes, symbols, seed, venues, env, ping_every, layout_day)
    from fakekis.tape import synthday  # the one implementation, streamed; listed here

    session, lines = synthday.generate(
        start, minutes, symbols, seed, books, env, ping_every, batch_probability, layout_day
    )
    return session, list(lines)
