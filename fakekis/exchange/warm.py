"""The market state at a point of a tape, kept in its index so `serve --from T` starts REST where a replay
from the top would be at T (docs/recordings.md "The index").

`IndexFold` is what the index builder (tape/index.py) folds every data frame into: a `MarketState`, the
same fold the player feeds. At each market checkpoint it gives a text of two parts: every symbol's small
state per venue (previous close, last trade record, the last book and the one before it, the last expected
trade, the inquire-ccnl ring, the days it keeps), and only the minute bars that changed since the last
checkpoint. So a checkpoint is per-symbol state, never frames, and a day's bars are written about once
over all checkpoints.

`restore` reads into an empty `MarketState` the bars of every checkpoint up to the one wanted (later ones
win per minute) and the small state of that one; the caller then primes the symbols and folds the frames
from that checkpoint to T, which gives the state a fold from the top gives (tests/fakekis/test_warm.py
checks it for generated tapes and random T).

Each part is JSON, zlib-compressed, base64: an index is read whole at start, so a checkpoint should cost
little to carry when it is not the one asked for, and zlib's checksum refuses a damaged one.

Pure: frames in, text out; text in, state out.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
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
        """The checkpoint's text: the small state of every symbol, then (after a space) the minute bars
        changed since the last checkpoint. Restoring reads the bars of every checkpoint up to T but the
        small state of the last one only."""
        m = self.market
        for key in self._touched:
            m._settle(m.symbols[key])
        bars = []
        for key in sorted(self._touched):
            changed = {
                day: [_bar(b) for b in mb.take_touched()] for day, mb in m.symbols[key].minutes.items()
            }
            if any(changed.values()):
                bars.append([key[0], key[1], {day: rows for day, rows in changed.items() if rows}])
        self._touched = set()
        state = {
            "latest": m._latest,
            "symbols": [[v, c, _dump(st)] for (v, c), st in sorted(m.symbols.items())],
        }
        return f"{_pack(state)} {_pack(bars)}"


def _pack(doc: object) -> str:
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
    }


def _bar(b: Bar) -> list[int]:
    return [b.minute, b.open, b.high, b.low, b.close, b.volume, b.amount, b.acml_amount]


def _unpack(text: str) -> Any:
    try:
        return json.loads(zlib.decompress(base64.b64decode(text, validate=True)))
    except (binascii.Error, zlib.error, ValueError) as e:
        raise ValueError(f"unreadable market checkpoint ({e})") from None


def restore(market: MarketState, texts: list[str]) -> None:
    """Set an empty `market` to the state the checkpoints' texts (in index order, up to the one wanted)
    record: the minute bars of each, then the small state of the last; ValueError for a bad text."""
    if not texts:
        return
    try:
        for text in texts:
            for venue, code, days in _unpack(text.partition(" ")[2]):
                st = market._state(str(venue), str(code))
                for day, rows in days.items():
                    mb = st.minutes.get(day)
                    if mb is None:
                        mb = st.minutes[day] = MinuteBars(day)
                    for minute, o, h, lo, c, v, amount, acml in rows:  # ints as written (zlib checks)
                        mb.put(Bar(day, o, h, lo, c, v, amount, minute, acml))
        state = _unpack(texts[-1].partition(" ")[0])
        market._latest = str(state["latest"])
        for venue, code, d in state["symbols"]:
            _load(market._state(str(venue), str(code)), d)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"malformed market checkpoint ({e!r})") from None


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
    kept = [str(x) for x in d["days"]][-DAYS_KEPT:]  # as the fold keeps them (`DAYS_KEPT`)
    st.minutes = {day: st.minutes.get(day) or MinuteBars(day) for day in kept}
    for mb in st.minutes.values():
        mb.touched = set()
