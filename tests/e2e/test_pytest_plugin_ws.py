"""The pytest plugin, used the way a KIS user would: plain synchronous `httpx` and `websockets` code
(no gateway, no fakekis internals) talking to the `fake_kis` fixture."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

pytestmark = pytest.mark.ws


def _approval(kis) -> str:
    r = httpx.post(
        kis.rest_url + "/oauth2/Approval",
        json={"grant_type": "client_credentials", "appkey": kis.appkey, "secretkey": kis.appsecret},
    )
    return r.json()["approval_key"]


def _subscribe(ws, key: str, symbol: str) -> dict:
    ws.send(
        json.dumps(
            {
                "header": {"approval_key": key, "custtype": "P", "tr_type": "1", "content-type": "utf-8"},
                "body": {"input": {"tr_id": "H0STCNT0", "tr_key": symbol}},
            }
        )
    )
    return json.loads(ws.recv(timeout=5))


def test_a_plain_client_gets_acks_and_replayed_trades(fake_kis) -> None:
    assert len(fake_kis.appkey) == 36 and len(fake_kis.appsecret) == 180
    with connect(fake_kis.ws_url) as ws:
        assert _subscribe(ws, _approval(fake_kis), "005930")["body"]["msg_cd"] == "OPSP0000"
        frame = ws.recv(timeout=5)
        assert frame.startswith("0|H0STCNT0|") and "005930^" in frame
    token = httpx.post(
        fake_kis.rest_url + "/oauth2/tokenP",
        json={"grant_type": "client_credentials", "appkey": fake_kis.appkey, "appsecret": fake_kis.appsecret},
    ).json()
    price = httpx.get(
        fake_kis.rest_url + "/uapi/domestic-stock/v1/quotations/inquire-price",
        params={"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
        headers={
            "authorization": f"Bearer {token['access_token']}",
            "appkey": fake_kis.appkey,
            "appsecret": fake_kis.appsecret,
            "tr_id": "FHKST01010100",
        },
    ).json()
    assert price["rt_cd"] == "0" and int(price["output"]["stck_prpr"]) > 0


@pytest.mark.fake_kis(manual_clock=True, ping_interval=10)
def test_manual_clock_pingpong_and_a_drop(fake_kis) -> None:
    with connect(fake_kis.ws_url) as ws:
        _subscribe(ws, _approval(fake_kis), "000660")
        fake_kis.advance(10.0)
        texts = [ws.recv(timeout=5) for _ in range(2)]
        while not any("PINGPONG" in t for t in texts):
            texts.append(ws.recv(timeout=5))
        ping = next(t for t in texts if "PINGPONG" in t)
        ws.send(ping)  # answer as python-kis does
        fake_kis.wait_until(lambda s: s["ping_echoes"] == 1)
        assert fake_kis.drop() == 1
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=5)


@pytest.mark.fake_kis(scenario="market-closed")
def test_scenario_marker(fake_kis) -> None:
    with connect(fake_kis.ws_url) as ws:
        assert _subscribe(ws, _approval(fake_kis), "005930")["body"]["msg_cd"] == "OPSP0000"
        stats = fake_kis.wait_until(lambda s: s["replay"]["done"])
        assert stats["frames_sent"] == 0 and stats["scenario"] == [{"fault": "market-closed", "f": "F5"}]


@pytest.mark.fake_kis(env="mock")
def test_pykis_domains_stay_on_loopback(fake_kis) -> None:
    """python-kis's real domain takes the only environment served; an unserved one is a closed loopback
    port, never a KIS host (a test must not reach real KIS by accident)."""
    d = fake_kis.pykis_domains()
    assert (d["REAL_DOMAIN"], d["WEBSOCKET_REAL_DOMAIN"]) == (fake_kis.rest_url, fake_kis.ws_url)
    assert (d["VIRTUAL_DOMAIN"], d["WEBSOCKET_VIRTUAL_DOMAIN"]) == (fake_kis.rest_url, fake_kis.ws_url)
    assert fake_kis.pykis_domains(real="live")["REAL_DOMAIN"] == "http://127.0.0.1:9"
    assert all(url.split("//")[1].startswith("127.0.0.1:") for url in d.values())


@pytest.mark.fake_kis(env="both")
def test_pykis_domains_map_real_to_live_and_virtual_to_mock(fake_kis) -> None:
    d, urls = fake_kis.pykis_domains(), fake_kis.urls
    assert d == {
        "REAL_DOMAIN": urls["live"]["rest_url"],
        "VIRTUAL_DOMAIN": urls["mock"]["rest_url"],
        "WEBSOCKET_REAL_DOMAIN": urls["live"]["ws_url"],
        "WEBSOCKET_VIRTUAL_DOMAIN": urls["mock"]["ws_url"],
    }
