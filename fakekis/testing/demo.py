"""`fakekis demo`: the whole spine on one machine, no credentials, no network.

fakekis replays a recording in-process; `kis-gateway serve` runs as a separate process configured
by environment variables alone (exactly as a user would point it at real KIS); they meet on loopback
sockets. The demo waits for the six stages, prints quotes and metrics, and says which boundary failed
if one did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
from datetime import datetime
from typing import Any, cast

import httpx

from fakekis.serve.server import FakeKis
from fakekis.tape.format import Recording
from kisclock import KST

DEMO_APPKEY = "PSdemo" + "0" * 30  # 36 chars, like a real appkey
DEMO_SECRET = "demo-secret-" + "x" * 168  # 180 chars
STAGES = ("worker_started", "connected", "subscribed", "first_message", "cached", "served_ws")


def _say(text: str) -> None:
    print(f"demo: {text}", file=sys.stderr, flush=True)


async def run_demo(rec: Recording, speed: float | None, timeout: float) -> int:
    symbols = sorted({key for tr, key in rec.subscriptions if tr == "H0STCNT0"})
    async with FakeKis(rec, envs=("mock",), speed=speed, ping_interval=10.0) as kis:
        urls = kis.urls["mock"]
        _say(f"fakekis (mock) ready: REST {urls['rest_url']}  WS {urls['ws_url']}")
        _say(
            f"recording {rec.path.name}: {kis.player.total} frames from {rec.session['start']}"
            f"{' (synthetic)' if rec.synthetic else ''}"
        )
        with tempfile.TemporaryDirectory(prefix="kis-gateway-demo-") as token_dir:
            env = {
                **os.environ,
                "KIS_ENV": "mock",
                "KIS_APP_KEY": DEMO_APPKEY,
                "KIS_APP_SECRET": DEMO_SECRET,
                "KIS_SYMBOLS": ",".join(symbols),
                "KIS_REST_URL": urls["rest_url"],
                "KIS_WS_URL": urls["ws_url"],
                "GATEWAY_CLOCK_START": datetime.fromtimestamp(rec.start, KST).isoformat(),
                "GATEWAY_TOKEN_DIR": token_dir,
                "PYTHONUNBUFFERED": "1",
            }
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "gateway",
                "serve",
                "--port",
                "0",
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            logs: list[str] = []
            drain = asyncio.create_task(_drain(proc.stderr, logs))
            try:
                return await _drive(proc, kis, symbols, timeout, logs)
            finally:
                if proc.returncode is None:
                    proc.terminate()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(proc.wait(), 10)
                    if proc.returncode is None:
                        proc.kill()
                drain.cancel()


async def _drain(stream: asyncio.StreamReader | None, sink: list[str]) -> None:
    assert stream is not None
    while line := await stream.readline():
        text = line.decode("utf-8", "replace").rstrip()
        sink.append(text)
        if text.startswith('{"event"'):
            print(f"gateway: {text}", file=sys.stderr, flush=True)


async def _drive(
    proc: asyncio.subprocess.Process, kis: FakeKis, symbols: list[str], timeout: float, logs: list[str]
) -> int:
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout)
    except asyncio.TimeoutError:
        line = b""
    if not line:
        _say("FAILED at worker start: the gateway did not report ready")
        for text in logs[-10:]:
            _say(f"  gateway: {text}")
        return 1
    url = json.loads(line)["url"]
    _say(f"gateway ready at {url} (KIS_WS_URL/KIS_REST_URL point at fakekis)")
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        metrics = await _await_stages(http, timeout, STAGES[:5], len(symbols))
        if metrics is None:
            metrics = (await http.get("/v1/metrics/quote")).json()
            failed = next((s for s in STAGES if not metrics["stages"][s]["reached"]), None)
            what = f"stage '{failed}' never reached" if failed else "not every symbol got a tick"
            _say(f"FAILED: {what}; last_error={metrics['last_error']!r}")
            for text in logs[-10:]:
                _say(f"  gateway: {text}")
            print(json.dumps(metrics, indent=2, ensure_ascii=False))
            return 1
        sources: dict[str, str] = {}
        for _ in range(3):
            for symbol in symbols:
                quote = (await http.get(f"/v1/quotes/{symbol}")).json()
                sources[symbol] = quote.get("source", "?")
                print(json.dumps(quote, ensure_ascii=False), flush=True)
            await asyncio.sleep(1.0)  # real pacing between polls, so the quotes visibly move
        metrics = (await http.get("/v1/metrics/quote")).json()
        print(json.dumps(metrics, indent=2, ensure_ascii=False), flush=True)
    seen = kis.stats("mock")
    _say(
        f"fakekis sent {seen['frames_sent']} data frames; gateway ingested {metrics['ws_messages']}; "
        f"acks {seen['acks']}; PINGPONGs {seen['pingpongs_sent']}"
    )
    ok = (
        all(v == "kis-ws" for v in sources.values())
        and metrics["ws_connected"]
        and metrics["ws_messages"] > 0
        and all(metrics["stages"][s]["reached"] for s in STAGES)
    )
    if ok:
        _say(f"OK: {len(symbols)}/{len(symbols)} symbols served from kis-ws; all six stages reached")
        return 0
    _say(f"FAILED: sources {sources}; last_error={metrics['last_error']!r}")
    return 1


async def _await_stages(
    http: httpx.AsyncClient, timeout: float, stages: tuple[str, ...], symbols: int
) -> dict[str, Any] | None:
    """Wait until `stages` are reached and every symbol has a cached tick."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    reported: set[str] = set()
    while loop.time() < deadline:
        metrics = (await http.get("/v1/metrics/quote")).json()
        for s in STAGES:
            if metrics["stages"][s]["reached"] and s not in reported:
                reported.add(s)
                _say(f"stage {s} reached at {metrics['stages'][s]['first_at']}")
        if all(metrics["stages"][s]["reached"] for s in stages) and metrics["cached_symbols"] >= symbols:
            return cast("dict[str, Any]", metrics)
        await asyncio.sleep(0.1)  # polling a live service's metrics, bounded by the deadline
    return None
