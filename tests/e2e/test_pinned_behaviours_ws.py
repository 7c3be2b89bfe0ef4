"""Behaviours that no other test pinned: each one a realistic bug that once passed the whole suite.
Gateway and fakekis over real loopback sockets on one manual clock, as in test_quote_e2e_mock_kis.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect as aconnect
from websockets.sync.client import connect

from conftest import APPKEY, SECRET, eventually, kst, running, trade, write_recording
from fakekis import faults, tape
from fakekis.serve.server import FakeKis
from fakekis.wire import frames
from gateway.session import subscribe_message
from kisclock import ManualClock, iso_ms

pytestmark = [pytest.mark.anyio, pytest.mark.ws]

WED = kst(2026, 11, 25, 9, 5)


def _falling(tmp: Path, seconds: int = 1) -> tape.Recording:
    """005930 trading below yesterday's close (71,000): KIS sends PRDY_VRSS and PRDY_CTRT signed."""
    out = [
        (0.5 + i, frames.data_frame("H0STCNT0", [trade("005930", f"0905{i:02d}", 70_500, 71_000, 1_000 + i)]))
        for i in range(seconds)
    ]
    return tape.load(write_recording(tmp / "rec", WED, out))


async def test_a_falling_stock_has_a_negative_change_from_ws_and_from_rest(tmp_path: Path) -> None:
    async with running(_falling(tmp_path), ManualClock(WED), tmp_path) as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 1, what="the ack")
        await r.advance(1.0, step=0.5)
        q = await r.quote("005930")
        assert q["source"] == "kis-ws"
        assert (q["price"], q["change"], q["change_rate"]) == (70_500, -500, "-0.70")
        await r.advance(11.0)  # stale: REST answers, from fakekis's market state
        q = await r.quote("005930")
        assert q["source"] == "kis-rest"
        assert (q["price"], q["change"], q["change_rate"]) == (70_500, -500, "-0.70")


async def test_freshness_boundary_is_inclusive(tmp_path: Path) -> None:
    """A tick exactly `freshness_s` old is still served from WS (quotes.select: `age > freshness_s` falls
    back); a millisecond later it is not. README: "no older than"."""
    clock = ManualClock(WED)
    async with running(_falling(tmp_path), clock, tmp_path, GATEWAY_FRESHNESS_MS="4000") as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 1, what="the ack")
        await r.advance(0.5)
        received = r.gw.cache.get("005930").received_at
        assert received == WED + 0.5
        await r.advance(4.0)
        assert clock.now() - received == 4.0
        assert (await r.quote("005930"))["source"] == "kis-ws"
        await r.advance(0.001)
        q = await r.quote("005930")
        assert q["source"] == "kis-rest" and "freshness 4s" in q["fallback_reason"], q


async def test_stage_last_at_moves_on_every_reach_after_a_reconnect(tmp_path: Path) -> None:
    async with running(
        _falling(tmp_path, 30),
        ManualClock(WED),
        tmp_path,
        scenario=faults.Scenario([faults.DropAfter(after_s=5)]),
    ) as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 1, what="the ack")
        await r.advance(2.0)
        await r.quote("005930")
        first = (await r.http.get("/v1/metrics/quote")).json()["stages"]
        await r.advance(3.0)
        await eventually(lambda: not r.metrics.ws_connected, what="the drop")
        await r.reconnect()
        reconnected_at = r.clock.now()
        await eventually(lambda: r.metrics.ws_subscriptions == 1, what="the ack after the reconnect")
        await r.advance(2.0)
        assert (await r.quote("005930"))["source"] == "kis-ws"
        stages = (await r.http.get("/v1/metrics/quote")).json()["stages"]
    assert stages["connected"]["last_at"] == iso_ms(reconnected_at)
    for name in ("connected", "subscribed", "first_message", "cached", "served_ws"):
        assert stages[name]["first_at"] == first[name]["first_at"], name
        assert stages[name]["last_at"] > first[name]["last_at"], (name, first[name], stages[name])
    assert stages["worker_started"]["last_at"] == first["worker_started"]["last_at"]  # one worker


async def _approval(rest_url: str) -> str:
    async with httpx.AsyncClient() as http:
        r = await http.post(
            rest_url + "/oauth2/Approval",
            json={"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET},
        )
    return str(r.json()["approval_key"])


async def test_fakekis_heartbeat_follows_its_ping_interval(tmp_path: Path) -> None:
    clock = ManualClock(WED)
    async with FakeKis(_falling(tmp_path), clock=clock, speed=1.0, ping_interval=3.0) as kis:
        urls = kis.urls["mock"]
        key = await _approval(urls["rest_url"])
        async with aconnect(urls["ws_url"]) as ws:
            await ws.send(subscribe_message(key, "H0STCNT0", "005930"))
            assert json.loads(await ws.recv())["body"]["msg_cd"] == "OPSP0000"
            clock.advance(2.9)
            await eventually(kis.caught_up, what="fakekis to send what is due")
            assert kis.stats("mock")["pingpongs_sent"] == 0
            clock.advance(0.1)
            await eventually(lambda: kis.stats("mock")["pingpongs_sent"] == 1, what="the PINGPONG at 3 s")
            clock.advance(3.0)
            await eventually(lambda: kis.stats("mock")["pingpongs_sent"] == 2, what="the PINGPONG at 6 s")
            texts = [await ws.recv() for _ in range(3)]  # the trade at 0.5 s and two PINGPONGs
        assert sum('"PINGPONG"' in t for t in texts) == 2, texts


def test_fakekis_cli_ping_interval_reaches_the_heartbeat() -> None:
    cmd = [sys.executable, "-m", "fakekis", "serve", "--clock", "manual", "--ping-interval", "2"]
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    ) as proc:
        try:
            assert proc.stdout is not None
            ready = json.loads(proc.stdout.readline())
            rest = ready["rest_url"]
            key = httpx.post(
                rest + "/oauth2/Approval",
                json={"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET},
            ).json()["approval_key"]
            with connect(ready["ws_url"]) as ws:
                ws.send(subscribe_message(key, "H0STCNT0", "000000"))  # a symbol the tape never trades
                assert json.loads(ws.recv(timeout=10))["body"]["msg_cd"] == "OPSP0000"
                httpx.post(rest + "/__fakekis/clock", json={"advance": 2.0})
                assert '"PINGPONG"' in ws.recv(timeout=10)  # at the default 10 s this times out
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
