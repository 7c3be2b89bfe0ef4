"""Loopback benchmarks: gateway ingest vs a bare websockets receive loop; fakekis replay asap vs a bare
websockets server; fakekis pacing error at --speed 1. Everything on 127.0.0.1, bounded in count."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import websockets
from websockets.asyncio.server import serve

from bench.common import ROOT, trade_frames
from fakekis import frames as fk
from fakekis import tape
from fakekis.server import FakeKis
from gateway.cache import QuoteCache
from gateway.config import from_env
from gateway.metrics import Metrics
from gateway.redact import Redactor, StageLog
from gateway.session import subscribe_message
from gateway.worker import QuoteWorker
from kisclock import WallClock

N = 20_000
REPEATS = 5


async def _sender(texts: list[str]):
    """A minimal KIS-speaking sender: ack the first subscribe, then send every frame as fast as possible."""

    async def handler(ws):
        msg = json.loads(await ws.recv())
        inp = msg["body"]["input"]
        await ws.send(fk.control(inp["tr_id"], inp["tr_key"], "0", "OPSP0000", "SUBSCRIBE SUCCESS",
                                 {"iv": "0123456789abcdef", "key": "a" * 32}))
        for text in texts:
            await ws.send(text)
        await ws.wait_closed()

    return await serve(handler, "127.0.0.1", 0, ping_interval=None, compression=None)


async def _bare_receive(url: str, n: int) -> float:
    async with websockets.connect(url, ping_interval=None, compression=None) as ws:
        start = time.perf_counter()
        await ws.send(subscribe_message("k", "H0STCNT0", "005930"))
        await ws.recv()
        for _ in range(n):
            await ws.recv()
        return time.perf_counter() - start


class _Rest:
    async def approval_key(self, fresh: bool = False) -> str:
        return "k"


async def _gateway_receive(url: str, n: int) -> float:
    cfg = from_env({"KIS_APP_KEY": "PSbench" + "0" * 29, "KIS_APP_SECRET": "s" * 180, "KIS_SYMBOLS": "005930",
                    "KIS_REST_URL": "http://127.0.0.1:9", "KIS_WS_URL": url, "GATEWAY_TOKEN_DIR": "/tmp/kis-bench"})
    metrics = Metrics()
    worker = QuoteWorker(cfg, _Rest(), QuoteCache(), metrics, StageLog(Redactor(cfg.secrets)), WallClock())  # type: ignore[arg-type]
    done = asyncio.Event()
    handle = worker.on_message

    def on_message(session, text):   # the real handler, plus a stop signal at the N-th data frame
        replies = handle(session, text)
        if metrics.ws_messages >= n:
            done.set()
        return replies

    worker.on_message = on_message  # type: ignore[method-assign]
    start = time.perf_counter()
    task = asyncio.create_task(worker.connect_once())
    await done.wait()
    elapsed = time.perf_counter() - start
    task.cancel()
    return elapsed


async def ingest() -> dict[str, Any]:
    single = trade_frames()
    texts = (single * (N // len(single) + 1))[:N]
    server = await _sender(texts)
    url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    out: dict[str, list[float]] = {"bare websockets loop": [], "gateway worker": []}
    for _ in range(REPEATS):
        out["bare websockets loop"].append(N / await _bare_receive(url, N))
        out["gateway worker"].append(N / await _gateway_receive(url, N))
    server.close()
    return {k: _summary(v) for k, v in out.items()}


async def replay_asap() -> dict[str, Any]:
    rec = tape.load(ROOT / "recordings" / "healthy-morning-synthetic")
    texts = [f.text for f in rec.data_frames()]
    out: dict[str, list[float]] = {"bare websockets server": [], "fakekis replay asap": []}
    for _ in range(REPEATS):
        server = await _sender(texts)
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        out["bare websockets server"].append(len(texts) / await _bare_receive(url, len(texts)))
        server.close()
        async with FakeKis(rec, speed=None) as kis:
            out["fakekis replay asap"].append(len(texts) / await _all_subscriptions(kis, rec, len(texts)))
    return {k: _summary(v) for k, v in out.items()}


async def _all_subscriptions(kis: FakeKis, rec: tape.Recording, n: int) -> float:
    import httpx

    urls = kis.urls["mock"]
    async with httpx.AsyncClient(base_url=urls["rest_url"]) as http:
        key = (await http.post("/oauth2/Approval", json={"grant_type": "client_credentials", "appkey": "A" * 36,
                                                         "secretkey": "s" * 180})).json()["approval_key"]
    async with websockets.connect(urls["ws_url"], ping_interval=None, compression=None) as ws:
        start = time.perf_counter()
        for tr_id, tr_key in rec.subscriptions:
            await ws.send(subscribe_message(key, tr_id, tr_key))
        got = 0
        while got < n:
            if (await ws.recv())[:2] == "0|":
                got += 1
        return time.perf_counter() - start


async def pacing(seconds: float = 15.0) -> dict[str, Any]:
    rec = tape.load(ROOT / "recordings" / "healthy-morning-synthetic")
    frames = [f for f in rec.data_frames() if f.t <= seconds]
    arrivals: list[float] = []
    async with FakeKis(rec, speed=1.0) as kis:
        import httpx

        urls = kis.urls["mock"]
        async with httpx.AsyncClient(base_url=urls["rest_url"]) as http:
            key = (await http.post("/oauth2/Approval", json={"grant_type": "client_credentials", "appkey": "A" * 36,
                                                             "secretkey": "s" * 180})).json()["approval_key"]
        async with websockets.connect(urls["ws_url"], ping_interval=None, compression=None) as ws:
            for tr_id, tr_key in rec.subscriptions:
                await ws.send(subscribe_message(key, tr_id, tr_key))
            while len(arrivals) < len(frames):
                msg = await ws.recv()
                if msg[:2] == "0|":
                    arrivals.append(time.perf_counter())
        started = kis.player.started_at
    base = arrivals[0] - frames[0].t
    errors = sorted(abs((a - base) - f.t) * 1000 for a, f in zip(arrivals, frames, strict=True))
    return {"frames": len(frames), "p50_ms": round(statistics.median(errors), 3),
            "p99_ms": round(errors[int(len(errors) * 0.99) - 1], 3), "max_ms": round(errors[-1], 3),
            "started": started is not None}


def _summary(rates: list[float]) -> dict[str, float]:
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "runs": len(rates)}


def run() -> dict[str, Any]:
    return {"ingest": asyncio.run(ingest()), "replay": asyncio.run(replay_asap()), "pacing": asyncio.run(pacing())}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, default=str))
