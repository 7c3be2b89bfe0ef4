"""Replay in batches (fakekis/serve/player.py, fanout.py, connection.py): the frames already due are emitted
back to back and each socket's share is written in one go. What must not change: every frame arrives, in
tape order, counted once (stats and ledger), only to the sessions that registered; and the player never
leaves frames queued while another task runs (a REST call or a test looking at `caught_up` sees them sent).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import websockets

from conftest import APPKEY, SECRET, eventually, kst, trade, write_recording
from fakekis import tape
from fakekis.serve.player import BATCH
from fakekis.serve.server import FakeKis
from fakekis.wire import frames
from gateway.session import subscribe_message
from kisclock import ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]
START = kst(2026, 11, 25, 9, 0)


def _frame(symbol: str, i: int, records: int = 1) -> str:
    recs = [
        trade(symbol, f"0900{i % 60:02d}", 70000 + i, 70000, 10 * i + r, qty=r + 1) for r in range(records)
    ]
    return frames.data_frame("H0STCNT0", recs)


async def _subscribed(urls: dict[str, str], ws: websockets.ClientConnection) -> None:
    async with httpx.AsyncClient(base_url=urls["rest_url"]) as http:
        r = await http.post(
            "/oauth2/Approval",
            json={"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET},
        )
    await ws.send(subscribe_message(r.json()["approval_key"], "H0STCNT0", "005930"))
    assert json.loads(await ws.recv())["body"]["msg_cd"] == "OPSP0000"


async def _data(ws: websockets.ClientConnection, n: int) -> list[str]:
    async def read() -> list[str]:
        got: list[str] = []
        while len(got) < n:
            msg = await ws.recv()
            if isinstance(msg, str) and msg.startswith("0|"):
                got.append(msg)
        return got

    try:
        return await asyncio.wait_for(read(), 20)
    except asyncio.TimeoutError:
        raise AssertionError(f"fewer than {n} data frames arrived in 20 s (real time)") from None


async def test_an_asap_replay_arrives_whole_in_order_counted_once_and_never_waits_queued(
    tmp_path: Path,
) -> None:
    """Catches a batch that loses, reorders or double-counts frames, a flush forgotten before a yield or at
    the end, and a frame sent to a session that did not register its symbol."""
    ours = [_frame("005930", i, records=1 + i % 3) for i in range(5 * BATCH + 7)]
    theirs = [_frame("000660", i) for i in range(len(ours))]
    tape_frames = [(i * 0.01, text) for i, pair in enumerate(zip(ours, theirs, strict=True)) for text in pair]
    rec = tape.load(write_recording(tmp_path / "rec", START, tape_frames))
    async with FakeKis(rec, speed=None, start_on="manual", ledger=True) as kis:
        queued_while_away: list[int] = []

        async def watch() -> None:  # runs whenever the player yields
            while not kis.player.done.is_set():
                if kis.fanout._queued:
                    queued_while_away.append(sum(len(q[1]) for q in kis.fanout._queued.values()))
                await asyncio.sleep(0)

        urls = kis.urls["mock"]
        async with websockets.connect(urls["ws_url"], ping_interval=None) as ws:
            await _subscribed(urls, ws)
            watcher = asyncio.create_task(watch())
            kis.player.start()
            got = await _data(ws, len(ours))
            await asyncio.wait_for(watcher, 10)
        exchange = kis.envs["mock"].exchange
        data = [e for e in kis.history() if e["kind"] == "data"]
    assert got == ours
    assert queued_while_away == []
    assert kis.player.emitted == len(tape_frames)
    assert exchange.stats.frames_sent == len(ours)
    assert exchange.stats.records_sent == sum(1 + i % 3 for i in range(len(ours))) == len(data)


async def test_a_paced_replay_sends_what_is_due_before_it_sleeps(tmp_path: Path) -> None:
    """Catches frames left in the queue while the player waits for the next one (on a manual clock nothing
    would send them until the clock moves), and a burst at one instant split across clock steps."""
    texts = [_frame("005930", i) for i in range(6)]
    at = [0.0, 0.0, 0.0, 1.0, 1.0, 5.0]
    clock = ManualClock(START)
    rec = tape.load(write_recording(tmp_path / "rec", START, list(zip(at, texts, strict=True))))
    async with FakeKis(rec, speed=1.0, clock=clock, start_on="manual", ping_interval=3600) as kis:
        urls = kis.urls["mock"]
        stats = kis.envs["mock"].exchange.stats
        async with websockets.connect(urls["ws_url"], ping_interval=None) as ws:
            await _subscribed(urls, ws)
            kis.player.start()
            for upto, step in ((3, 0.0), (5, 1.0), (6, 4.0)):
                clock.advance(step)
                await eventually(lambda n=upto: kis.player.emitted == n, what=f"{upto} frames emitted")
                # the player has given the loop back: it sleeps, so all it emitted has gone out
                assert stats.frames_sent == upto
            assert await _data(ws, 6) == texts
            await asyncio.wait_for(kis.player.done.wait(), 10)
