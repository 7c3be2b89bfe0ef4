"""The quotation routes answered from the market state (docs/kis/endpoints.md §A): each route's documented
field list over HTTP, the input checks, mock's refusals, the budget; and, as a Hypothesis property over a
seeded synthetic tape, that every answer agrees with the trades fed so far."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from conftest import APPKEY, SECRET, kst
from fakekis.exchange import book, charts, holiday, quotations
from fakekis.exchange.auth import Registry
from fakekis.exchange.candles import minute_of
from fakekis.exchange.market import MarketState
from fakekis.exchange.products import Catalogue
from fakekis.rules.calendar import is_trading_day
from fakekis.rules.prices import limit_prices
from fakekis.serve.rest import create_app
from fakekis.tape import synth
from fakekis.wire import frames
from kisclock import KST, ManualClock

START = datetime(2026, 11, 25, 9, 30, tzinfo=KST)  # a Wednesday
Q = quotations.BASE


def tape(seed: int = 3, minutes: float = 6.0) -> list[tuple[float, str, str, int, str]]:
    """(t, tr_id, text, records, tr_key) of each data frame of a seeded synthetic session."""
    _, lines = synth.generate(START, minutes=minutes, seed=seed)
    out = []
    for line in lines:
        if line.dir == "recv" and line.text and line.text[0] in "01":
            parts = frames.split_frame(line.text)
            assert parts is not None
            out.append((line.t, parts[1], line.text, int(parts[2]), parts[3].split("^", 1)[0]))
    return out


TAPE = tape()


def fed(upto: float, frames_: list[tuple[float, str, str, int, str]] = TAPE) -> MarketState:
    market = MarketState(now=lambda: START.timestamp() + upto)
    for t, tr_id, text, count, key in frames_:
        if t > upto:
            break
        market.apply(tr_id, text, count, key)
    return market


def trades_upto(upto: float, symbol: str) -> list[list[str]]:
    recs = []
    for t, tr_id, text, count, key in TAPE:
        if t > upto:
            break
        if tr_id == "H0STCNT0" and key == symbol:
            fields = text.split("|", 3)[3].split("^")
            width = len(fields) // count
            recs += [fields[i * width : (i + 1) * width] for i in range(count)]
    return recs


# -- the consistency property -------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(at=st.floats(min_value=2.0, max_value=359.0), symbol=st.sampled_from(["005930", "000660", "035720"]))
def test_every_answer_agrees_with_the_trades_fed_so_far(at: float, symbol: str) -> None:
    """For any instant t: inquire-price's price is the last trade <= t; the minute bar containing t holds
    that price in [low, high]; the day candle's volume is ACML_VOL; the book's best bid < best ask; the
    newest inquire-ccnl row is that trade."""
    market = fed(at)
    recs = trades_upto(at, symbol)
    if not recs:
        return
    last = recs[-1]
    price = market.inquire_price(symbol)
    assert price["stck_prpr"] == last[2] and price["acml_vol"] == last[13]
    state = market.state("J", symbol)
    assert state is not None and state.candle is not None
    assert state.candle.volume == int(last[13]) and state.candle.close == int(last[2])
    now = START + timedelta(seconds=at)
    rows, _ = charts.minute_bars(
        market, symbol, state, "J", now.strftime("%Y%m%d"), now.strftime("%H%M%S"), 30
    )
    bar = rows[0]
    assert bar["stck_cntg_hour"] == now.strftime("%H%M00")  # the minute containing t, even without a trade
    assert int(bar["stck_lwpr"]) <= int(last[2]) <= int(bar["stck_hgpr"]) and bar["stck_prpr"] == last[2]
    in_minute = [r for r in recs if minute_of(r[1]) == now.hour * 100 + now.minute]
    assert int(bar["cntg_vol"]) == sum(int(r[12]) for r in in_minute)
    out1, out2 = book.asking_price(symbol, state)
    assert int(out1["bidp1"]) < int(out1["askp1"])
    assert out2["stck_prpr"] == last[2]
    newest = book.recent_trades(state)[0]
    assert (newest["stck_cntg_hour"], newest["stck_prpr"], newest["cntg_vol"]) == (last[1], last[2], last[12])
    daily = charts.daily_price(market, symbol, state, "D")
    assert daily[0]["stck_clpr"] == last[2] and daily[0]["acml_vol"] == last[13]


def test_the_history_is_consistent_and_ends_at_the_tapes_previous_close() -> None:
    market = fed(359.0)
    state = market.state("J", "005930")
    assert state is not None and state.prev_close == 71_000
    bars = charts.daily_bars(market, "005930", state).bars
    assert bars[-1].day == "20261125" and bars[-2].close == 71_000 == state.prev_close
    assert len(bars) > 1_000
    for before, bar in pairwise(bars):
        upper, lower = limit_prices(before.close)
        assert lower <= bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high <= upper
        assert is_trading_day(datetime.strptime(bar.day, "%Y%m%d").date())
    rows = charts.daily_price(market, "005930", state, "D")
    for newer, older in pairwise(rows):  # prdy_vrss of day d = close(d) - close(d-1)
        assert int(newer["prdy_vrss"]) == int(newer["stck_clpr"]) - int(older["stck_clpr"])
    earlier = fed(100.0)
    again = charts.daily_bars(earlier, "005930", earlier.state("J", "005930"))  # type: ignore[arg-type]
    assert [b.close for b in again.bars[:-1]] == [b.close for b in bars[:-1]]  # the same seed, the same past


def test_past_minute_bars_add_up_to_their_day() -> None:
    market = fed(100.0)
    state = market.state("J", "005930")
    day = charts.daily_bars(market, "005930", state).bars[-3]  # type: ignore[arg-type]
    rows, more = charts.minute_bars(market, "005930", state, "J", day.day, "153000", 500)
    assert not more and len(rows) == 391 and rows[0]["stck_cntg_hour"] == "153000"
    assert sum(int(r["cntg_vol"]) for r in rows) == day.volume
    assert rows[-1]["stck_oprc"] == str(day.open) and rows[0]["stck_prpr"] == str(day.close)
    assert (
        max(int(r["stck_hgpr"]) for r in rows) == day.high
        and min(int(r["stck_lwpr"]) for r in rows) == day.low
    )


def test_books_are_folded_only_when_asked_and_pending_frames_stay_bounded() -> None:
    market = fed(359.0)
    assert all(len(s.pending) < 256 for s in market.symbols.values())
    assert all(len(s.recent) <= 30 for s in market.symbols.values())


# -- over HTTP: field lists, validation, paging, mock, budget -----------------------------------------


@pytest.fixture
def live() -> Iterator[tuple[TestClient, dict[str, str], Registry]]:
    yield from _client("live")


@pytest.fixture
def mock() -> Iterator[tuple[TestClient, dict[str, str], Registry]]:
    yield from _client("mock")


def _client(env: str) -> Iterator[tuple[TestClient, dict[str, str], Registry]]:
    clock = ManualClock(START.timestamp() + 360)
    reg = Registry(env, rest_rps=1000)
    app = create_app(reg, fed(359.0), clock, wall=clock, products=Catalogue(["005930", "000660", "035720"]))
    client = TestClient(app)
    body = {"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}
    token = client.post("/oauth2/tokenP", json=body).json()["access_token"]
    headers = {"authorization": f"Bearer {token}", "appkey": APPKEY, "appsecret": SECRET, "custtype": "P"}
    yield client, headers, reg


def _get(client: TestClient, headers: dict[str, str], path: str, tr_id: str, tr_cont: str = "", **q: str):
    return client.get(Q + path, params=q, headers={**headers, "tr_id": tr_id, "tr_cont": tr_cont})


J = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}
CALLS = {
    "asking-price": ("inquire-asking-price-exp-ccn", "FHKST01010200", J),
    "ccnl": ("inquire-ccnl", "FHKST01010300", J),
    "daily-price": (
        "inquire-daily-price",
        "FHKST01010400",
        {**J, "FID_PERIOD_DIV_CODE": "D", "FID_ORG_ADJ_PRC": "1"},
    ),
    "daily-chart": (
        "inquire-daily-itemchartprice",
        "FHKST03010100",
        {
            **J,
            "FID_INPUT_DATE_1": "20260101",
            "FID_INPUT_DATE_2": "20261125",
            "FID_PERIOD_DIV_CODE": "D",
            "FID_ORG_ADJ_PRC": "0",
        },
    ),
    "minute-chart": (
        "inquire-time-itemchartprice",
        "FHKST03010200",
        {**J, "FID_INPUT_HOUR_1": "093500", "FID_PW_DATA_INCU_YN": "N", "FID_ETC_CLS_CODE": ""},
    ),
    "daily-minute-chart": (
        "inquire-time-dailychartprice",
        "FHKST03010230",
        {
            **J,
            "FID_INPUT_HOUR_1": "153000",
            "FID_INPUT_DATE_1": "20261124",
            "FID_PW_DATA_INCU_YN": "Y",
            "FID_FAKE_TICK_INCU_YN": "",
        },
    ),
    "holiday": ("chk-holiday", "CTCA0903R", {"BASS_DT": "20261224", "CTX_AREA_FK": "", "CTX_AREA_NK": ""}),
}
ENVELOPE = ["rt_cd", "msg_cd", "msg1"]
FIELDS: dict[str, tuple[list[str], list[str] | None, list[str] | None]] = {
    # route kind -> (top-level keys, output/output1 keys, output2 row keys)
    "asking-price": (["output1", "output2", *ENVELOPE], book.OUTPUT1_KEYS, book.OUTPUT2_KEYS),
    "ccnl": (["output", *ENVELOPE], list(book.CCNL_KEYS), None),
    "daily-price": (["output", *ENVELOPE], charts.DAILY_PRICE_KEYS, None),
    "daily-chart": (
        ["output1", "output2", *ENVELOPE],
        charts.ITEMCHART_OUTPUT1_KEYS,
        charts.ITEMCHART_OUTPUT2_KEYS,
    ),
    "minute-chart": (["output1", "output2", *ENVELOPE], charts.TIME_OUTPUT1_KEYS, charts.TIME_OUTPUT2_KEYS),
    "daily-minute-chart": (
        ["output1", "output2", *ENVELOPE],
        charts.TIME_OUTPUT1_KEYS,
        charts.TIME_OUTPUT2_KEYS,
    ),
    "holiday": (["ctx_area_fk", "ctx_area_nk", "output", *ENVELOPE], list(holiday.KEYS), None),
}
# The documented names, written out once more by hand from docs/kis/endpoints.md §A, so a renamed key in
# the code fails here rather than agreeing with itself.
DOCUMENTED = {
    "asking-price": "aspr_acpt_hour askp1 askp10 bidp1 bidp10 askp_rsqn1 bidp_rsqn10 askp_rsqn_icdc1 bidp_rsqn_icdc10 "
    "total_askp_rsqn total_bidp_rsqn total_askp_rsqn_icdc total_bidp_rsqn_icdc ovtm_total_askp_icdc "
    "ovtm_total_bidp_icdc ovtm_total_askp_rsqn ovtm_total_bidp_rsqn ntby_aspr_rsqn new_mkop_cls_code",
    "ccnl": "stck_cntg_hour stck_prpr prdy_vrss prdy_vrss_sign prdy_ctrt cntg_vol tday_rltv",
    "daily-price": "stck_bsop_date stck_oprc stck_hgpr stck_lwpr stck_clpr acml_vol prdy_vrss_vol_rate prdy_vrss "
    "prdy_vrss_sign prdy_ctrt hts_frgn_ehrt frgn_ntby_qty flng_cls_code acml_prtt_rate",
    "minute-chart": "prdy_vrss prdy_vrss_sign prdy_ctrt stck_prdy_clpr acml_vol acml_tr_pbmn hts_kor_isnm stck_prpr",
    "holiday": "bass_dt wday_dvsn_cd bzdy_yn tr_day_yn opnd_yn sttl_day_yn",
}
ROWS2 = {
    "asking-price": "antc_mkop_cls_code stck_prpr stck_oprc stck_hgpr stck_lwpr stck_sdpr antc_cnpr "
    "antc_cntg_vrss_sign antc_cntg_vrss antc_cntg_prdy_ctrt antc_vol stck_shrn_iscd vi_cls_code",
    "daily-chart": "stck_bsop_date stck_clpr stck_oprc stck_hgpr stck_lwpr acml_vol acml_tr_pbmn flng_cls_code "
    "prtt_rate mod_yn prdy_vrss_sign prdy_vrss revl_issu_reas",
    "minute-chart": "stck_bsop_date stck_cntg_hour stck_prpr stck_oprc stck_hgpr stck_lwpr cntg_vol acml_tr_pbmn",
}


@pytest.mark.parametrize("kind", list(CALLS))
def test_each_route_answers_its_documented_fields(live, kind: str) -> None:
    client, headers, _ = live
    path, tr_id, query = CALLS[kind]
    r = _get(client, headers, path, tr_id, **query)
    assert r.status_code == 200 and r.headers["tr_id"] == tr_id, r.text
    body = r.json()
    top, first, rows2 = FIELDS[kind]
    assert list(body) == top and body["rt_cd"] == "0", body
    main = body.get("output1", body.get("output"))
    record = main[0] if isinstance(main, list) else main
    assert record and list(record) == list(first)
    assert set(DOCUMENTED.get(kind, "").split()) <= set(record)
    if rows2 is not None:
        second = body["output2"]
        row = second[0] if isinstance(second, list) else second
        assert row and list(row) == list(rows2)
        assert set(ROWS2.get(kind, "").split()) <= set(row)
    values = [v for rec in (main if isinstance(main, list) else [main]) for v in rec.values()]
    assert all(isinstance(v, str) for v in values)


def test_itemchart_output1_carries_the_spaced_loan_key_and_the_name(live) -> None:
    client, headers, _ = live
    out1 = _get(client, headers, *CALLS["daily-chart"][:2], **CALLS["daily-chart"][2]).json()["output1"]
    assert "itewhol_loan_rmnd_ratem name" in out1 and out1["hts_kor_isnm"] == "삼성전자"
    assert out1["stck_prdy_clpr"] == "71000" and int(out1["prdy_vol"]) > 0


def test_periods_fold_days_and_the_range_limits_the_bars(live) -> None:
    client, headers, _ = live
    path, tr_id, q = CALLS["daily-chart"]
    by = {
        p: _get(client, headers, path, tr_id, **{**q, "FID_PERIOD_DIV_CODE": p}).json()["output2"]
        for p in "DWMY"
    }
    assert len(by["D"]) == 100 and len(by["M"]) == 11 and len(by["Y"]) == 1  # 100 a call; Jan..Nov; 2026
    assert by["Y"][0]["acml_vol"] == str(sum(int(r["acml_vol"]) for r in by["M"]))
    assert by["Y"][0]["stck_clpr"] == by["D"][0]["stck_clpr"] and by["D"][0]["stck_bsop_date"] == "20261125"
    old = _get(
        client, headers, path, tr_id, **{**q, "FID_INPUT_DATE_1": "19900101", "FID_INPUT_DATE_2": "19901231"}
    )
    assert old.json()["output2"] == [] and old.json()["rt_cd"] == "0"


def test_minute_chart_pages_back_by_time(live) -> None:
    client, headers, _ = live
    path, tr_id, q = CALLS["minute-chart"]
    now = _get(client, headers, path, tr_id, **{**q, "FID_INPUT_HOUR_1": "235959"}).json()["output2"]
    assert now[0]["stck_cntg_hour"] == "093500" and now[-1]["stck_cntg_hour"] == "090600"  # future = now
    assert _get(client, headers, path, tr_id, **{**q, "FID_INPUT_HOUR_1": "000000"}).json()["output2"] == now
    earlier = _get(client, headers, path, tr_id, **{**q, "FID_INPUT_HOUR_1": "091259"}).json()["output2"]
    assert [r["stck_cntg_hour"] for r in earlier] == [f"09{m:02d}00" for m in range(12, -1, -1)]


def test_a_tape_that_starts_mid_session_gets_minutes_from_0900_that_agree_with_its_first_record() -> None:
    market = fed(1.0)
    first = trades_upto(1.0, "005930")[0]
    state = market.state("J", "005930")
    assert state is not None
    rows, _ = charts.minute_bars(market, "005930", state, "J", "20261125", "092959", 100)
    assert (
        rows[-1]["stck_cntg_hour"] == "090000" and rows[0]["stck_cntg_hour"] == "092900" and len(rows) == 30
    )
    assert sum(int(r["cntg_vol"]) for r in rows) == int(first[13]) - int(first[12])
    assert max(int(r["stck_hgpr"]) for r in rows) <= int(first[8])
    assert min(int(r["stck_lwpr"]) for r in rows) >= int(first[9])
    assert rows[-1]["stck_oprc"] == first[7]


def test_daily_minute_chart_continuation_header(live) -> None:
    client, headers, _ = live
    path, tr_id, q = CALLS["daily-minute-chart"]
    first = _get(client, headers, path, tr_id, **q)
    assert len(first.json()["output2"]) == 120 and first.headers["tr_cont"] == "F"
    oldest = first.json()["output2"][-1]["stck_cntg_hour"]
    nxt = _get(client, headers, path, tr_id, "N", **{**q, "FID_INPUT_HOUR_1": "111059"})
    assert nxt.headers["tr_cont"] == "M" and nxt.json()["output2"][0]["stck_cntg_hour"] == "111000" != oldest
    last = _get(client, headers, path, tr_id, "N", **{**q, "FID_INPUT_HOUR_1": "091000"})
    assert last.headers["tr_cont"] == "D" and len(last.json()["output2"]) == 11


def test_chk_holiday_pages_calendar_days_from_the_krx_calendar(live) -> None:
    client, headers, _ = live
    path, tr_id, q = CALLS["holiday"]
    r = _get(client, headers, path, tr_id, **q)
    body = r.json()
    assert r.headers["tr_cont"] == "F" and body["msg_cd"] == "KIOK0500"
    rows = body["output"]
    assert (
        len(rows) == 24 and rows[0]["bass_dt"] == "20261224" and rows[0]["wday_dvsn_cd"] == "05"
    )  # Thursday
    christmas = next(x for x in rows if x["bass_dt"] == "20261225")
    assert christmas["opnd_yn"] == "N" and christmas["tr_day_yn"] == "Y"
    assert body["ctx_area_nk"] == "20270117".ljust(20)
    page2 = _get(client, headers, path, tr_id, "N", **{**q, "CTX_AREA_NK": body["ctx_area_nk"]})
    assert page2.json()["output"][0]["bass_dt"] == "20270117" and page2.headers["tr_cont"] == "M"
    for day in (date(2026, 12, 24) + timedelta(days=i) for i in range(24)):
        expect = "Y" if is_trading_day(day) else "N"
        assert next(x for x in rows if x["bass_dt"] == day.strftime("%Y%m%d"))["opnd_yn"] == expect


@pytest.mark.parametrize(
    "kind, change, code, msg",
    [
        (
            "asking-price",
            {"FID_COND_MRKT_DIV_CODE": None},
            "OPSQ2001",
            "ERROR : INPUT_FIELD_NAME FID_COND_MRKT_DIV_CODE",
        ),
        ("ccnl", {"FID_COND_MRKT_DIV_CODE": "Q"}, "OPSQ2001", "ERROR : INPUT INVALID_CHECK_MRKT_DIV_CODE"),
        ("ccnl", {"FID_INPUT_ISCD": "12"}, "OPSQ2001", "ERROR : INPUT_FIELD_NAME FID_INPUT_ISCD"),
        (
            "daily-price",
            {"FID_PERIOD_DIV_CODE": "Y"},
            "OPSQ2001",
            "ERROR : INPUT_FIELD_NAME FID_PERIOD_DIV_CODE",
        ),
        ("daily-price", {"FID_ORG_ADJ_PRC": None}, "OPSQ2001", "ERROR : INPUT_FIELD_NAME FID_ORG_ADJ_PRC"),
        (
            "daily-chart",
            {"FID_INPUT_DATE_1": "2026011"},
            "OPSQ2002",
            "ERROR : INPUT INVALID_CHECK_FIELD_LENGTH",
        ),
        (
            "daily-chart",
            {"FID_INPUT_DATE_2": "2026-1-1"},
            "OPSQ2001",
            "ERROR : INPUT_FIELD_NAME FID_INPUT_DATE_2",
        ),
        ("minute-chart", {"FID_INPUT_HOUR_1": None}, "OPSQ2001", "ERROR : INPUT_FIELD_NAME FID_INPUT_HOUR_1"),
        (
            "minute-chart",
            {"FID_INPUT_HOUR_1": "0930"},
            "OPSQ2002",
            "ERROR : INPUT INVALID_CHECK_FIELD_LENGTH",
        ),
        (
            "minute-chart",
            {"FID_PW_DATA_INCU_YN": "X"},
            "OPSQ2001",
            "ERROR : INPUT_FIELD_NAME FID_PW_DATA_INCU_YN",
        ),
        (
            "daily-minute-chart",
            {"FID_FAKE_TICK_INCU_YN": None},
            "OPSQ2001",
            "ERROR : INPUT_FIELD_NAME FID_FAKE_TICK_INCU_YN",
        ),
        ("holiday", {"BASS_DT": None}, "OPSQ2001", "ERROR : INPUT_FIELD_NAME BASS_DT"),
    ],
)
def test_bad_input_gets_kis_opsq_errors(
    live, kind: str, change: dict[str, str | None], code: str, msg: str
) -> None:
    client, headers, _ = live
    path, tr_id, q = CALLS[kind]
    query = {k: v for k, v in {**q, **change}.items() if v is not None}
    r = _get(client, headers, path, tr_id, **query)
    assert r.status_code == 200 and r.json() == {"rt_cd": "1", "msg_cd": code, "msg1": msg}


def test_a_wrong_tr_id_and_a_bad_token_are_refused_on_the_new_routes(live) -> None:
    client, headers, _ = live
    path, _, q = CALLS["ccnl"]
    assert _get(client, headers, path, "FHKST01010100", **q).json()["msg_cd"] == "OPSQ0002"
    bad = _get(client, {**headers, "authorization": "Bearer nope"}, path, "FHKST01010300", **q)
    assert bad.status_code == 500 and bad.json()["msg_cd"] == "EGW00121"


@pytest.mark.parametrize("kind", ["daily-minute-chart", "holiday"])
def test_mock_refuses_the_live_only_routes(mock, kind: str) -> None:
    client, headers, _ = mock
    path, tr_id, q = CALLS[kind]
    assert _get(client, headers, path, tr_id, **q).json() == quotations.MOCK_UNSUPPORTED


def test_mock_serves_the_others(mock) -> None:
    client, headers, _ = mock
    for kind in ("asking-price", "ccnl", "daily-price", "daily-chart", "minute-chart"):
        path, tr_id, q = CALLS[kind]
        assert _get(client, headers, path, tr_id, **q).json()["rt_cd"] == "0", kind


def test_every_route_spends_the_per_second_budget() -> None:
    clock = ManualClock(START.timestamp() + 360)
    client = TestClient(create_app(Registry("mock", rest_rps=2), fed(359.0), clock, wall=clock))
    body = {"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}
    token = client.post("/oauth2/tokenP", json=body).json()["access_token"]
    headers = {"authorization": f"Bearer {token}", "appkey": APPKEY, "appsecret": SECRET}
    for kind in ("asking-price", "ccnl", "daily-price", "daily-chart", "minute-chart"):
        path, tr_id, q = CALLS[kind]
        got = [_get(client, headers, path, tr_id, **q) for _ in range(3)]
        assert [r.status_code for r in got] == [200, 200, 500], kind
        assert got[2].json()["msg_cd"] == "EGW00201"
        clock.advance(1.0)


def test_venues_nx_without_nxt_frames_is_unknown_and_un_falls_back_to_krx(live) -> None:
    client, headers, _ = live
    path, tr_id, q = CALLS["minute-chart"]
    nx = _get(client, headers, path, tr_id, **{**q, "FID_COND_MRKT_DIV_CODE": "NX"}).json()
    assert nx["rt_cd"] == "0" and nx["output1"]["stck_prpr"] == "0" and nx["output2"] == []
    un = _get(client, headers, path, tr_id, **{**q, "FID_COND_MRKT_DIV_CODE": "UN"}).json()
    j = _get(client, headers, path, tr_id, **q).json()
    assert un["output2"] == j["output2"] and j["output2"]


def test_nxt_frames_feed_the_nx_venue_only() -> None:
    market = fed(100.0)
    _, tr_id, text, count, key = next(f for f in TAPE if f[1] == "H0STCNT0" and f[4] == "005930")
    nx = text.replace("|H0STCNT0|", "|H0NXCNT0|").replace("^" + text.split("^")[2] + "^", "^99900^", 1)
    market.apply("H0NXCNT0", nx, count, key)
    assert market.inquire_price("005930", "NX")["stck_prpr"] == "99900"
    assert market.inquire_price("005930", "J")["stck_prpr"] != "99900"
    assert market.inquire_price("005930", "UN")["stck_prpr"] != "99900"  # no H0UN frames: KRX


def test_unknown_symbol_answers_zeros_as_kis_does(live) -> None:
    client, headers, _ = live
    path, tr_id, q = CALLS["asking-price"]
    r = _get(client, headers, path, tr_id, **{**q, "FID_INPUT_ISCD": "999999"}).json()
    assert r["rt_cd"] == "0" and "askp1" not in r["output1"]
    path, tr_id, q = CALLS["daily-chart"]
    r = _get(client, headers, path, tr_id, **{**q, "FID_INPUT_ISCD": "999999"}).json()
    assert r["output1"]["stck_prpr"] == "0" and r["output2"] == []


def test_a_book_frame_moves_the_book_and_its_changes() -> None:
    books = [f for f in TAPE if f[1] == "H0STASP0" and f[4] == "000660"]
    market = fed(books[1][0])
    state = market.state("J", "000660")
    out1, _ = book.asking_price("000660", state)
    rec1 = books[1][2].split("|", 3)[3].split("^")
    rec0 = books[0][2].split("|", 3)[3].split("^")
    assert out1["askp1"] == rec1[3] and out1["bidp10"] == rec1[22] and out1["total_askp_rsqn"] == rec1[43]
    assert out1["askp_rsqn_icdc1"] == str(int(rec1[23]) - int(rec0[23]))
    assert kst(2026, 11, 25) < START.timestamp()  # the tape's day, for the reader


def test_a_doubled_slash_reaches_the_same_route(live) -> None:
    """mojito2 asks for `//uapi/...` (base + "/" + "/uapi/...") and works against KIS."""
    client, headers, _ = live
    path, tr_id, q = CALLS["ccnl"]
    r = client.get("http://testserver/" + Q + path, params=q, headers={**headers, "tr_id": tr_id})
    assert r.status_code == 200 and r.json()["rt_cd"] == "0"
