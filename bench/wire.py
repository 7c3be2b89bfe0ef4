"""Loopback benchmarks: gateway ingest vs a bare websockets receive loop; fakekis replay asap vs a bare
websockets server; fakekis pacing error at --speed 1. Everything on 127.0.0.1, bounded in count."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any

import websockets
from websockets.asyncio.server import serve

from bench.common import ROOT
from bench.sender import serve_frames
from fakekis import tape
from fakekis.serve.server import FakeKis
from fakekis.wire import frames as fk
from gateway.cache import QuoteCache
from gateway.config import from_env
from gateway.metrics import Metrics
from gateway.redact import Redactor, StageLog
from gateway.session import subscribe_message
from gateway.worker import QuoteWorker
from kisclock import WallClock

N = 100_000
REPEATS = 5


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
    cfg = from_env(
        {
            "KIS_APP_KEY": "PSbench" + "0" * 29,
            "KIS_APP_SECRET": "s" * 180,
            "KIS_SYMBOLS": "005930",
            "KIS_REST_URL": "http://127.0.0.1:9",
            "KIS_WS_URL": url,
            "GATEWAY_TOKEN_DIR": "/tmp/kis-bench",
        }
    )
    metrics = Metrics()
    worker = QuoteWorker(cfg, _Rest(), QuoteCache(), metrics, StageLog(Redactor(cfg.secrets)), WallClock())  # type: ignore[arg-type]
    done = asyncio.Event()
    handle = worker.on_message

    def on_message(session, text):  # the real handler, plus a stop signal at the N-th data frame
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
    """Both receivers against `bench.sender` in its own process (sharing a process with the sender made the
    receivers compete with it for one core and understated both)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.sender", str(N), stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    assert proc.stdout is not None
    url = f"ws://127.0.0.1:{int(await proc.stdout.readline())}"
    out: dict[str, list[float]] = {"bare websockets loop": [], "gateway worker": []}
    try:
        for _ in range(REPEATS):
            out["bare websockets loop"].append(N / await _bare_receive(url, N))
            out["gateway worker"].append(N / await _gateway_receive(url, N))
    finally:
        proc.terminate()
        await proc.wait()
    return {k: _summary(v) for k, v in out.items()}


async def replay_asap() -> dict[str, Any]:
    rec = tape.load(ROOT / "recordings" / "healthy-morning-synthetic")
    texts = [f.text for f in rec.data_frames()]
    out: dict[str, list[float]] = {"bare websockets server": [], "fakekis replay asap": []}
    for _ in range(REPEATS):
        server = await serve_frames(texts)
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
        key = (
            await http.post(
                "/oauth2/Approval",
                json={"grant_type": "client_credentials", "appkey": "A" * 36, "secretkey": "s" * 180},
            )
        ).json()["approval_key"]
    async with websockets.connect(urls["ws_url"], ping_interval=None, compression=None) as ws:
        start = time.perf_counter()
        for tr_id, tr_key in rec.subscriptions:
            await ws.send(subscribe_message(key, tr_id, tr_key))
        got = 0
        while got < n:
            if (await ws.recv())[:2] == "0|":
                got += 1
        return time.perf_counter() - start


PACE_S = 30.0
PACE_RUNS = 3


async def _pace_client(url: str, key: str) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.paceclient",
        url,
        key,
        str(PACE_S),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, _ = await proc.communicate()
    return json.loads(out)


async def _paced_bare_server(texts: list[tuple[float, str]]):
    """The floor: a bare websockets server that acks, then sends each frame at its tape time with the same
    precise sleep fakekis uses (what the machine and websockets allow, with no fakekis in the way)."""
    clock = WallClock()

    tasks: set[asyncio.Task[None]] = set()

    async def handler(ws):
        started = None
        async for raw in ws:
            inp = json.loads(raw)["body"]["input"]
            await ws.send(
                fk.control(
                    inp["tr_id"],
                    inp["tr_key"],
                    "0",
                    "OPSP0000",
                    "SUBSCRIBE SUCCESS",
                    {"iv": "0123456789abcdef", "key": "a" * 32},
                )
            )
            if started is None:
                started = clock.now()
                task = asyncio.create_task(send_all(ws, started))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    async def send_all(ws, started: float) -> None:
        for t, text in texts:
            await clock.sleep_until_precise(started + t)
            await ws.send(text)

    return await serve(handler, "127.0.0.1", 0, ping_interval=None, compression=None)


def _errors(errors: list[float]) -> dict[str, Any]:
    errors = sorted(abs(e) for e in errors)
    return {
        "frames": len(errors),
        "p50_ms": round(statistics.median(errors), 3),
        "p99_ms": round(errors[int(len(errors) * 0.99) - 1], 3),
        "max_ms": round(errors[-1], 3),
    }


async def _pacing_once(rec: tape.Recording) -> dict[str, dict[str, Any]]:
    import httpx

    out: dict[str, dict[str, Any]] = {}
    async with FakeKis(rec, speed=1.0) as kis:
        urls = kis.urls["mock"]
        async with httpx.AsyncClient(base_url=urls["rest_url"]) as http:
            key = (
                await http.post(
                    "/oauth2/Approval",
                    json={"grant_type": "client_credentials", "appkey": "A" * 36, "secretkey": "s" * 180},
                )
            ).json()["approval_key"]
        out["fakekis"] = _errors(await _pace_client(urls["ws_url"], key))
    frames = [(f.t, f.text) for f in rec.data_frames() if f.t <= PACE_S]
    server = await _paced_bare_server(frames)
    out["bare paced server"] = _errors(
        await _pace_client(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}", "k")
    )
    server.close()
    return out


async def pacing() -> dict[str, Any]:
    """fakekis --speed 1 vs the floor, each measured by a client in its own process over PACE_S of tape,
    PACE_RUNS times (a p99 of ~230 frames is the third-worst frame: one run says little)."""
    rec = tape.load(ROOT / "recordings" / "healthy-morning-synthetic")
    runs = [await _pacing_once(rec) for _ in range(PACE_RUNS)]
    out: dict[str, Any] = {"seconds": PACE_S, "runs": PACE_RUNS}
    for name in ("fakekis", "bare paced server"):
        rs = [r[name] for r in runs]
        out[name] = {
            "frames": rs[0]["frames"],
            "p50_ms": statistics.median(r["p50_ms"] for r in rs),
            "p99_ms": statistics.median(r["p99_ms"] for r in rs),
            "p99_ms_range": [min(r["p99_ms"] for r in rs), max(r["p99_ms"] for r in rs)],
            "max_ms": max(r["max_ms"] for r in rs),
        }
    return out


def _summary(rates: list[float]) -> dict[str, float]:
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "runs": len(rates)}


def run() -> dict[str, Any]:
    return {
        "ingest": asyncio.run(ingest()),
        "replay": asyncio.run(replay_asap()),
        "pacing": asyncio.run(pacing()),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, default=str))
