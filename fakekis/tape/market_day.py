"""A market day on every venue (`fakekis generate --venues ...`): KRX and NXT sessions played from one
seeded price process per symbol, written on the TRs of each venue asked for.

| venue | TRs | when (tape/hours.py) |
|---|---|---|
| `krx` | `H0STCNT0` trades, `H0STASP0` books, `H0STANC0` expected trades, `H0STMKO0` market operation | auctions 08:30–09:00 and 15:20–15:30 (expected trades, books), continuous 09:00–15:20 (trades, books) |
| `nxt` | `H0NXCNT0` trades, `H0NXASP0` books | 08:00–08:50, 09:00–15:20, 15:30–20:00 |
| `unified` | `H0UNCNT0` trades, `H0UNASP0` books | whenever either venue trades or KRX is in an auction |

The market is the same whichever venues are written (the same seed gives the same KRX trades in a
KRX-only tape and in an all-venue one), so the streams agree with each other:

- every trade happens on one venue: in 09:00–15:20 on KRX with probability 3/4, else on NXT; it is a
  record on that venue's trade TR and on `H0UNCNT0`; `H0UNCNT0`'s `ACML_VOL` is KRX's plus NXT's;
- in an auction KRX does not trade: `H0STANC0` carries the expected price (`HOUR_CLS_CODE` `B` before the
  open, `A` before the close, `C` in a VI; docs/kis/endpoints.md §C2) and the expected volume
  (`ACML_TR_PBMN` = volume x price, as in the doc example), and the KRX book its `ANTC_*` fields; the
  auction ends in one print at the expected price and volume, `CCLD_DVSN` empty (kisreal-021);
- `H0STMKO0` (§C3) marks KRX's session changes for each symbol (08:30 `ANTC_MKOP_CLS_CODE` `311`,
  09:00 `MKOP_CLS_CODE` `112`, 15:20 `121`/`121`, 15:30 `129`/`129`) and a static VI for some symbols: a
  seeded two-minute single-price auction inside continuous trading, `VI_CLS_CODE` `Y` then `N`.

Simplifications, said so: one price process per symbol, so the three books show the same levels; the
mid-price blocks (`KMID_*`, `NMID_*`) are the mid with nothing resting; records are one per frame; no
halts (`TRHT_YN` stays `N`). Every trade record keeps the invariants of tape/synth.py.

Why over 300 lines: the schedule of one day's events and what each does to the venues' streams read as
one loop; split, the reader would have to hold the phases of both venues across two files.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from fakekis.tape import hours
from fakekis.tape.format import WsLine
from fakekis.tape.synth import (
    DEFAULT_SYMBOLS,
    MAX_MINUTES,
    SymbolSpec,
    _ratio,
    _Tape,
    session_header,
    sign_code,
    subscribed,
)
from fakekis.wire import frames, layouts
from kisclock import KST

VENUE_TRS: dict[str, tuple[str, ...]] = {
    "krx": ("H0STCNT0", "H0STASP0", "H0STANC0", "H0STMKO0"),
    "nxt": ("H0NXCNT0", "H0NXASP0"),
    "unified": ("H0UNCNT0", "H0UNASP0"),
}
VENUES = tuple(VENUE_TRS)
KRX_SHARE = 0.75  # of the trades while both venues are open
VI_CHANCE = 0.5  # of the symbols get one static VI
VI_SECONDS = 120.0
BOOKS_PER_SECOND = 0.7
AUCTION_DRIFT = 0.1  # chance that an order joining an auction moves the expected price
# KRX's session changes on H0STMKO0: wall time -> (MKOP_CLS_CODE, ANTC_MKOP_CLS_CODE) (§C3 code table).
SESSION_CHANGES = {
    time(8, 30): ("", "311"),
    time(9, 0): ("112", ""),
    time(15, 20): ("121", "121"),
    time(15, 30): ("129", "129"),
}
AUCTION_ENDS = (time(9, 0), time(15, 30))
HOUR_CLS = {"open-auction": "B", "close-auction": "A", "vi": "C"}


def parse_venues(text: str) -> tuple[str, ...]:
    """`krx,nxt,unified` or `all` -> the venues, in table order. ValueError names the allowed values."""
    asked = {v.strip() for v in text.split(",") if v.strip()}
    if asked == {"all"}:
        return VENUES
    if not asked or not asked <= set(VENUES):
        raise ValueError(f"{text!r} is not a comma list of {', '.join(VENUES)} (or all)")
    return tuple(v for v in VENUES if v in asked)


@dataclass
class _Symbol:
    spec: SymbolSpec
    unified: _Tape  # draws the trades: the market
    krx: _Tape  # follows it for KRX's trades
    nxt: _Tape  # and for NXT's
    vi: tuple[float, float] | None = None
    auction_price: int = 0
    auction_vol: int = 0


def _extend(lay: layouts.Layout, base: list[str], extra: dict[str, str]) -> list[str]:
    """A record in the oldest era's columns, extended by name to `lay`'s."""
    return base + [extra[n] for n in lay.names[len(base) :]]


class _Writer:
    """Builds one record of each TR in the layouts of one day."""

    def __init__(self, day: date) -> None:
        self.lay = {tr: layouts.layout(tr, day) for trs in VENUE_TRS.values() for tr in trs}

    def trade(self, tr_id: str, record: list[str], cls: str) -> list[str]:
        return _extend(self.lay[tr_id], record, {layouts.MARKET_CLS_CODE: cls})

    def book(self, tr_id: str, base: list[str], cls: str, exch: str) -> list[str]:
        mid = str((int(base[3]) + int(base[13])) // 2)  # ASKP1, BIDP1
        extra = {"KMID_PRC": mid, "NMID_PRC": mid, layouts.MARKET_CLS_CODE: cls}
        extra |= {"KMID_TOTAL_RSQN": "0", "KMID_CLS_CODE": "0", "NMID_TOTAL_RSQN": "0", "NMID_CLS_CODE": "0"}
        return _extend(self.lay[tr_id], list(base), extra | {layouts.ANTC_EXCH_CLS_CODE: exch})

    def expected(self, s: _Symbol, now: datetime, qty: int, why: str) -> list[str]:
        """An H0STANC0 record: the auction's expected price and volume (§C2)."""
        t, p0, price, vol = s.krx, s.spec.prev_close, s.auction_price, s.auction_vol
        change = price - p0
        opening = why == "open-auction"
        v = {
            "MKSC_SHRN_ISCD": s.spec.code,
            "STCK_CNTG_HOUR": now.strftime("%H%M%S"),
            "STCK_PRPR": str(price),
            "PRDY_VRSS_SIGN": sign_code(change),
            "PRDY_VRSS": str(change),
            "PRDY_CTRT": _ratio(change, p0),
            "WGHN_AVRG_STCK_PRC": "0.00" if opening or not t.vol else f"{t.pbmn / t.vol:.2f}",
            "ASKP1": str(price + (t.ask - t.bid)),
            "BIDP1": str(price),
            "CNTG_VOL": str(qty),
            "ACML_VOL": str(vol),
            "ACML_TR_PBMN": str(vol * price),
            "CNTG_CLS_CODE": "1",
            "BSOP_DATE": now.strftime("%Y%m%d"),
            "NEW_MKOP_CLS_CODE": "00" if opening else "20",
            "TRHT_YN": "N",
            "ASKP_RSQN1": str(t.ask_qty[0]),
            "BIDP_RSQN1": str(t.bid_qty[0]),
            "TOTAL_ASKP_RSQN": str(sum(t.ask_qty)),
            "TOTAL_BIDP_RSQN": str(sum(t.bid_qty)),
            "HOUR_CLS_CODE": HOUR_CLS[why],
            "MRKT_TRTM_CLS_CODE": "",
            "DUMMY": "",
        }
        v["STCK_OPRC"] = "0" if opening else str(t.open)
        v["STCK_HGPR"] = "0" if opening else str(t.high)
        v["STCK_LWPR"] = "0" if opening else str(t.low)
        for name in ("OPRC_HOUR", "HGPR_HOUR", "LWPR_HOUR"):  # 000000 in the doc examples
            v[name] = "000000"
        ratio = ("RATE", "CTRT", "TNRT", "CTTR")
        return [v.get(n, "0.00" if n.endswith(ratio) else "0") for n in self.lay["H0STANC0"].names]


def _mko(code: str, mkop: str, antc: str, vi: str) -> list[str]:
    """An H0STMKO0 record: 10 fields, code first, `(null)` suspension reason (kisreal-077)."""
    return [code, "N", "(null)", mkop, antc, "", "", "55", vi, "N"]


def _auction_book(base: list[str], s: _Symbol, why: str) -> list[str]:
    rec = list(base)
    p0, price = s.spec.prev_close, s.auction_price or s.unified.bid
    rec[2] = HOUR_CLS[why]
    vol, diff = str(s.auction_vol), price - p0
    rec[47:53] = [str(price), vol, vol, str(diff), sign_code(diff), _ratio(diff, p0)]  # ANTC_* (§5.2)
    return rec


def _at(start: datetime, day: date, wall: time) -> float:
    """Seconds from `start` to `wall` KST on `day`."""
    return (datetime.combine(day, wall, KST) - start).total_seconds()


def generate_day(
    start: datetime,
    minutes: float = 10.0,
    symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS,
    seed: int = 0,
    venues: tuple[str, ...] = VENUES,
    env: str = "live",
    ping_every: float = 20.0,
    layout_day: date | None = None,
) -> tuple[dict[str, object], list[WsLine]]:
    """A recording (session.json dict, ws.jsonl lines) of `minutes` of the market day from `start` (KST
    aware) on `venues`, in the layouts of `layout_day` (default: start's day). Mock serves none of the NXT,
    unified, expected-trade or market-operation TRs (fakekis/exchange/trs.py), so `env` is live by default."""
    if start.tzinfo is None:
        raise ValueError("start must carry a UTC offset")
    if not 0 < minutes <= MAX_MINUTES:  # False for NaN too
        raise ValueError(f"minutes must be more than 0 and at most {MAX_MINUTES} (got {minutes!r})")
    if not symbols:
        raise ValueError("at least one symbol")
    unknown = set(venues) - set(VENUES)
    if not venues or unknown:
        raise ValueError(f"venues must be some of {', '.join(VENUES)} (got {', '.join(venues) or 'none'})")
    start = start.astimezone(KST)
    writer = _Writer(layout_day or start.date())
    wanted = {tr for v in venues for tr in VENUE_TRS[v]}
    rng = random.Random(seed)
    duration = minutes * 60.0
    subs = [(tr, s.code) for v in VENUES if v in venues for tr in VENUE_TRS[v] for s in symbols]
    syms: dict[str, _Symbol] = {}
    for spec in symbols:
        made = [_Tape(spec, random.Random(rng.getrandbits(64)), start) for _ in range(3)]
        for one in made:
            one.fresh()
        syms[spec.code] = _Symbol(spec, made[0], made[1], made[2])

    acks = random.Random(seed ^ 0x41434B53)  # "ACKS": the market must not depend on what is subscribed
    lines, _ = subscribed(subs, acks)
    # The market starts after the acks of every venue's subscriptions, so its timeline is the same
    # whichever venues are written.
    first = 0.05 + sum(map(len, VENUE_TRS.values())) * len(symbols) * 0.02 + 0.1

    events: list[tuple[float, int, str, str, str]] = []  # (t, order, kind, code, detail)

    def add(at: float, kind: str, code: str, detail: str = "") -> None:
        # On the millisecond the line will carry: a trade drawn at 19:59:59.9996 and judged by the unrounded
        # time was written at 20:00:00.000, after NXT's close (Hypothesis found it at the 19:58 start).
        at = round(at, 3)
        if first <= at < duration:
            events.append((at, len(events), kind, code, detail))

    days = (start.date(), start.date() + timedelta(days=1))
    for day in days:  # boundaries first: at 09:00 the opening print precedes the first trade
        for wall in AUCTION_ENDS:
            for s in symbols:
                add(_at(start, day, wall), "print", s.code, "auction")
        for wall in SESSION_CHANGES:
            for s in symbols:
                add(_at(start, day, wall), "mko", s.code, wall.isoformat())
    for s in symbols:
        sym = syms[s.code]
        for day in days:  # one static VI for some symbols, inside continuous trading
            a, b = hours.KRX["continuous"]
            lo, hi = max(first, _at(start, day, a)) + 30, min(duration, _at(start, day, b)) - VI_SECONDS - 30
            if rng.random() < VI_CHANCE and lo < hi and sym.vi is None:
                at = rng.uniform(lo, hi)
                sym.vi = (at, at + VI_SECONDS)
                add(at, "vi", s.code, "Y")
                add(at + VI_SECONDS, "print", s.code, "vi")
                add(at + VI_SECONDS, "vi", s.code, "N")
        at = first + rng.expovariate(s.trades_per_second)
        while at < duration:
            add(at, "trade", s.code)
            at += rng.expovariate(s.trades_per_second)
        at = first + rng.uniform(0, 1.5)
        while at < duration:
            add(at, "book", s.code)
            at += rng.expovariate(BOOKS_PER_SECOND)
    at = ping_every
    while at < duration:
        add(at, "ping", "")
        at += ping_every
    events.sort()

    def emit(at: float, tr_id: str, record: list[str]) -> None:
        if tr_id in wanted:
            lines.append(WsLine(round(at, 3), "recv", frames.data_frame(tr_id, [record])))

    for at, _, kind, code, detail in events:
        now = start + timedelta(seconds=at)
        if kind == "ping":
            lines.append(WsLine(round(at, 3), "recv", frames.pingpong(now.strftime("%Y%m%d%H%M%S"))))
            continue
        sym = syms[code]
        krx, nxt = hours.krx_phase(now.time()), hours.nxt_phase(now.time())
        in_vi = sym.vi is not None and sym.vi[0] <= at < sym.vi[1]
        auction = "vi" if krx == "continuous" and in_vi else krx if krx in hours.AUCTIONS else None
        if kind == "mko":
            emit(at, "H0STMKO0", _mko(code, *SESSION_CHANGES[time.fromisoformat(detail)], "N"))
        elif kind == "vi":
            emit(at, "H0STMKO0", _mko(code, "", "", detail))
        elif kind == "print":
            if sym.auction_vol:  # the auction's single price, all its volume at once
                forced = (sym.auction_price, False, sym.auction_vol)
                cls = "5" if detail == "auction" and now.time() >= hours.KRX["close-auction"][0] else "2"
                for tr_id, tape in (("H0UNCNT0", sym.unified), ("H0STCNT0", sym.krx)):
                    rec = tape.trade(now, forced)
                    rec[21] = ""  # CCLD_DVSN: empty on the auction print (kisreal-021)
                    emit(at, tr_id, writer.trade(tr_id, rec, cls))
                sym.auction_vol = 0
        elif kind == "trade":
            venue = "krx" if krx == "continuous" and not in_vi else None
            if venue and nxt:
                venue = "krx" if rng.random() < KRX_SHARE else "nxt"
            elif nxt and not (auction and rng.random() < 0.5):
                venue = "nxt"
            if venue is None and auction:
                qty = rng.randint(1, 60)  # orders joining the auction; the indicative price moves less
                if rng.random() < AUCTION_DRIFT:
                    sym.unified.drift()
                sym.auction_price, sym.auction_vol = sym.unified.bid, sym.auction_vol + qty
                emit(at, "H0STANC0", writer.expected(sym, now, qty, auction))
            elif venue is not None:
                phase = krx if venue == "krx" else nxt
                cls = hours.MARKET_CLS[phase or "main"]
                emit(at, "H0UNCNT0", writer.trade("H0UNCNT0", sym.unified.trade(now), cls))
                tr_id, tape = ("H0STCNT0", sym.krx) if venue == "krx" else ("H0NXCNT0", sym.nxt)
                emit(at, tr_id, writer.trade(tr_id, tape.trade(now, sym.unified.last), cls))
        elif krx or nxt:  # a book, on the venues that are open
            base = sym.unified.book(now)
            if krx:
                book = _auction_book(base, sym, auction) if auction else base
                emit(at, "H0STASP0", writer.book("H0STASP0", book, hours.MARKET_CLS.get(krx, "2"), "1"))
            if nxt:
                emit(at, "H0NXASP0", writer.book("H0NXASP0", base, hours.MARKET_CLS[nxt], "2"))
            both = _auction_book(base, sym, auction) if auction else base
            emit(
                at,
                "H0UNASP0",
                writer.book("H0UNASP0", both, hours.MARKET_CLS[nxt or "main"], "1" if auction else "2"),
            )
    end = max(round(duration, 3), lines[-1].t)
    lines.append(WsLine(end, event="close", code=1000, reason="recording ended"))

    widths = {tr: writer.lay[tr].width for tr, _ in dict.fromkeys(subs)}
    session = session_header(
        env,
        start,
        subs,
        {"tool": "fakekis generate", "seed": seed, "minutes": minutes, "venues": list(venues)},
        widths,
        layout_day or start.date(),
        "Synthetic market day from fakekis's seeded generator (fakekis/tape/market_day.py): "
        f"venues {', '.join(venues)}; record layouts of ",
    )
    return session, lines
