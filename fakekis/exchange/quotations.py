"""The quotation routes fakekis answers from the market state, as data, and their input checks
(docs/kis/endpoints.md §A, §0; docs/kis/protocol.md §3). Sans I/O: a query (names upper-cased) in, an
`Answer` (body, `tr_cont` header, HTTP status) out. `fakekis.serve.rest` maps HTTP onto it, and
`fakekis coverage` reads `ROUTES` to say what is served.

Input errors, as KIS's 조회 server reports them (HTTP 200, `rt_cd "1"`; codes from the KIS error table
as transcribed by client libraries, which fields trigger which is inferred, docs/kis/endpoints.md §A10):
a missing parameter `OPSQ2001 ERROR : INPUT_FIELD_NAME <name>`, a market division that is not J/NX/UN
`OPSQ2001 ERROR : INPUT INVALID_CHECK_MRKT_DIV_CODE`, a date or time of the wrong length
`OPSQ2002 ERROR : INPUT INVALID_CHECK_FIELD_LENGTH`. A TR mock does not serve:
`90000000 모의투자에서는 해당업무가 제공되지 않습니다.` (docs/kis/protocol.md §3.3).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from fakekis.exchange import book, charts, holiday
from fakekis.exchange.market import MarketState

BASE = "/uapi/domestic-stock/v1/quotations/"
OK = {"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다."}
_SYMBOL = re.compile(r"^(?:\d{6}|Q\d{6})$")
VENUES = ("J", "NX", "UN")


class BadInput(Exception):
    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.body = {"rt_cd": "1", "msg_cd": code, "msg1": msg}


@dataclass(frozen=True)
class Answer:
    body: dict[str, object]
    tr_cont: str = ""
    status: int = 200


@dataclass(frozen=True)
class Ask:
    """One quotation request as the rules see it."""

    query: Mapping[str, str]  # names upper-cased (§3.1: case-insensitive)
    tr_cont: str  # the request's tr_cont header ("" first call, "N" next page)
    env: str  # live or mock
    name: Callable[[str], str]  # symbol -> its Korean name (hts_kor_isnm)


def missing(name: str) -> BadInput:
    return BadInput("OPSQ2001", f"ERROR : INPUT_FIELD_NAME {name}")


def need(ask: Ask, name: str) -> str:
    value = ask.query.get(name)
    if value is None:
        raise missing(name)
    return value.strip()


def venue(ask: Ask, allowed: tuple[str, ...] = VENUES) -> str:
    value = need(ask, "FID_COND_MRKT_DIV_CODE").upper()
    if value not in allowed:
        raise BadInput("OPSQ2001", "ERROR : INPUT INVALID_CHECK_MRKT_DIV_CODE")
    return value


def symbol(ask: Ask) -> str:
    value = need(ask, "FID_INPUT_ISCD")
    if not _SYMBOL.match(value):
        raise missing("FID_INPUT_ISCD")
    return value


def one_of(ask: Ask, name: str, allowed: tuple[str, ...]) -> str:
    value = need(ask, name).upper()
    if value not in allowed:
        raise missing(name)
    return value


def digits(ask: Ask, name: str, width: int) -> str:
    value = need(ask, name)
    if len(value) != width:
        raise BadInput("OPSQ2002", "ERROR : INPUT INVALID_CHECK_FIELD_LENGTH")
    if not value.isdigit():
        raise missing(name)
    return value


def day(ask: Ask, name: str) -> str:
    """YYYYMMDD, eight digits. Not checked as a calendar date: python-kis sends `00000101` for "from the
    beginning" and KIS answers it."""
    return digits(ask, name, 8)


def hour(ask: Ask, name: str) -> str:
    value = digits(ask, name, 6)
    if int(value[:2]) > 24 or int(value[2:4]) > 59 or int(value[4:]) > 59:
        raise missing(name)
    return value


def adjusted(ask: Ask) -> str:
    """FID_ORG_ADJ_PRC: 0 or 1 (the spec's example sends `0000000001`). Without corporate actions in the
    seeded history both answers are the same bars (§8 #3: the two TRs word the flag oppositely)."""
    value = need(ask, "FID_ORG_ADJ_PRC")
    if value.lstrip("0") not in ("", "1"):
        raise missing("FID_ORG_ADJ_PRC")
    return value


# -- the answers --------------------------------------------------------------------------------------


def _asking_price(m: MarketState, ask: Ask) -> Answer:
    v, s = venue(ask), symbol(ask)
    out1, out2 = book.asking_price(s, m.state(v, s))
    return Answer({"output1": out1, "output2": out2, **OK})


def _ccnl(m: MarketState, ask: Ask) -> Answer:
    v, s = venue(ask), symbol(ask)
    return Answer({"output": book.recent_trades(m.state(v, s)), **OK})


def _daily_price(m: MarketState, ask: Ask) -> Answer:
    v, s = venue(ask), symbol(ask)
    period = one_of(ask, "FID_PERIOD_DIV_CODE", ("D", "W", "M"))
    adjusted(ask)
    return Answer({"output": charts.daily_price(m, s, m.state(v, s), period), **OK})


def _itemchart(m: MarketState, ask: Ask) -> Answer:
    v, s = venue(ask), symbol(ask)
    start, end = day(ask, "FID_INPUT_DATE_1"), day(ask, "FID_INPUT_DATE_2")
    period = one_of(ask, "FID_PERIOD_DIV_CODE", ("D", "W", "M", "Y"))
    adjusted(ask)
    st = m.state(v, s)
    return Answer(
        {
            "output1": charts.itemchart_output1(m, s, st, ask.name(s) if st else ""),
            "output2": charts.itemchart(m, s, st, start, end, period),
            **OK,
        }
    )


def _time_chart(m: MarketState, ask: Ask) -> Answer:
    v, s = venue(ask), symbol(ask)
    at = hour(ask, "FID_INPUT_HOUR_1")
    if at == "000000":  # python-kis's first call asks for 000000 and expects the latest bars (INF: = now)
        at = "235959"
    one_of(ask, "FID_PW_DATA_INCU_YN", ("Y", "N"))
    st = m.state(v, s)
    rows, _ = charts.minute_bars(m, s, st, v, charts.today_text(m, st), at, charts.TIME_CHART_ROWS)
    return Answer({"output1": charts.time_output1(st, ask.name(s) if st else ""), "output2": rows, **OK})


def page_cont(first_call: bool, more: bool) -> str:
    """Response tr_cont: F/M = more, D/E = last (docs/kis/endpoints.md §0.2; which letter of each pair is
    INF: F a first page with more, M a middle one, D the last of several, E a single page)."""
    if more:
        return "F" if first_call else "M"
    return "E" if first_call else "D"


def _daily_minutes(m: MarketState, ask: Ask) -> Answer:
    v, s = venue(ask), symbol(ask)
    at, on = hour(ask, "FID_INPUT_HOUR_1"), day(ask, "FID_INPUT_DATE_1")
    one_of(ask, "FID_PW_DATA_INCU_YN", ("Y", "N"))
    need(ask, "FID_FAKE_TICK_INCU_YN")  # must be sent, blank allowed (docs/kis/endpoints.md §A6, §A10)
    st = m.state(v, s)
    rows, more = charts.minute_bars(m, s, st, v, on, at, charts.DAILY_MINUTE_ROWS)
    body: dict[str, object] = {"output1": charts.time_output1(st, ask.name(s) if st else ""), "output2": rows}
    return Answer(body | OK, page_cont(ask.tr_cont != "N", more))


def _holiday(m: MarketState, ask: Ask) -> Answer:
    base = day(ask, "BASS_DT")
    nk = ask.query.get("CTX_AREA_NK", "").strip()  # the cursor; a first call may leave it out (INF)
    cursor = None
    if nk:
        if len(nk) != 8 or not nk.isdigit():
            raise missing("CTX_AREA_NK")
        cursor = date(int(nk[:4]), int(nk[4:6]), int(nk[6:]))
    b = date(int(base[:4]), int(base[4:6]), int(base[6:]))
    rows, nxt = holiday.page(b, cursor)
    more = nxt is not None
    body: dict[str, object] = {
        "ctx_area_fk": base.ljust(holiday.CTX),
        "ctx_area_nk": (nxt.strftime("%Y%m%d") if nxt else "").ljust(holiday.CTX),
        "output": rows,
        "rt_cd": "0",
        **(
            {"msg_cd": "KIOK0500", "msg1": "조회가 계속됩니다..다음버튼을 Click 하십시오."}
            if more
            else {"msg_cd": "KIOK0460", "msg1": "조회 되었습니다. (마지막 자료)"}
        ),
    }
    return Answer(body, page_cont(ask.tr_cont != "N", more))


@dataclass(frozen=True)
class Route:
    path: str
    tr_id: str
    kind: str  # what faults call it (`Scenario.rest(kind, now)`)
    title: str
    spec: str  # where docs/kis describes it
    answer: Callable[[MarketState, Ask], Answer]
    mock: bool = True  # mock serves it (live always does)


ROUTES: tuple[Route, ...] = (
    Route(
        BASE + "inquire-asking-price-exp-ccn",
        "FHKST01010200",
        "asking-price",
        "주식현재가 호가/예상체결",
        "docs/kis/endpoints.md §A1",
        _asking_price,
    ),
    Route(
        BASE + "inquire-ccnl", "FHKST01010300", "ccnl", "주식현재가 체결", "docs/kis/endpoints.md §A2", _ccnl
    ),
    Route(
        BASE + "inquire-daily-price",
        "FHKST01010400",
        "daily-price",
        "주식현재가 일자별",
        "docs/kis/endpoints.md §A3",
        _daily_price,
    ),
    Route(
        BASE + "inquire-daily-itemchartprice",
        "FHKST03010100",
        "daily-chart",
        "국내주식기간별시세",
        "docs/kis/endpoints.md §A4",
        _itemchart,
    ),
    Route(
        BASE + "inquire-time-itemchartprice",
        "FHKST03010200",
        "minute-chart",
        "주식당일분봉조회",
        "docs/kis/endpoints.md §A5",
        _time_chart,
    ),
    Route(
        BASE + "inquire-time-dailychartprice",
        "FHKST03010230",
        "daily-minute-chart",
        "주식일별분봉조회",
        "docs/kis/endpoints.md §A6",
        _daily_minutes,
        mock=False,
    ),
    Route(
        BASE + "chk-holiday",
        "CTCA0903R",
        "holiday",
        "국내휴장일조회",
        "docs/kis/endpoints.md §A8",
        _holiday,
        mock=False,
    ),
)

MOCK_UNSUPPORTED = {
    "rt_cd": "1",
    "msg_cd": "90000000",
    "msg1": "모의투자에서는 해당업무가 제공되지 않습니다.",
}


def answer(route: Route, market: MarketState, ask: Ask) -> Answer:
    """The route's answer, an input error, or mock's refusal of a live-only TR."""
    if ask.env == "mock" and not route.mock:
        return Answer(dict(MOCK_UNSUPPORTED))
    try:
        return route.answer(market, ask)
    except BadInput as e:
        return Answer(dict(e.body))
