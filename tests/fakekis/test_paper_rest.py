"""Paper-trading REST (docs/kis/endpoints.md §B, protocol.md §2.4) through the Starlette app on a manual
clock: tr_ids live/mock/legacy, KIS's refusals, hashkey, the REST budget, the ledger queries' continuation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import APPKEY, SECRET, kst, trade
from fakekis.exchange.accounts import Accounts
from fakekis.exchange.auth import Registry
from fakekis.exchange.market import MarketState
from fakekis.exchange.paper import Paper
from fakekis.serve.rest import create_app
from fakekis.serve.trading import TRADING, trading_routes
from fakekis.wire import frames
from kisclock import ManualClock

T0 = kst(2026, 11, 25, 9, 30)
ACCOUNT = {"CANO": "50123456", "ACNT_PRDT_CD": "01"}
SYMBOLS = [f"{i:06d}" for i in range(100_001, 100_026)]  # 25 symbols: more than a mock balance page


class Env:
    def __init__(self, env: str, rps: int = 100, at: float = T0) -> None:
        self.env = env
        self.clock, self.market_clock = ManualClock(T0), ManualClock(at)
        self.market, self.registry = MarketState(), Registry(env, rest_rps=rps)
        for code in ["005930", *SYMBOLS]:
            text = frames.data_frame("H0STCNT0", [trade(code, "093000", 71_500, 71_000, 900, qty=10)])
            self.market.prime(frames.parse_data_frame(text).records()[0])  # type: ignore[union-attr]
        self.accounts = Accounts(10_000_000)
        self.paper = Paper(env, self.accounts, self.market.prev_close)
        for code in ["005930", *SYMBOLS]:  # as the player does: the engine sees the tape too
            self.paper.on_frame(
                "H0STCNT0",
                frames.data_frame("H0STCNT0", [trade(code, "093000", 71_500, 71_000, 900)]),
                1,
                code,
            )
        self.sent: list[Any] = []

        async def notify(made: list[Any]) -> None:
            self.sent += made

        routes = trading_routes(
            self.registry,
            self.paper,
            self.accounts,
            self.clock,
            ManualClock(T0),
            self.market_clock.now,
            notify,
        )
        self.client = TestClient(create_app(self.registry, self.market, self.clock, extra_routes=routes))
        r = self.client.post(
            "/oauth2/tokenP", json={"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}
        )
        self.token = r.json()["access_token"]

    def headers(self, tr_id: str, **extra: str) -> dict[str, str]:
        auth = {"authorization": f"Bearer {self.token}", "appkey": APPKEY, "appsecret": SECRET}
        return {**auth, "tr_id": tr_id, "custtype": "P", **extra}

    def order(self, tr_id: str, path: str = "order-cash", **body: str) -> Any:
        return self.client.post(TRADING + path, json={**ACCOUNT, **body}, headers=self.headers(tr_id))

    def buy(
        self, tr_id: str = "", qty: str = "1", price: str = "71500", dvsn: str = "00", **extra: str
    ) -> Any:
        tr_id = tr_id or ("VTTC0012U" if self.env == "mock" else "TTTC0012U")
        return self.order(tr_id, PDNO="005930", ORD_DVSN=dvsn, ORD_QTY=qty, ORD_UNPR=price, **extra).json()

    def query(self, path: str, tr_id: str, **params: str) -> Any:
        return self.client.get(TRADING + path, params={**ACCOUNT, **params}, headers=self.headers(tr_id))


@pytest.mark.parametrize(
    ("env", "tr_id", "code"),
    [
        ("mock", "VTTC0012U", "40600000"),
        ("mock", "VTTC0802U", "40600000"),
        ("live", "TTTC0012U", "APBK0013"),
        ("live", "TTTC0802U", "APBK0013"),
    ],
)
def test_buy_with_current_and_legacy_tr_ids_answers_as_kis(env: str, tr_id: str, code: str) -> None:
    e = Env(env)
    body = e.buy(tr_id)
    assert (body["rt_cd"], body["msg_cd"]) == ("0", code)
    out = body["output"]
    assert re.fullmatch(r"\d{10}", out["ODNO"]) and out["ORD_TMD"] == "093000"
    assert out["KRX_FWDG_ORD_ORGNO"] == {"mock": "00950", "live": "06010"}[env]
    assert [n.fields[13] for n in e.sent] == ["1"]  # the acceptance notice


def test_a_tr_id_of_the_other_environment_is_unknown_here() -> None:
    e = Env("live")
    assert e.buy("VTTC0012U")["msg_cd"] == "OPSQ0002"


@pytest.mark.parametrize(
    ("env", "kwargs", "expect"),
    [
        ("mock", {"price": "71550"}, ("1", "40030000")),  # off-tick (100 won tick at 71,500)
        ("live", {"price": "71550"}, ("7", "APBK0506")),
        ("mock", {"price": "92400"}, ("1", "40040000")),  # above the 92,300 upper limit of 71,000
        ("mock", {"qty": "200", "price": "71500"}, ("1", "40250000")),  # 14.3M > 10M deposit
        ("live", {"qty": "200", "price": "71500"}, ("7", "APBK0952")),
        ("mock", {"qty": "140", "dvsn": "01", "price": "0"}, ("1", "40250000")),  # reserved at 92,300
        ("mock", {"EXCG_ID_DVSN_CD": "NXT"}, ("1", "40080000")),  # mock is KRX only
        ("live", {"EXCG_ID_DVSN_CD": "NXT", "dvsn": "01", "price": "0"}, ("7", "APBK1664")),
        ("mock", {"dvsn": "22"}, ("1", "40090000")),  # stop-limit: not modelled
    ],
)
def test_orders_are_refused_as_kis_refuses_them(
    env: str, kwargs: dict[str, str], expect: tuple[str, str]
) -> None:
    e = Env(env)
    body = e.buy(**kwargs)
    assert (body["rt_cd"], body["msg_cd"]) == expect
    assert e.sent == [] and e.paper.orders() == []


@pytest.mark.parametrize(
    ("when", "code"),
    [
        (kst(2026, 11, 25, 15, 31), "40580000"),  # after the close
        (kst(2026, 11, 25, 8, 0), "40570000"),  # before the opening call
        (kst(2026, 11, 28, 10, 0), "40100000"),  # a Saturday
    ],
)
def test_orders_outside_the_session_are_refused(when: float, code: str) -> None:
    e = Env("mock", at=when)
    assert e.buy()["msg_cd"] == code


def test_a_sell_without_shares_and_an_unknown_symbol_are_refused() -> None:
    e = Env("mock")
    sell = e.order("VTTC0011U", PDNO="005930", ORD_DVSN="00", ORD_QTY="1", ORD_UNPR="71500").json()
    assert sell["msg_cd"] == "40240000"
    e.accounts.seed("mock", "50123456", "01", holdings={"005930": (5, 70_000)})
    assert (
        e.order("VTTC0011U", PDNO="005930", ORD_DVSN="00", ORD_QTY="5", ORD_UNPR="71500").json()["rt_cd"]
        == "0"
    )
    assert (
        e.order("VTTC0011U", PDNO="005930", ORD_DVSN="00", ORD_QTY="1", ORD_UNPR="71500").json()["msg_cd"]
        == "40240000"
    )
    unknown = e.order("VTTC0012U", PDNO="999999", ORD_DVSN="00", ORD_QTY="1", ORD_UNPR="71500").json()
    assert unknown["msg_cd"] == "40070000"


def _rvsecncl(e: Env, odno: str, code: str, price: str = "0", **extra: str) -> Any:
    return e.order(
        "VTTC0013U",
        "order-rvsecncl",
        KRX_FWDG_ORD_ORGNO="",
        ORGN_ODNO=odno,
        ORD_DVSN="00",
        RVSE_CNCL_DVSN_CD=code,
        ORD_QTY="0",
        ORD_UNPR=price,
        QTY_ALL_ORD_YN="Y",
        **extra,
    ).json()


def test_modify_then_cancel_move_the_reservation_and_unknown_orders_are_refused() -> None:
    e = Env("mock")
    odno = e.buy(qty="10", price="70000")["output"]["ODNO"]
    assert e.accounts.get("mock", "50123456", "01").reserved == 700_000
    modified = _rvsecncl(e, odno, "01", "69000")
    assert modified["rt_cd"] == "0" and modified["output"]["ODNO"] != odno
    assert e.accounts.get("mock", "50123456", "01").reserved == 690_000
    assert _rvsecncl(e, odno, "02")["msg_cd"] == "40330000"  # the original has nothing left
    cancelled = _rvsecncl(e, modified["output"]["ODNO"].lstrip("0"), "02")  # numbers compare as numbers
    assert cancelled["msg_cd"] == "40630000"
    assert e.accounts.get("mock", "50123456", "01").reserved == 0
    assert _rvsecncl(e, "0000099999", "02")["msg_cd"] == "40330000"
    assert [n.fields[5] for n in e.sent] == ["0", "1", "2"]  # RCTF_CLS: new, modify, cancel


def test_hashkey_echoes_the_body_with_a_stable_hash_and_orders_take_it_or_not() -> None:
    e = Env("mock")
    order = {**ACCOUNT, "PDNO": "005930", "ORD_DVSN": "00", "ORD_QTY": "1", "ORD_UNPR": "71500"}
    h = {"appkey": APPKEY, "appsecret": SECRET, "content-type": "application/json"}
    first = e.client.post("/uapi/hashkey", json=order, headers=h).json()
    assert first["BODY"] == order and re.fullmatch(r"[0-9a-f]{64}", first["HASH"])
    assert e.client.post("/uapi/hashkey", json=order, headers=h).json()["HASH"] == first["HASH"]
    other = e.client.post("/uapi/hashkey", json={**order, "ORD_QTY": "2"}, headers=h).json()
    assert other["HASH"] != first["HASH"]
    assert e.client.post("/uapi/hashkey", json=order, headers={"appkey": APPKEY}).status_code == 500
    assert (
        e.buy(hashkey=first["HASH"])
        and e.order("VTTC0012U", **{k: v for k, v in order.items() if k not in ACCOUNT}).json()["rt_cd"]
        == "0"
    )


def test_orders_spend_the_rest_budget() -> None:
    e = Env("mock", rps=2)
    assert e.buy()["rt_cd"] == "0"
    assert e.buy()["rt_cd"] == "0"
    r = e.order("VTTC0012U", PDNO="005930", ORD_DVSN="00", ORD_QTY="1", ORD_UNPR="71500")
    assert r.status_code == 500 and r.json()["msg_cd"] == "EGW00201"


def test_balance_pages_twenty_holdings_on_mock_with_kis_continuation() -> None:
    e = Env("mock")
    e.accounts.seed("mock", "50123456", "01", holdings={s: (3, 71_000) for s in SYMBOLS})
    first = e.query("inquire-balance", "VTTC8434R", INQR_DVSN="02", CTX_AREA_FK100="", CTX_AREA_NK100="")
    body = first.json()
    assert first.headers["tr_cont"] == "F" and len(body["output1"]) == 20
    assert list(body)[:4] == ["ctx_area_fk100", "ctx_area_nk100", "output1", "output2"]
    assert len(body["ctx_area_nk100"]) == 100 and body["output2"][0]["dnca_tot_amt"] == "10000000"
    second = e.query(
        "inquire-balance",
        "VTTC8434R",
        INQR_DVSN="02",
        CTX_AREA_FK100=body["ctx_area_fk100"],
        CTX_AREA_NK100=body["ctx_area_nk100"],
    )
    assert second.headers["tr_cont"] == "D" and len(second.json()["output1"]) == 5
    assert second.json()["ctx_area_nk100"].strip() == ""
    row = body["output1"][0]
    assert (row["hldg_qty"], row["pchs_amt"], row["prpr"], row["evlu_amt"]) == (
        "3",
        "213000",
        "71500",
        "214500",
    )
    assert len(body["msg1"].encode("euc-kr")) == 80


def test_psbl_order_counts_at_the_price_or_at_the_upper_limit_for_market() -> None:
    e = Env("mock")
    limit = e.query("inquire-psbl-order", "VTTC8908R", PDNO="005930", ORD_UNPR="71500", ORD_DVSN="00").json()
    assert limit["output"]["nrcvb_buy_qty"] == str(10_000_000 // 71_500)
    market = e.query("inquire-psbl-order", "VTTC8908R", PDNO="005930", ORD_UNPR="", ORD_DVSN="01").json()
    assert market["output"]["psbl_qty_calc_unpr"] == "92300"
    assert market["output"]["max_buy_qty"] == str(10_000_000 // 92_300)
    assert e.query("inquire-psbl-order", "TTTC8908R", PDNO="005930").json()["msg_cd"] == "OPSQ0002"


def test_live_routes_nxt_and_sor_and_the_notice_names_the_venue() -> None:
    e = Env("live")
    nxt = e.buy(EXCG_ID_DVSN_CD="NXT")
    sor = e.buy(EXCG_ID_DVSN_CD="SOR", dvsn="01", price="0")
    assert nxt["rt_cd"] == sor["rt_cd"] == "0"
    assert nxt["output"]["SOR_ODNO"] == ""
    assert [n.fields[19] for n in e.sent if n.fields[13] == "1"] == ["2", "3"]  # ORD_EXG_GB NXT, SOR-KRX
    e.market_clock.set(kst(2026, 11, 25, 15, 25))  # NXT pauses 15:20-15:30 for KRX's closing auction
    assert e.buy(EXCG_ID_DVSN_CD="NXT")["msg_cd"] == "APBK0918"
    assert e.buy()["rt_cd"] == "0"  # KRX is in its closing auction: orders are taken


def test_an_ioc_remainder_is_cancelled_at_once_with_an_acpt_yn_3_notice() -> None:
    e = Env("mock")
    book = ["005930", "093000", "0"] + ["0"] * 60
    book[3], book[23] = "71500", "2"  # 2 shares offered at 71,500
    e.paper.on_frame("H0STASP0", frames.data_frame("H0STASP0", [book]), 1, "005930")
    body = e.buy(qty="5", price="71500", dvsn="11")
    assert body["rt_cd"] == "0"
    assert [(n.fields[13], n.fields[14], n.fields[7], int(n.fields[9])) for n in e.sent] == [
        ("1", "1", "1", 5),  # accepted, ODER_COND 1 (IOC)
        ("2", "2", "1", 2),  # filled 2 from the book
        ("1", "3", "1", 3),  # the exchange cancels the other 3 (ACPT_YN 3)
    ]
    a = e.accounts.get("mock", "50123456", "01")
    assert a.reserved == 0 and a.cash == 10_000_000 - 2 * 71_500
    (order,) = e.paper.orders()
    assert (order.filled, order.cancelled, order.remaining) == (2, 3, 0)
    fok = e.buy(qty="1", price="71500", dvsn="12")  # the book's 2 are gone until the next book
    assert fok["rt_cd"] == "0" and e.paper.orders()[-1].cancelled == 1
