"""Synthetic sessions keep the arithmetic a real KIS frame keeps (docs/kis/protocol.md §5.1), for any seed,
and the bundled recording is one of them. The checks read frames with the gateway's decoder, so the
generator and the decoder are held to the same real-world layout from opposite sides."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakekis import tape
from fakekis.tape import synth
from fakekis.tape.inspect import inspect_recording
from fakekis.wire import layouts
from gateway import codec
from kisclock import KST

SIGNS = {1: "2", 0: "3", -1: "5"}


def _sgn(x: int) -> int:
    return (x > 0) - (x < 0)


def _close(text: str, value: Decimal) -> bool:
    return abs(Decimal(text) - value) <= Decimal("0.01")


def check_trade(r: dict[str, str]) -> None:
    price, change = int(r["STCK_PRPR"]), int(r["PRDY_VRSS"])
    vol, pbmn = int(r["ACML_VOL"]), int(r["ACML_TR_PBMN"])
    assert _close(r["WGHN_AVRG_STCK_PRC"], Decimal(pbmn) / vol)
    assert int(r["NTBY_CNTG_CSNU"]) == int(r["SHNU_CNTG_CSNU"]) - int(r["SELN_CNTG_CSNU"])
    assert _close(r["CTTR"], Decimal(int(r["SHNU_CNTG_SMTN"])) * 100 / int(r["SELN_CNTG_SMTN"]))
    assert _close(r["PRDY_CTRT"], Decimal(change) * 100 / (price - change))
    assert r["PRDY_VRSS_SIGN"] in ("1", "4") or r["PRDY_VRSS_SIGN"] == SIGNS[_sgn(change)]
    for base, diff, sign in (
        ("STCK_OPRC", "OPRC_VRSS_PRPR", "OPRC_VRSS_PRPR_SIGN"),
        ("STCK_HGPR", "HGPR_VRSS_PRPR", "HGPR_VRSS_PRPR_SIGN"),
        ("STCK_LWPR", "LWPR_VRSS_PRPR", "LWPR_VRSS_PRPR_SIGN"),
    ):
        assert int(r[diff]) == price - int(r[base]) and r[sign] == SIGNS[_sgn(int(r[diff]))]
    assert int(r["STCK_LWPR"]) <= price <= int(r["STCK_HGPR"])
    assert int(r["SELN_CNTG_SMTN"]) + int(r["SHNU_CNTG_SMTN"]) == vol
    assert price in (int(r["ASKP1"]), int(r["BIDP1"]))
    assert r["CCLD_DVSN"] == ("1" if price == int(r["ASKP1"]) else "5")
    assert r.get("MARKET_CLS_CODE", "2") == "2"  # regular session, as NEW_MKOP_CLS_CODE 20 says


def check_book(r: dict[str, str]) -> None:
    asks = [int(r[f"ASKP{i}"]) for i in range(1, 11)]
    bids = [int(r[f"BIDP{i}"]) for i in range(1, 11)]
    assert asks == sorted(asks) and len(set(asks)) == 10
    assert bids == sorted(bids, reverse=True) and len(set(bids)) == 10 and bids[0] < asks[0]
    assert int(r["TOTAL_ASKP_RSQN"]) == sum(int(r[f"ASKP_RSQN{i}"]) for i in range(1, 11))
    assert int(r["TOTAL_BIDP_RSQN"]) == sum(int(r[f"BIDP_RSQN{i}"]) for i in range(1, 11))
    if "KMID_PRC" in r:  # 2025 layout on: the mid of the best quotes, as in every real 62-field book
        assert int(r["KMID_PRC"]) == (asks[0] + bids[0]) // 2
        assert (r["KMID_TOTAL_RSQN"] == "0") == (r["KMID_CLS_CODE"] == "0") and r["KMID_CLS_CODE"] in "012"
    assert r.get("MARKET_CLS_CODE", "2") == "2"


def check_session(lines: list[tape.WsLine], day: date) -> tuple[int, int]:
    """Every record keeps the invariants and is exactly as wide as KIS's layout of `day`."""
    last_vol: dict[str, int] = {}
    multi = books = 0
    for ln in lines:
        if ln.dir != "recv" or not ln.text or not ln.text.startswith("0|"):
            continue
        ev = codec.decode(ln.text)
        assert isinstance(ev, codec.Frame) and ev.error is None
        if ev.tr_id == "H0STASP0":
            assert ev.width == layouts.layout("H0STASP0", day).width
            check_book(ev.named(0))
            books += 1
            continue
        assert ev.width == layouts.layout("H0STCNT0", day).width
        multi += ev.count > 1
        for i in range(ev.count):
            r = ev.named(i)
            check_trade(r)
            code = r["MKSC_SHRN_ISCD"]
            if code in last_vol:  # volume grows by each trade's quantity, across and inside frames
                assert int(r["ACML_VOL"]) == last_vol[code] + int(r["CNTG_VOL"])
            last_vol[code] = int(r["ACML_VOL"])
    return multi, books


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32), minutes=st.floats(0.2, 2.0), books=st.booleans())
def test_any_seed_keeps_the_invariants(seed: int, minutes: float, books: bool) -> None:
    session, lines = synth.generate(
        datetime(2026, 11, 25, 10, 0, tzinfo=KST), minutes, seed=seed, books=books
    )
    assert session["synthetic"] is True
    check_session(lines, date(2026, 11, 25))


def test_same_seed_same_session() -> None:
    start = datetime(2026, 11, 25, 10, 0, tzinfo=KST)
    assert synth.generate(start, 0.5, seed=3)[1] == synth.generate(start, 0.5, seed=3)[1]
    assert synth.generate(start, 0.5, seed=3)[1] != synth.generate(start, 0.5, seed=4)[1]


@pytest.mark.parametrize(
    ("name", "widths"),
    [
        ("healthy-morning-synthetic", {"H0STCNT0": 47, "H0STASP0": 63}),  # today's layouts
        ("healthy-morning-synthetic-2026-08", {"H0STCNT0": 46, "H0STASP0": 62}),  # before September 2026
    ],
)
def test_bundled_recordings_are_healthy_in_their_layouts(name: str, widths: dict[str, int]) -> None:
    rec = tape.load(tape.bundled(name))
    assert rec.synthetic and rec.env in ("mock", "live")
    start = datetime.fromtimestamp(rec.start, KST)
    assert start.weekday() < 5 and (9, 0) <= (start.hour, start.minute) and rec.duration >= 600
    assert (start.timestamp() + rec.duration) <= start.replace(hour=15, minute=30).timestamp()
    symbols = {key for tr, key in rec.subscriptions if tr == "H0STCNT0"}
    assert len(symbols) >= 3
    assert {tr: layouts.layout(tr, start.date()).width for tr in widths} == widths
    multi, books = check_session(rec.lines, start.date())
    assert multi > 0 and books > 0
    counts = {"H0STCNT0": 3160, "H0STASP0": 1226}  # frames per TR: the same seed in both recordings
    assert inspect_recording(rec)["record_widths"] == {tr: {w: counts[tr]} for tr, w in widths.items()}


def test_tick_sizes_and_limits() -> None:
    assert [synth.tick_size(p) for p in (1_999, 2_000, 4_995, 19_990, 49_950, 71_000, 250_000, 600_000)] == [
        1,
        5,
        5,
        10,
        50,
        100,
        500,
        1_000,
    ]
    assert synth.limit_prices(71_000) == (92_300, 49_700)  # the 005930 example in docs/kis/protocol.md §9.2


@settings(max_examples=20, deadline=None)
@given(
    minutes=st.floats(min_value=1e-6, max_value=0.05),
    n=st.integers(1, 30),
    books=st.booleans(),
    # From 1990-01-02: 1990-01-01 00:00 KST is still 1989 in UTC, before the format's range (START_RANGE).
    start=st.datetimes(datetime(1990, 1, 2), datetime(2099, 12, 30), timezones=st.just(KST)),
)
def test_every_accepted_length_writes_a_loadable_recording(
    tmp_path_factory: pytest.TempPathFactory, minutes: float, n: int, books: bool, start: datetime
) -> None:
    """Issue #12: a short session with many symbols put the close event before its own subscriptions,
    and the recording `generate` had just written failed to load."""
    specs = tuple(synth.SymbolSpec(f"{i:06d}", 10_000, 0.8, 100_000_000, 1_000_000) for i in range(1, n + 1))
    session, lines = synth.generate(start, minutes, specs, seed=1, books=books)
    root = tape.write(tmp_path_factory.mktemp("gen") / "rec", session, lines)
    rec = tape.load(root)
    assert rec.lines[-1].event == "close" and len(rec.subscriptions) == n * (2 if books else 1)


@pytest.mark.parametrize("minutes", [0.0, -5.0, math.nan, math.inf, synth.MAX_MINUTES + 1])
def test_lengths_that_cannot_be_generated(minutes: float) -> None:
    with pytest.raises(ValueError, match="minutes must be more than 0"):
        synth.generate(datetime(2026, 11, 25, 10, 0, tzinfo=KST), minutes)
