"""`serve --from T` warm-up (exchange/warm.py, tape/index.py, tape/warmup.py): the market state restored
from the index's last market checkpoint before T, then folded over the frames from there to T, answers
every quotation route exactly as a fold from the top of the tape stopped at T does.

Catches a checkpoint that misses part of the state (the book before the last, the inquire-ccnl ring, a
minute bar changed in an earlier block, a day dropped), a checkpoint taken after the block's first frame
instead of before it, restore order (prime after restore) and the index choosing a checkpoint after T.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from fakekis import tape
from fakekis.exchange import quotations
from fakekis.exchange.market import MarketState
from fakekis.exchange.warm import IndexFold, restore
from fakekis.tape import synth
from fakekis.tape.format import TapeFrame, as_frame
from fakekis.tape.index import IndexBuilder
from fakekis.tape.stream import Tape
from fakekis.tape.warmup import warm_start
from kisclock import KST

DAY = datetime(2026, 11, 25, tzinfo=KST)  # a Wednesday


def _frames(lines: list[tape.WsLine]) -> list[TapeFrame]:
    out = []
    for no, ln in enumerate(lines, 1):
        f = as_frame(no, ln)
        if f is not None:
            out.append(f)
    return out


def _prime(market: MarketState, frames: list[TapeFrame]) -> None:
    """As the server primes: each symbol's first H0STCNT0 record (its previous close)."""
    first: dict[str, TapeFrame] = {}
    for f in frames:
        if f.tr_id == "H0STCNT0":
            first.setdefault(f.tr_key, f)
    for f in first.values():
        market.prime(f.text.split("|", 3)[3].split("^", 46)[:46])


def _answers(market: MarketState, symbols: list[str]) -> dict[str, Any]:
    """Every quotation route's answer for every symbol and venue, and the raw state behind them."""
    out: dict[str, Any] = {}
    day = market.now().strftime("%Y%m%d")
    queries = {
        "inquire-price": {},
        "inquire-asking-price-exp-ccn": {},
        "inquire-ccnl": {},
        "inquire-daily-price": {"FID_PERIOD_DIV_CODE": "D", "FID_ORG_ADJ_PRC": "0"},
        "inquire-daily-itemchartprice": {
            "FID_INPUT_DATE_1": "20260101",
            "FID_INPUT_DATE_2": day,
            "FID_PERIOD_DIV_CODE": "D",
            "FID_ORG_ADJ_PRC": "0",
        },
        "inquire-time-itemchartprice": {"FID_INPUT_HOUR_1": "235959", "FID_PW_DATA_INCU_YN": "Y"},
        "inquire-time-dailychartprice": {
            "FID_INPUT_HOUR_1": "235959",
            "FID_INPUT_DATE_1": day,
            "FID_PW_DATA_INCU_YN": "Y",
            "FID_FAKE_TICK_INCU_YN": "",
        },
    }
    routes = {r.path.rsplit("/", 1)[1]: r for r in quotations.ROUTES}
    for s in symbols:
        for v in quotations.VENUES:
            out[f"{v} {s} price"] = market.inquire_price(s, v)
            for name, q in queries.items():
                if name not in routes:
                    continue
                query = {"FID_COND_MRKT_DIV_CODE": v, "FID_INPUT_ISCD": s, **q}
                ask = quotations.Ask(query, "", "live", lambda c: c)
                out[f"{v} {s} {name}"] = quotations.answer(routes[name], market, ask).body
            state = market.state(v, s)
            if state is not None:
                out[f"{v} {s} state"] = (
                    state.prev_close,
                    state.last,
                    state.candle,
                    state.book,
                    state.prev_book,
                    state.expected,
                    list(state.recent),
                    state.first_acml_vol,
                    state.prev_volume,
                    {d: mb.upto(2400, 10_000) for d, mb in state.minutes.items()},
                )
    return out


def _from_top(frames: list[TapeFrame], at: float, now: float) -> MarketState:
    m = MarketState(now=lambda: now)
    _prime(m, frames)
    for f in frames:
        if f.t >= at:
            break
        m.apply(f.tr_id, f.text, f.records, f.tr_key)
    return m


Params = tuple[int, tuple[str, ...] | None, int, float, bool]  # seed, venues, start minute, minutes, books


def _tape(p: Params) -> tuple[list[TapeFrame], datetime]:
    seed, venues, at, minutes, books = p
    start = DAY + timedelta(minutes=at)
    specs = synth.DEFAULT_SYMBOLS[:2]
    _, lines = synth.generate(start, minutes, specs, seed, books, venues=venues)
    return _frames(lines), start


params = st.one_of(
    st.tuples(st.integers(0, 2**16), st.none(), st.integers(540, 920), st.floats(1.0, 4.0), st.booleans()),
    # auctions, NXT and unified venues, expected trades: every part of the state
    st.tuples(
        st.integers(0, 2**16),
        st.sampled_from([("krx",), ("krx", "nxt", "unified")]),
        st.sampled_from([505, 535, 895, 915]),
        st.floats(4.0, 9.0),
        st.just(True),
    ),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[
        Phase.explicit,
        Phase.generate,
    ],  # each example generates a tape: shrinking would outlast the timeout
)
@given(p=params, cuts=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6), at=st.floats(0.0, 1.05))
@example(p=(1, ("krx",), 535, 9.0, True), cuts=[0.2, 0.6, 0.7], at=0.9)  # expected trades end at 09:00
@example(p=(2, ("krx", "nxt", "unified"), 915, 8.0, True), cuts=[0.3, 0.5], at=1.0)  # the close, NX, UN
@example(p=(3, None, 600, 3.0, True), cuts=[0.1, 0.5, 0.9], at=0.95)
def test_warm_up_answers_as_a_fold_from_the_top(p: Params, cuts: list[float], at: float) -> None:
    frames, start = _tape(p)
    if not frames:
        return
    end = frames[-1].t
    # Blocks start at frames chosen by `cuts` (the first at the top, as every index has); a market
    # checkpoint is due at each (every=1), so the one before T is rarely the first.
    firsts = sorted({0} | {min(len(frames) - 1, int(c * len(frames))) for c in cuts})
    b = IndexBuilder(fold=IndexFold(every=1))
    for i, f in enumerate(frames):
        if i in firsts:
            b.block(i, f.line, f.t)
        b.line(f.t)
        b.frame(f)
    idx = b.finish("ws.jsonl", 0)
    t_at = at * end
    now = start.timestamp() + t_at
    block, states = idx.market_for(idx.block_for(t_at))
    first_line = idx.blocks[block][1]
    warm = MarketState(now=lambda: now)
    restore(warm, states)
    _prime(warm, frames)
    for f in frames:
        if f.line >= first_line and f.t < t_at:
            warm.apply(f.tr_id, f.text, f.records, f.tr_key)
    symbols = sorted({f.tr_key for f in frames})
    assert _answers(warm, symbols) == _answers(_from_top(frames, t_at, now), symbols)


# -- through files: generate writes the state, serve's warm-up reads it -----------------------------------


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zst tape of several blocks (4,096 lines each), market checkpoints every 1,500 frames."""
    session, lines = synth.generate(DAY + timedelta(hours=9, minutes=10), 22.0, seed=4)
    return tape.write(
        tmp_path_factory.mktemp("warm") / "t", session, lines, [], "ws.jsonl.zst", fold=IndexFold(1500)
    )


@pytest.mark.parametrize("minute", [3.0, 9.5, 15.25, 21.9])
def test_tape_warm_start_from_the_index_matches_the_top(indexed: Path, minute: float) -> None:
    rec = Tape.open(indexed)
    assert rec.index is not None and rec.index.market, "the writer kept market checkpoints"
    at = minute * 60
    warm = warm_start(rec, at)
    assert warm.indexed_state and (minute < 5 or not warm.from_top), "a checkpoint after the top is used"
    now = rec.start + at
    frames = list(Tape.open(indexed).frames())
    m = MarketState(now=lambda: now)
    restore(m, warm.states)
    _prime(m, frames)
    for f in warm.frames:
        m.apply(f.tr_id, f.text, f.records, f.tr_key)
    symbols = sorted({f.tr_key for f in frames})
    assert _answers(m, symbols) == _answers(_from_top(frames, at, now), symbols)


def test_an_index_without_market_state_warms_from_the_top(indexed: Path, tmp_path: Path) -> None:
    """An older index (no "market") still plays: the warm-up reads from the top, and says so."""
    import json
    import shutil

    old = tmp_path / "old"
    shutil.copytree(indexed, old)
    doc = json.loads((old / "ws.index.json").read_text())
    del doc["market"]
    (old / "ws.index.json").write_text(json.dumps(doc))
    warm = warm_start(Tape.open(old), 600.0)
    assert warm.from_top and not warm.indexed_state and warm.states == []
    assert all(f.t < 600.0 for f in warm.frames)


@pytest.mark.parametrize("minute", [9.5, 21.9])
def test_fakekis_window_start_warms_rest_as_a_replay_from_the_top(indexed: Path, minute: float) -> None:
    """The server's wiring: restore, then prime, then fold (priming first would leave a restored symbol
    that had only books without its previous close; folding from the checkpoint twice would double bars)."""
    from fakekis.serve.server import FakeKis
    from fakekis.tape.stream import Window

    at = minute * 60
    rec = Tape.open(indexed)
    kis = FakeKis(rec, window=Window(start=at))
    now = rec.start + at
    kis.market.now_fn = lambda: now
    frames = list(Tape.open(indexed).frames())
    symbols = sorted({f.tr_key for f in frames})
    assert _answers(kis.market, symbols) == _answers(_from_top(frames, at, now), symbols)


def test_fakekis_on_an_older_index_warms_from_the_top_and_says_so(
    indexed: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import json
    import logging
    import shutil

    from fakekis.serve.server import FakeKis
    from fakekis.tape.stream import Window

    old = tmp_path / "old"
    shutil.copytree(indexed, old)
    doc = json.loads((old / "ws.index.json").read_text())
    del doc["market"]
    (old / "ws.index.json").write_text(json.dumps(doc))
    at = 15.25 * 60
    with caplog.at_level(logging.INFO, logger="fakekis"):
        kis = FakeKis(Tape.open(old), window=Window(start=at))
    assert any(
        "no market state" in r.getMessage() and "fakekis index" in r.getMessage() for r in caplog.records
    )
    now = kis.recording.start + at  # type: ignore[union-attr]
    kis.market.now_fn = lambda: now
    frames = list(Tape.open(old).frames())
    symbols = sorted({f.tr_key for f in frames})
    assert _answers(kis.market, symbols) == _answers(_from_top(frames, at, now), symbols)


def test_rebuilding_the_index_gives_the_market_checkpoints_the_writer_wrote(indexed: Path) -> None:
    """`fakekis index` (Tape.build_index with the fold) gives the state `generate` wrote, checkpoint for
    checkpoint: the writer's and the reader's block boundaries and folds agree."""
    rec = Tape.open(indexed)
    assert rec.index is not None and rec.index.market is not None and len(rec.index.market) >= 2
    rebuilt = Tape.open(indexed, use_index=False).build_index(fold=IndexFold(1500))
    assert rebuilt.market == rec.index.market


def test_a_damaged_market_checkpoint_is_one_line_naming_the_index(indexed: Path, tmp_path: Path) -> None:
    import json
    import shutil

    from fakekis.serve.server import FakeKis
    from fakekis.tape.stream import Window

    bad = tmp_path / "bad"
    shutil.copytree(indexed, bad)
    doc = json.loads((bad / "ws.index.json").read_text())
    block, text = doc["market"][-1]
    doc["market"][-1] = [block, text[:40] + ("A" if text[40] != "A" else "B") + text[41:]]
    (bad / "ws.index.json").write_text(json.dumps(doc))
    with pytest.raises(tape.RecordingError) as e:
        FakeKis(Tape.open(bad), window=Window(start=21.9 * 60))
    assert "ws.index.json" in str(e.value) and "fakekis index" in str(e.value)
    assert "\n" not in str(e.value)
