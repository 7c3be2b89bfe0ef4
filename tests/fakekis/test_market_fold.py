"""The market fold's batching (fakekis/exchange/market.py): frames wait per symbol and are folded together,
and a batch keeps only what folding them one by one would leave (every trade in its minute bar, the last
30 ticks, the last two books, the last expected trade, the last trade's day candle). The property: however
the frames are cut into batches (REST asking at any moments), the state is the same as folding each frame
as it comes, over two business days of trades, books, expected trades and multi-record frames."""

from __future__ import annotations

import functools
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from fakekis.exchange.market import MarketState
from fakekis.tape import synth
from fakekis.wire import frames
from kisclock import KST

Frame = tuple[str, str, int, str]  # tr_id, text, records, tr_key


@functools.cache
def two_days(seed: int) -> tuple[Frame, ...]:
    """A Wednesday of multi-record trade frames and books, then a Thursday's opening auction (expected
    trades) and first minutes on the market-day generator: a new business day mid-tape."""
    _, wed = synth.generate(
        datetime(2026, 11, 25, 9, 30, tzinfo=KST), minutes=2.0, seed=seed, batch_probability=0.4
    )
    _, thu = synth.generate(
        datetime(2026, 11, 26, 8, 59, 30, tzinfo=KST), minutes=4.0, seed=seed, venues=("krx",)
    )
    out: list[Frame] = []
    for lines in (wed, thu):
        for line in lines:
            if line.dir == "recv" and line.text and line.text[0] in "01":
                parts = frames.split_frame(line.text)
                assert parts is not None
                out.append((parts[1], line.text, int(parts[2]), parts[3].split("^", 1)[0]))
    return tuple(out)


def dump(market: MarketState) -> list[object]:
    """Everything a symbol's state holds, settled first."""
    out: list[object] = []
    for key in sorted(market.symbols):
        st = market.symbols[key]
        market.state(*key)  # settles
        minutes = {
            day: [(m, repr(bars._bars[m])) for m in bars._keys] for day, bars in sorted(st.minutes.items())
        }
        out.append(
            (key, st.prev_close, st.last, st.candle, minutes, list(st.recent), st.book, st.prev_book)
            + (st.expected, st.first_acml_vol, st.prev_volume, st.pending)
        )
    return out


def fold(tape: tuple[Frame, ...], asks: set[int]) -> MarketState:
    market = MarketState()
    for i, (tr_id, text, count, key) in enumerate(tape):
        market.apply(tr_id, text, count, key)
        if i in asks:
            market.state("J", key)  # REST asks about this symbol: its waiting frames are folded now
    return market


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2), asks=st.sets(st.integers(0, 3000), max_size=40))
def test_folding_in_batches_leaves_the_state_folding_frame_by_frame_leaves(seed: int, asks: set[int]) -> None:
    tape = two_days(seed)
    assert {f[0] for f in tape} >= {"H0STCNT0", "H0STASP0", "H0STANC0"} and any(f[2] > 1 for f in tape)
    one_by_one = fold(tape, set(range(len(tape))))
    assert dump(fold(tape, asks)) == dump(one_by_one)
    days = {d for st in one_by_one.symbols.values() for d in st.minutes}
    assert len(days) == 2  # the tape did cross into a second business day
