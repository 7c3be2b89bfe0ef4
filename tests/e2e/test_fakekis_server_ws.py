"""fakekis over real sockets with a plain `websockets` client (no gateway code in the loop): what a
user's own KIS client would see."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from conftest import APPKEY, SECRET, eventually, kst, trade, write_recording
from fakekis import tape
from fakekis.serve.player import Player
from fakekis.serve.server import FakeKis
from fakekis.tape.format import TapeFrame
from fakekis.wire import frames
from gateway.session import subscribe_message
from kisclock import ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]


async def _approval(rest_url: str) -> str:
    async with httpx.AsyncClient(base_url=rest_url) as http:
        r = await http.post(
            "/oauth2/Approval",
            json={"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET},
        )
        return r.json()["approval_key"]


async def test_pong_frames_and_text_echoes_are_both_accepted() -> None:
    clock = ManualClock(kst(2026, 11, 25, 9, 0))
    async with FakeKis(None, clock=clock, ping_interval=10) as kis:
        urls = kis.urls["mock"]
        async with websockets.connect(urls["ws_url"], ping_interval=None) as ws:
            await ws.send(subscribe_message(await _approval(urls["rest_url"]), "H0STCNT0", "005930"))
            assert json.loads(await ws.recv())["body"]["msg_cd"] == "OPSP0000"
            clock.advance(10)
            ping = await ws.recv()
            assert json.loads(ping) == {
                "header": {"tr_id": "PINGPONG", "datetime": "20261125090010"}
            }  # 10 s after start
            await ws.pong(ping.encode())  # the official samples' answer
            await ws.send(ping)  # python-kis's answer
            await eventually(
                lambda: kis.stats("mock")["pong_frames"] == 1 and kis.stats("mock")["ping_echoes"] == 1,
                what="both answers seen",
            )
            assert kis.stats("mock")["parse_errors"] == 0
            await ws.send("not json")  # a parse error keeps the connection
            body = json.loads(await ws.recv())["body"]
            assert (body["rt_cd"], body["msg_cd"]) == ("9", "OPSP9999")
            clock.advance(10)
            assert json.loads(await ws.recv())["header"]["tr_id"] == "PINGPONG"


async def test_second_session_is_refused_then_dropped_without_a_close_frame() -> None:
    async with FakeKis(None) as kis:
        urls = kis.urls["mock"]
        key = await _approval(urls["rest_url"])
        async with websockets.connect(urls["ws_url"], ping_interval=None) as first:
            await first.send(subscribe_message(key, "H0STCNT0", "005930"))
            await first.recv()
            async with websockets.connect(urls["ws_url"], ping_interval=None) as second:
                await second.send(subscribe_message(key, "H0STCNT0", "000660"))
                reply = json.loads(await second.recv())
                assert reply["header"]["tr_id"] == "(null)" and reply["body"]["msg_cd"] == "OPSP8996"
                with pytest.raises(ConnectionClosed) as closed:
                    await second.recv()
                assert closed.value.rcvd is None  # no close frame: 1006 on the client side
            await first.send(subscribe_message(key, "H0STCNT0", "000660"))
            assert json.loads(await first.recv())["body"]["msg_cd"] == "OPSP0000"  # the owner is untouched


async def test_live_and_mock_are_separate_servers_with_separate_keys() -> None:
    async with FakeKis(None, envs=("live", "mock")) as kis:
        ports = {u.rsplit(":", 1)[1] for env in kis.urls.values() for u in env.values()}
        assert len(ports) == 4
        mock_key = await _approval(kis.urls["mock"]["rest_url"])
        async with websockets.connect(kis.urls["live"]["ws_url"], ping_interval=None) as ws:
            await ws.send(subscribe_message(mock_key, "H0STCNT0", "005930"))
            assert json.loads(await ws.recv())["body"]["msg_cd"] == "OPSP0011"  # a mock key on the live port


async def test_player_paces_by_the_clock_at_any_speed() -> None:
    clock = ManualClock(1000.0)
    emitted: list[tuple[float, float]] = []

    async def emit(f: TapeFrame) -> None:
        emitted.append((f.t, clock.now()))

    frames = [
        TapeFrame(t, "H0STCNT0", "005930", 1, "0|H0STCNT0|001|x", i) for i, t in enumerate((0.0, 1.0, 3.0))
    ]
    player = Player(frames, clock, 2.0, 5000.0, emit)
    task = asyncio.create_task(player.run())
    player.start()
    for _ in range(6):
        await asyncio.sleep(0)
    assert [t for t, _ in emitted] == [0.0] and player.market_now() == 5000.0
    clock.advance(0.5)
    await eventually(lambda: len(emitted) == 2, what="second frame")
    assert player.market_now() == 5001.0  # 0.5 s at speed 2 is one recorded second
    clock.advance(1.0)
    await eventually(player.done.is_set, what="done")
    assert emitted == [(0.0, 1000.0), (1.0, 1000.5), (3.0, 1001.5)]
    await task

    asap: list[tuple[float, float]] = []
    fast = Player(frames, clock, None, 5000.0, lambda f: _append(asap, f, clock))
    fast.start()
    await fast.run()
    assert [t for t, _ in asap] == [0.0, 1.0, 3.0] and {now for _, now in asap} == {clock.now()}


async def _append(sink: list, f: TapeFrame, clock: ManualClock) -> None:
    sink.append((f.t, clock.now()))


def test_step_mode_over_real_sockets_driven_by_the_control_api() -> None:
    import os
    import subprocess
    import sys

    from websockets.sync.client import connect

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fakekis",
            "serve",
            "--clock",
            "manual",
            "--ping-interval",
            "10",
            "--scenario",
            "drop",
            "--start-on",
            "ready",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["clock"] == "manual"
        rest = ready["rest_url"]
        key = httpx.post(
            rest + "/oauth2/Approval",
            json={"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET},
        ).json()["approval_key"]
        with connect(ready["ws_url"]) as ws:
            ws.send(subscribe_message(key, "H0STCNT0", "005930"))
            assert json.loads(ws.recv(timeout=5))["body"]["msg_cd"] == "OPSP0000"
            start = httpx.get(rest + "/__fakekis/clock").json()
            assert start["now"] == "2026-11-25T09:05:00+09:00" and start["manual"] is True
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.3)  # time stands still: no trades, no PINGPONG
            r = httpx.post(rest + "/__fakekis/clock", json={"advance": 1.0})
            assert r.json()["now"] == "2026-11-25T09:05:01+09:00"
            assert ws.recv(timeout=5).startswith("0|H0STCNT0|001|005930^090500^")  # the tape moved one second
            httpx.post(rest + "/__fakekis/clock", json={"advance": 4.0})  # the drop fault is due at 5 s
            with pytest.raises(ConnectionClosed):
                while True:
                    ws.recv(timeout=5)
        assert httpx.post(rest + "/__fakekis/clock", json={"advance": -1}).status_code == 400
    finally:
        proc.terminate()
        _, err = proc.communicate(
            timeout=15
        )  # reads and closes both pipes (an open one is a ResourceWarning)
    assert proc.returncode == 0, err


async def test_search_info_knows_what_the_recording_names_and_trades(tmp_path) -> None:
    """FakeKis hands the recording to search-info: session.json `products` by name, every traded or
    subscribed code at least by placeholder, nothing else (rt_cd 7)."""
    start = kst(2026, 11, 25, 9, 5)
    root = write_recording(
        tmp_path / "rec",
        start,
        [(0.5, frames.data_frame("H0STCNT0", [trade("900110", "090500", 10_100, 10_000, 5)]))],
        [("H0STCNT0", "900110"), ("H0STCNT0", "900120")],
    )
    session = json.loads((root / "session.json").read_text())
    session["products"] = {"900110": {"name": "테스트전자", "name_eng": "TEST ELEC"}}
    (root / "session.json").write_text(json.dumps(session, ensure_ascii=False), encoding="utf-8")
    async with (
        FakeKis(tape.load(root), clock=ManualClock(start)) as kis,
        httpx.AsyncClient(base_url=kis.urls["mock"]["rest_url"]) as http,
    ):
        token = (
            await http.post(
                "/oauth2/tokenP",
                json={"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET},
            )
        ).json()["access_token"]

        async def name(code: str) -> str | None:
            r = await http.get(
                "/uapi/domestic-stock/v1/quotations/search-info",
                params={"PDNO": code, "PRDT_TYPE_CD": "300"},
                headers={
                    "authorization": f"Bearer {token}",
                    "appkey": APPKEY,
                    "appsecret": SECRET,
                    "tr_id": "CTPF1604R",
                },
            )
            return r.json().get("output", {}).get("prdt_abrv_name")

        assert [await name(c) for c in ("900110", "900120", "900130")] == ["테스트전자", "종목900120", None]


async def test_a_client_that_never_answers_pingpong_is_dropped_at_the_deadline() -> None:
    clock = ManualClock(kst(2026, 11, 25, 9, 0))
    start = clock.now()
    async with FakeKis(None, clock=clock, ping_interval=10, pingpong_deadline=30) as kis:
        async with websockets.connect(kis.urls["mock"]["ws_url"], ping_interval=None) as ws:
            for _ in range(3):  # PINGPONGs at 10, 20, 30 s, none answered: the first one starts the clock
                clock.advance(10)
                assert json.loads(await ws.recv())["header"]["tr_id"] == "PINGPONG"
            assert kis.stats("mock")["drops"] == {}  # 30 s: 20 s after the first PINGPONG, still up
            clock.advance(10)  # 40 s: 30 s after the first unanswered PINGPONG

            async def until_closed() -> None:
                while True:
                    assert json.loads(await ws.recv())["header"]["tr_id"] == "PINGPONG"

            with pytest.raises(ConnectionClosed) as closed:  # a bound in real time, not a pace:
                await asyncio.wait_for(until_closed(), 10)  # TimeoutError = "never dropped"
            assert closed.value.rcvd is None  # no close frame: 1006, as KIS does
            stats = kis.stats("mock")
            assert stats["pingpong_deadline_drops"] == 1 and stats["drops"] == {"pingpong-deadline": 1}
            assert clock.now() == start + 40
