"""The market state at a point of a tape, kept in its index so `serve --from T` starts REST where a replay
from the top would be at T (docs/recordings.md "The index").

`IndexFold` is what the index builder (tape/index.py) folds every data frame into: a `MarketState`, the
same fold the player feeds. At each market checkpoint it gives a blob: for each (venue, symbol) whose state
changed since the last checkpoint, its small state (previous close, last trade record, the last book and
the one before it, the last expected trade, the inquire-ccnl ring) and only the minute bars that changed.
So a checkpoint is per-symbol state, never frames, and the bars of a day are written about once over all
checkpoints.

`restore` replays the blobs up to a checkpoint into an empty `MarketState` (later blobs win per symbol,
bars per minute); the caller then primes the symbols and folds the frames from that checkpoint to T, which
gives the state a fold from the top gives (tests/fakekis/test_warm.py checks it for generated tapes).

A blob is JSON, zlib-compressed, base64 text: an index is read whole at start, so a checkpoint should
cost little to carry when it is not the one asked for.

Pure: frames in, text out; text in, state out.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterable
from typing import Any

from fakekis.exchange.candles import Bar, MinuteBars
from fakekis.exchange.market import DAYS_KEPT, FEEDS, MarketState, SymbolState, Tick, candle_of

STATE_EVERY = 16384  # data frames between market checkpoints: what `--from` folds at most after one


class IndexFold:
    """The market fold the index builder feeds (`tape.index.StateFold`)."""

    def __init__(self, every: int = STATE_EVERY) -> None:
        self.every = every
        self.market = MarketState()
        self._touched: set[tuple[str, str]] = set()

    def apply(self, tr_id: str, text: str, count: int, symbol: str) -> None:
        feed = FEEDS.get(tr_id)
        if feed is None or not count:
            return
        self.market.apply(tr_id, text, count, symbol)
        self._touched.add((feed[0], symbol))

    def checkpoint(self) -> str:
        """The blob of the state changed since the last checkpoint."""
        m = self.market
        out: list[list[Any]] = []
        for key in sorted(self._touched):
            st = m.symbols[key]
            m._settle(st)
            out.append([key[0], key[1], _dump(st)])
        self._touched = set()
        doc = {"latest": m._latest, "symbols": out}
        raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def _rec(rec: list[str] | None) -> str | None:
    return None if rec is None else "^".join(rec)


def _unrec(text: object) -> list[str] | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError(f"a record must be text (got {type(text).__name__})")
    return text.split("^")


def _dump(st: SymbolState) -> dict[str, Any]:
    bars = {day: [_bar(b) for b in mb.take_touched()] for day, mb in st.minutes.items()}
    return {
        "prev_close": st.prev_close,
        "last": _rec(st.last),
        "book": _rec(st.book),
        "prev_book": _rec(st.prev_book),
        "expected": _rec(st.expected),
        "first_acml_vol": st.first_acml_vol,
        "prev_volume": st.prev_volume,
        "recent": [[t.hhmmss, t.price, t.vrss, t.sign, t.ctrt, t.qty, t.strength] for t in st.recent],
        "days": sorted(st.minutes),
        "bars": {day: rows for day, rows in bars.items() if rows},
    }


def _bar(b: Bar) -> list[int]:
    return [b.minute, b.open, b.high, b.low, b.close, b.volume, b.amount, b.acml_amount]


def decode(blob: str) -> dict[str, Any]:
    """One checkpoint's document; ValueError when it is not one."""
    try:
        doc = json.loads(zlib.decompress(base64.b64decode(blob, validate=True)))
    except (binascii.Error, zlib.error, ValueError) as e:
        raise ValueError(f"unreadable market checkpoint ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("symbols"), list):
        raise ValueError('a market checkpoint must hold "symbols"')
    return doc


def restore(market: MarketState, blobs: Iterable[str]) -> None:
    """Set an empty `market` to the state the blobs (in index order) record; ValueError for a bad blob."""
    days: dict[tuple[str, str], list[str]] = {}
    for blob in blobs:
        doc = decode(blob)
        market._latest = max(market._latest, str(doc.get("latest", "")))
        for venue, code, d in doc["symbols"]:
            try:
                _load(market._state(str(venue), str(code)), d)
            except (KeyError, TypeError, IndexError) as e:
                raise ValueError(f"malformed market checkpoint for {venue} {code} ({e!r})") from None
            days[(venue, code)] = [str(x) for x in d["days"]]
    for key, kept in days.items():  # the days a symbol keeps (`DAYS_KEPT`), as its last checkpoint says
        st = market.symbols[key]
        st.minutes = {day: st.minutes.get(day) or MinuteBars(day) for day in kept[-DAYS_KEPT:]}


def _load(st: SymbolState, d: dict[str, Any]) -> None:
    st.prev_close = None if d["prev_close"] is None else int(d["prev_close"])
    st.last = _unrec(d["last"])
    st.book, st.prev_book = _unrec(d["book"]), _unrec(d["prev_book"])
    st.expected = _unrec(d["expected"])
    st.first_acml_vol, st.prev_volume = int(d["first_acml_vol"]), int(d["prev_volume"])
    st.recent.clear()
    st.recent.extend(Tick(*(str(x) for x in t)) for t in d["recent"])
    st.candle = None
    if st.last is not None:
        price = int(st.last[2])
        st.candle = candle_of(st.last, price)
    for day, rows in d["bars"].items():
        mb = st.minutes.get(day)
        if mb is None:
            mb = st.minutes[day] = MinuteBars(day)
        for r in rows:
            minute, o, h, lo, c, v, amount, acml = (int(x) for x in r)
            mb.put(Bar(day, o, h, lo, c, v, amount, minute, acml))
        mb.touched = set()
