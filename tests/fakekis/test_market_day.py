"""A market-day tape (fakekis/tape/market_day.py): each venue's TRs carry data only in that venue's
sessions, the streams agree with each other, and every record is as wide as KIS's layout of the day.

What it catches: a KRX trade in an auction or after 15:30, an NXT trade in its 08:50-09:00 pause, an
expected trade outside the auctions, a unified volume that is not KRX's plus NXT's, an opening print at
another price than the auction's last expected one, a MARKET_CLS_CODE that disagrees with the hours, a
market that changes when fewer venues are written, and the default generator changing its output.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from fakekis import tape
from fakekis.tape import market_day, synth
from fakekis.wire import layouts
from gateway import codec
from kisclock import KST

DAY = datetime(2026, 11, 25, tzinfo=KST)  # a Wednesday, layouts of 2026-09 on (47-field trades)
SPECS = synth.DEFAULT_SYMBOLS[:2]


def _records(lines: list[tape.WsLine], start: datetime) -> list[tuple[time, str, dict[str, str]]]:
    out = []
    for ln in lines:
        if ln.dir == "recv" and ln.text and ln.text.startswith("0|"):
            ev = codec.decode(ln.text)
            assert isinstance(ev, codec.Frame) and ev.error is None and ev.count == 1
            assert ev.width == layouts.layout(ev.tr_id, start.date()).width, ev.tr_id
            out.append(((start + timedelta(seconds=ln.t)).time(), ev.tr_id, ev.named(0)))
    return out


def _in(at: time, a: tuple[int, int], b: tuple[int, int]) -> bool:
    return time(*a) <= at < time(*b)


def _check_trade(r: dict[str, str]) -> None:
    price, vol = int(r["STCK_PRPR"]), int(r["ACML_VOL"])
    assert abs(Decimal(r["WGHN_AVRG_STCK_PRC"]) - Decimal(int(r["ACML_TR_PBMN"])) / vol) <= Decimal("0.01")
    assert int(r["STCK_LWPR"]) <= price <= int(r["STCK_HGPR"])
    assert int(r["SELN_CNTG_SMTN"]) + int(r["SHNU_CNTG_SMTN"]) == vol
    assert int(r["OPRC_VRSS_PRPR"]) == price - int(r["STCK_OPRC"])


# Every boundary of both venues' days, each crossed a minute or two after the start.
NO_EXPLAIN = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)  # explain traces: minutes
STARTS = [(7, 58), (8, 28), (8, 48), (8, 58), (9, 10), (15, 18), (15, 28), (19, 58)]


@pytest.mark.parametrize("start", STARTS, ids=lambda s: f"{s[0]:02d}{s[1]:02d}")
@settings(max_examples=3, deadline=None, phases=NO_EXPLAIN)
@given(seed=st.integers(0, 2**32), minutes=st.floats(3, 5))
def test_each_venue_speaks_only_in_its_sessions_and_the_streams_agree(
    start: tuple[int, int], seed: int, minutes: float
) -> None:
    begin = DAY.replace(hour=start[0], minute=start[1])
    _, lines = market_day.generate_day(begin, minutes, SPECS, seed)
    vols: dict[tuple[str, str], int] = {}
    last_expected: dict[str, int] = {}
    for at, tr, r in _records(lines, begin):
        code = r["MKSC_SHRN_ISCD"]
        if tr in ("H0STCNT0", "H0NXCNT0", "H0UNCNT0"):
            _check_trade(r)
            vols[(tr, code)] = int(r["ACML_VOL"])
            krx, nxt = vols.get(("H0STCNT0", code), 0), vols.get(("H0NXCNT0", code), 0)
            if tr != "H0UNCNT0" and ("H0UNCNT0", code) in vols:
                assert vols[("H0UNCNT0", code)] == krx + nxt  # the unified trade came first, same instant
        if tr == "H0STCNT0":
            if r["CCLD_DVSN"] == "":  # an auction's print: the last expected price, all its volume
                assert int(r["STCK_PRPR"]) == last_expected.pop(code)
            else:
                assert _in(at, (9, 0), (15, 20)) and r["MARKET_CLS_CODE"] == "2"
        elif tr == "H0NXCNT0":
            assert _in(at, (8, 0), (8, 50)) or _in(at, (9, 0), (15, 20)) or _in(at, (15, 30), (20, 0))
            assert r["MARKET_CLS_CODE"] == ("1" if at < time(8, 50) else "3" if at >= time(15, 30) else "2")
        elif tr == "H0STANC0":
            hour = r["HOUR_CLS_CODE"]
            want = "B" if _in(at, (8, 30), (9, 0)) else "A" if _in(at, (15, 20), (15, 30)) else "C"
            assert hour == want and int(r["ACML_TR_PBMN"]) == int(r["ACML_VOL"]) * int(r["STCK_PRPR"])
            last_expected[code] = int(r["STCK_PRPR"])
        elif tr in ("H0STASP0", "H0NXASP0", "H0UNASP0"):
            asks = [int(r[f"ASKP{i}"]) for i in range(1, 11)]
            bids = [int(r[f"BIDP{i}"]) for i in range(1, 11)]
            assert asks == sorted(asks) and bids == sorted(bids, reverse=True) and bids[0] < asks[0]
            assert int(r["TOTAL_ASKP_RSQN"]) == sum(int(r[f"ASKP_RSQN{i}"]) for i in range(1, 11))
            if tr == "H0STASP0":
                assert _in(at, (8, 30), (15, 30))
        elif tr == "H0STMKO0":
            assert len(r) == 10 and r["TR_SUSP_REAS_CNTT"] == "(null)" and r["VI_CLS_CODE"] in "YN"


def test_a_full_auction_opens_at_its_expected_price_and_mko_marks_the_sessions() -> None:
    begin = DAY.replace(hour=8, minute=28)
    _, lines = market_day.generate_day(begin, 4, SPECS[:1], 3)
    recs = _records(lines, begin)
    mko = [(at, r["MKOP_CLS_CODE"], r["ANTC_MKOP_CLS_CODE"]) for at, tr, r in recs if tr == "H0STMKO0"]
    assert mko == [(time(8, 30), "", "311")]
    assert {tr for at, tr, _ in recs if at < time(8, 30)} == {"H0NXCNT0", "H0UNCNT0", "H0NXASP0", "H0UNASP0"}
    assert "H0STANC0" in {tr for at, tr, _ in recs if at >= time(8, 30)}
    begin = DAY.replace(hour=8, minute=58)
    recs = _records(market_day.generate_day(begin, 4, SPECS[:1], 3)[1], begin)
    expected = [r for at, tr, r in recs if tr == "H0STANC0"]
    first_trade = next(r for at, tr, r in recs if tr == "H0STCNT0")
    assert first_trade["STCK_CNTG_HOUR"] == "090000" and first_trade["CCLD_DVSN"] == ""
    assert first_trade["STCK_PRPR"] == expected[-1]["STCK_PRPR"]
    assert first_trade["CNTG_VOL"] == expected[-1]["ACML_VOL"]  # the whole auction in one print


def test_fewer_venues_is_the_same_market() -> None:
    begin = DAY.replace(hour=9, minute=0)
    _, every = market_day.generate_day(begin, 3, SPECS, 5)
    _, krx = market_day.generate_day(begin, 3, SPECS, 5, venues=("krx",))
    data = [ln.text for ln in every if ln.text and ln.text.startswith("0|H0ST")]
    assert data and data == [ln.text for ln in krx if ln.text and ln.text.startswith("0|")]


def test_a_market_day_tape_is_a_valid_recording(tmp_path: Path) -> None:
    session, lines = synth.generate(DAY.replace(hour=19), 2, SPECS, 1, env="live", venues=("unified",))
    tape.write(tmp_path / "r", session, lines)
    rec, problems = tape.check(tmp_path / "r")
    assert problems == [] and rec is not None and rec.env == "live"
    assert {f.tr_id for f in rec.data_frames()} == {"H0UNCNT0", "H0UNASP0"}
    assert sorted({tr for tr, _ in rec.subscriptions}) == ["H0UNASP0", "H0UNCNT0"]


def test_venue_lists() -> None:
    assert market_day.parse_venues("all") == market_day.VENUES
    assert market_day.parse_venues("unified, krx") == ("krx", "unified")
    for bad in ("", "krx,bogus", "KRX"):
        try:
            market_day.parse_venues(bad)
        except ValueError as e:
            assert "krx, nxt, unified" in str(e)
        else:
            raise AssertionError(bad)


def test_the_default_generator_output_is_unchanged() -> None:
    """The market day is opt-in: the default tape (and the bundled recordings made with it) stays
    byte-identical. The digest was taken before the venue option existed."""
    session, lines = synth.generate(datetime(2026, 11, 25, 9, 5, tzinfo=KST), 10.0, seed=7)
    text = json.dumps(session) + "".join(json.dumps(x.to_json()) for x in lines)
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert digest == "22bf4a0c0fbf0ea502f72f81314094c3f562b5b66afe3048b2470a205f957009"
