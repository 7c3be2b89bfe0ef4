"""Run by tests/e2e/test_plugin_record_modes.py in its own pytest process (never collected here: the
file name does not start with test_). A local fakekis stands in for KIS as the upstream."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from fakekis import tape
from fakekis.serve.server import FakeKis

SEEN = Path(os.environ["UPSTREAM_SEEN"])  # one line per test that started the upstream
SYMBOL = os.environ.get("SYMBOL", "005930")


@pytest.fixture
def fake_kis_upstream() -> Iterator[dict[str, str]]:
    loop = asyncio.new_event_loop()
    kis = FakeKis(tape.load(tape.bundled(tape.DEFAULT_BUNDLED)), speed=1.0)  # KIS streams at its pace
    loop.run_until_complete(kis.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    with SEEN.open("a") as f:
        f.write("upstream\n")
    try:
        yield kis.urls["mock"]
    finally:
        asyncio.run_coroutine_threadsafe(kis.stop(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        loop.close()


@pytest.mark.fake_kis(record="once")
def test_price_and_a_trade(fake_kis) -> None:
    keys = {"appkey": fake_kis.appkey}
    with httpx.Client(base_url=fake_kis.rest_url, timeout=10) as http:
        token = http.post(
            "/oauth2/tokenP",
            json={"grant_type": "client_credentials", **keys, "appsecret": fake_kis.appsecret},
        ).json()["access_token"]
        approval = http.post(
            "/oauth2/Approval",
            json={"grant_type": "client_credentials", **keys, "secretkey": fake_kis.appsecret},
        ).json()["approval_key"]
        price = http.get(
            "/uapi/domestic-stock/v1/quotations/inquire-price",
            params={"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": SYMBOL},
            headers={
                "authorization": f"Bearer {token}",
                **keys,
                "appsecret": fake_kis.appsecret,
                "tr_id": "FHKST01010100",
                "custtype": "P",
            },
        ).json()
    assert price["rt_cd"] == "0", price
    with connect(fake_kis.ws_url) as ws:
        header = {"approval_key": approval, "custtype": "P", "tr_type": "1", "content-type": "utf-8"}
        ws.send(json.dumps({"header": header, "body": {"input": {"tr_id": "H0STCNT0", "tr_key": "005930"}}}))
        assert json.loads(ws.recv(timeout=10))["body"]["msg_cd"] == "OPSP0000"
        while True:
            frame = ws.recv(timeout=10)
            if frame.startswith("0|H0STCNT0|"):
                break
    stats = fake_kis.stats()
    out = {"recording": fake_kis.recording, "price": price["output"]["stck_prpr"]}
    if not fake_kis.recording:
        out["rest_hits"] = stats["rest_replay"]["hits"]
    with Path(os.environ["RESULTS"]).open("a") as f:
        f.write(json.dumps(out) + "\n")
