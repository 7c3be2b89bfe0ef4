"""fakekis REST rules (docs/kis/protocol.md §2–§3), driven through the Starlette app on a manual clock."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from conftest import APPKEY, SECRET, kst, trade
from fakekis.exchange.auth import Registry
from fakekis.exchange.market import MarketState
from fakekis.exchange.products import Catalogue, isin
from fakekis.serve.rest import INQUIRE_PRICE, SEARCH_INFO, create_app
from fakekis.wire import frames
from kisclock import ManualClock

T0 = kst(2026, 11, 25, 9, 0)
TOKEN_BODY = {"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}


@pytest.fixture
def env() -> tuple[TestClient, ManualClock, MarketState, Registry, ManualClock]:
    clock, market, reg = ManualClock(T0), MarketState(), Registry("mock", rest_rps=2)
    wall = ManualClock(T0)  # the client's own time, which ends a budget second too
    market.apply(
        "H0STCNT0",
        frames.data_frame("H0STCNT0", [trade("005930", "090000", 71_500, 71_000, 900)]),
        1,
        "005930",
    )
    return TestClient(create_app(reg, market, clock, wall=wall)), clock, market, reg, wall


def _headers(token: str, **extra: str) -> dict[str, str]:
    return {
        "authorization": f"Bearer {token}",
        "appkey": APPKEY,
        "appsecret": SECRET,
        "tr_id": "FHKST01010100",
        "custtype": "P",
        **extra,
    }


def _price(client: TestClient, token: str, **extra: str):
    return client.get(
        INQUIRE_PRICE,
        params={"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
        headers=_headers(token, **extra),
    )


def test_token_rules_throttle_same_token_and_expiry(env) -> None:
    client, clock, *_ = env
    first = client.post("/oauth2/tokenP", json=TOKEN_BODY)
    assert first.status_code == 200
    body = first.json()
    assert list(body) == ["access_token", "access_token_token_expired", "token_type", "expires_in"]
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86_400
    assert body["access_token_token_expired"] == "2026-11-26 09:00:00"  # KST, no zone suffix
    assert body["access_token"].startswith("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9.")
    clock.advance(20)
    again = client.post("/oauth2/tokenP", json=TOKEN_BODY)
    assert again.status_code == 403
    assert again.json() == {
        "error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)",
        "error_code": "EGW00133",
    }
    clock.advance(3600)
    assert client.post("/oauth2/tokenP", json=TOKEN_BODY).json()["access_token"] == body["access_token"]
    clock.advance(6 * 3600)
    assert client.post("/oauth2/tokenP", json=TOKEN_BODY).json()["access_token"] != body["access_token"]


def test_approval_wants_secretkey_not_appsecret(env) -> None:
    client, *_ = env
    ok = client.post(
        "/oauth2/Approval", json={"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET}
    )
    assert ok.status_code == 200 and len(ok.json()["approval_key"]) == 36
    wrong = client.post(
        "/oauth2/Approval", json={"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}
    )
    assert wrong.status_code == 403 and wrong.json()["error_code"] == "EGW00104"


def test_inquire_price_envelope_and_agreement_with_the_tape(env) -> None:
    client, *_ = env
    token = client.post("/oauth2/tokenP", json=TOKEN_BODY).json()["access_token"]
    r = _price(client, token)
    assert r.status_code == 200 and r.headers["tr_id"] == "FHKST01010100" and len(r.headers["gt_uid"]) == 32
    body = json.loads(r.text)
    assert list(body) == ["output", "rt_cd", "msg_cd", "msg1"]
    assert (body["rt_cd"], body["msg_cd"], body["msg1"]) == ("0", "MCA00000", "정상처리 되었습니다.")
    out = body["output"]
    assert all(isinstance(v, str) for v in out.values())
    assert (out["stck_prpr"], out["prdy_vrss"], out["prdy_vrss_sign"], out["acml_vol"]) == (
        "71500",
        "500",
        "2",
        "900",
    )
    assert out["stck_sdpr"] == "71000" and out["aspr_unit"] == "100"
    lower = client.get(
        INQUIRE_PRICE,
        params={"fid_cond_mrkt_div_code": "J", "fid_input_iscd": "005930"},
        headers={k.upper(): v for k, v in _headers(token).items()},
    )
    assert lower.json()["output"]["stck_prpr"] == "71500"  # header and query names are case-insensitive


def test_inquire_price_errors(env) -> None:
    client, clock, _, reg, _ = env
    token = client.post("/oauth2/tokenP", json=TOKEN_BODY).json()["access_token"]
    r = _price(client, "not-a-token")
    assert r.status_code == 500 and r.json() == {
        "rt_cd": "1",
        "msg1": "유효하지 않은 token 입니다.",
        "msg_cd": "EGW00121",
    }
    assert _price(client, token, tr_id="FHKST0000").json()["rt_cd"] == "1"
    assert _price(client, token, custtype="X").json()["msg_cd"] == "EGW00208"
    no_auth = client.get(INQUIRE_PRICE, params={"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"})
    assert no_auth.status_code == 500 and no_auth.json()["msg_cd"] == "EGW00122"
    bad_code = client.get(
        INQUIRE_PRICE,
        params={"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "5930"},
        headers=_headers(token),
    )
    assert bad_code.json()["rt_cd"] == "1"
    clock.advance(86_400)
    expired = _price(client, token)
    assert expired.status_code == 500 and expired.json()["msg_cd"] == "EGW00123"


def test_per_second_budget(env) -> None:
    client, clock, *_ = env
    token = client.post("/oauth2/tokenP", json=TOKEN_BODY).json()["access_token"]
    clock.set(int(clock.now()) + 1)
    codes = [_price(client, token).json().get("msg_cd") for _ in range(3)]
    assert codes == ["MCA00000", "MCA00000", "EGW00201"]  # mock budget: 2 per second
    clock.advance(1)
    assert _price(client, token).json()["msg_cd"] == "MCA00000"


def test_a_frozen_step_clock_does_not_refuse_a_retrying_client_forever(env) -> None:
    """Step mode: the exchange clock stands still while python-kis retries EGW00201 every 0.1 s on its
    own clock. Once the client's second is over, the budget is back (it was refused forever before)."""
    client, clock, _, _, wall = env
    token = client.post("/oauth2/tokenP", json=TOKEN_BODY).json()["access_token"]
    assert [_price(client, token).json()["msg_cd"] for _ in range(3)] == ["MCA00000", "MCA00000", "EGW00201"]
    wall.advance(0.5)  # same second on both clocks: still refused
    assert _price(client, token).json()["msg_cd"] == "EGW00201"
    wall.advance(0.5)
    assert [_price(client, token).json()["msg_cd"] for _ in range(3)] == ["MCA00000", "MCA00000", "EGW00201"]


def test_revoke(env) -> None:
    client, *_ = env
    token = client.post("/oauth2/tokenP", json=TOKEN_BODY).json()["access_token"]
    r = client.post("/oauth2/revokeP", json={"appkey": APPKEY, "appsecret": SECRET, "token": token})
    assert r.json() == {"code": 200, "message": "접근토큰 폐기에 성공하였습니다"}
    assert _price(client, token).json()["msg_cd"] == "EGW00121"


def test_environments_have_disjoint_registries() -> None:
    clock, market = ManualClock(T0), MarketState()
    live, mock = Registry("live"), Registry("mock")
    live_app = TestClient(create_app(live, market, clock, other_registries=(mock,)))
    mock_app = TestClient(create_app(mock, market, clock, other_registries=(live,)))
    token = mock_app.post("/oauth2/tokenP", json=TOKEN_BODY).json()["access_token"]
    r = live_app.get(
        INQUIRE_PRICE,
        params={"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
        headers=_headers(token),
    )
    assert r.status_code == 500 and r.json()["msg_cd"] == "EGW02004"  # mock key on the live domain
    approval = mock_app.post(
        "/oauth2/Approval", json={"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET}
    ).json()["approval_key"]
    assert mock.appkey_for_approval(approval) == APPKEY and live.appkey_for_approval(approval) is None


def _search(client: TestClient, token: str, code: str, product_type: str = "300", **extra: str):
    return client.get(
        SEARCH_INFO,
        params={"PDNO": code, "PRDT_TYPE_CD": product_type},
        headers=_headers(token, **{"tr_id": "CTPF1604R", **extra}),
    )


def test_search_info_names_known_products_and_finds_nothing_else() -> None:
    """python-kis calls CTPF1604R for every `kis.stock(code)` and takes the symbol from `shtn_pdno`."""
    clock, market, reg = ManualClock(T0), MarketState(), Registry("live")
    products = Catalogue(
        ["123450"], {"900110": {"name": "테스트종목", "name_eng": "TEST CO", "listed": "20200102"}}
    )
    client = TestClient(create_app(reg, market, clock, products=products))
    token = client.post("/oauth2/tokenP", json=TOKEN_BODY).json()["access_token"]
    r = _search(client, token, "005930")
    assert r.status_code == 200 and r.headers["tr_id"] == "CTPF1604R"
    body = r.json()
    assert (body["rt_cd"], body["msg_cd"]) == ("0", "MCA00000")
    out = body["output"]
    assert (out["shtn_pdno"], out["pdno"], out["std_pdno"]) == ("005930", "00000A005930", "KR7005930003")
    assert (out["prdt_abrv_name"], out["prdt_type_cd"]) == ("삼성전자", "300")
    assert all(isinstance(v, str) for v in out.values()) and len(out) == 20  # the CTPF1604R column list
    assert (
        _search(client, token, "900110").json()["output"]["prdt_eng_abrv_name"] == "TEST CO"
    )  # session.json
    assert _search(client, token, "123450").json()["output"]["prdt_name"] == "종목123450"  # traded on tape
    for code, kind in (("999999", "300"), ("005930", "512")):  # unknown code, overseas type
        miss = _search(client, token, code, kind).json()
        assert (miss["rt_cd"], miss["msg_cd"]) == ("7", "KIOK0007") and "output" not in miss
    assert (
        client.get(
            SEARCH_INFO, params={"PRDT_TYPE_CD": "300"}, headers=_headers(token, tr_id="CTPF1604R")
        ).json()["msg1"]
        == "ERROR : INPUT_FIELD_NAME PDNO"
    )
    assert _search(client, token, "005930", tr_id="FHKST01010100").json()["msg_cd"] == "OPSQ0002"
    assert (
        client.get(SEARCH_INFO, params={"PDNO": "005930", "PRDT_TYPE_CD": "300"}).json()["msg_cd"]
        == "EGW00122"
    )


def test_isin_check_digits_match_krx() -> None:
    assert [isin(c) for c in ("005930", "000660", "035720", "035420", "005380")] == [
        "KR7005930003",
        "KR7000660001",
        "KR7035720002",
        "KR7035420009",
        "KR7005380001",
    ]


def test_inquire_price_dates_are_dates_and_extremes_bracket_the_price(env) -> None:
    """Clients parse the *_date fields as YYYYMMDD (python-kis's quote() raised on the "0" we sent)."""
    client, *_ = env
    token = client.post("/oauth2/tokenP", json=TOKEN_BODY).json()["access_token"]
    out = _price(client, token).json()["output"]
    dates = [k for k in out if k.endswith("_date")]
    assert len(dates) == 6 and {out[k] for k in dates} == {"20261125"}
    price = int(out["stck_prpr"])
    for hi, lo in (
        ("w52_hgpr", "w52_lwpr"),
        ("d250_hgpr", "d250_lwpr"),
        ("stck_dryy_hgpr", "stck_dryy_lwpr"),
    ):
        assert int(out[hi]) >= price >= int(out[lo]) > 0


def test_unknown_paths_answer_json_404(env) -> None:
    """Was a 500 with a plain-text body: the 404 handler returned an un-awaited coroutine."""
    client, *_ = env
    r = client.get("/uapi/overseas-price/v1/quotations/price")
    assert r.status_code == 404 and r.json()["msg_cd"] == "EGW00003"
