"""Freshness: fakekis sends -> the trade is visible in GET /v1/quotes/{symbol} of `kis-gateway serve`
(its own process), at 5,000 frames/s, with and without 32 concurrent API clients. Each frame carries its
sequence number in ACML_VOL, so a quote's `volume` says which send it reflects.

Also the full-day row: a synthetic trading day for 40 symbols replayed asap through the gateway."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT
from fakekis import tape
from fakekis.serve.server import FakeKis
from fakekis.tape import synth
from fakekis.wire import frames as fk
from kisclock import KST

RATE = 5_000
SECONDS = 4.0
START = datetime(2026, 11, 25, 10, 0, tzinfo=KST)


def _tape(root: Path) -> tape.Recording:
    lines = []
    for i in range(int(RATE * SECONDS)):
        rec = ["005930", "100000", "71000", "3", "0", "0.00"] + ["0"] * 40
        rec[13], rec[33], rec[44] = str(i + 1), "20261125", ""
        lines.append({"t": round(0.5 + i / RATE, 6), "dir": "recv", "text": fk.data_frame("H0STCNT0", [rec])})
    session = {
        "format": "kis-harness/recording",
        "version": 1,
        "env": "mock",
        "start": START.isoformat(),
        "subscriptions": [["H0STCNT0", "005930"]],
        "synthetic": True,
        "notes": "freshness bench",
    }
    tape.write(root, session, [tape.WsLine(x["t"], "recv", x["text"]) for x in lines])
    return tape.load(root)


async def _loadgen(
    port: int, concurrency: int, seconds: float, poll: bool, rate: float | None = None
) -> asyncio.subprocess.Process:
    cmd = (
        [
            sys.executable,
            "-m",
            "bench.loadgen",
            str(port),
            "/v1/quotes/005930",
            "--concurrency",
            str(concurrency),
            "--requests",
            "10000000",
            "--seconds",
            str(seconds),
        ]
        + (["--poll"] if poll else [])
        + (["--rate", str(rate)] if rate else [])
    )
    return await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE, cwd=ROOT)


async def _measure(load: int, rate: float | None = None) -> dict[str, Any]:
    """fakekis here; `kis-gateway serve`, the freshness poller and the 32-way load each in their own
    process (the poller and the load are `bench.loadgen`). A sample is a poll answer's arrival minus the
    send time of the trade it shows: how old the newest visible trade is when a client gets it."""
    with tempfile.TemporaryDirectory() as tmp:
        rec = _tape(Path(tmp) / "rec")
        sent: dict[int, float] = {}
        async with FakeKis(rec, speed=1.0, ping_interval=30) as kis:
            emit = kis._emit

            async def stamped(frame):  # note when each frame goes out (its sequence is its volume)
                await emit(frame)
                sent[int(frame.text.split("^", 14)[13])] = time.time()

            kis.player.emit = stamped
            env = {
                **os.environ,
                "KIS_ENV": "mock",
                "KIS_APP_KEY": "PSbench" + "0" * 29,
                "KIS_APP_SECRET": "s" * 180,
                "KIS_REST_URL": kis.urls["mock"]["rest_url"],
                "KIS_WS_URL": kis.urls["mock"]["ws_url"],
                "GATEWAY_CLOCK_START": START.isoformat(),
                "GATEWAY_TOKEN_DIR": tmp,
                "GATEWAY_FRESHNESS_MS": "60000",
            }
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "gateway",
                "serve",
                "--port",
                "0",
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=ROOT,
            )
            try:
                assert proc.stdout is not None
                port = int(json.loads(await proc.stdout.readline())["url"].rsplit(":", 1)[1])
                window = SECONDS + 1.0
                poller = await _loadgen(port, 1, window, poll=True)
                others = [await _loadgen(port, load, window, poll=False, rate=rate)] if load else []
                outputs = await asyncio.gather(*(p.communicate() for p in [poller, *others]))
            finally:
                proc.terminate()
                await proc.wait()
    polled = json.loads(outputs[0][0])["polled"]
    load_rps = json.loads(outputs[1][0])["rps"] if load else 0
    last_send = max(sent.values())  # after the tape ends the last trade only gets older: not freshness
    samples = sorted((seen - sent[seq]) * 1000 for seq, seen in polled if seq in sent and seen <= last_send)
    return {
        "samples": len(samples),
        "p50_ms": statistics.median(samples) if samples else None,
        "p99_ms": samples[int(len(samples) * 0.99) - 1] if samples else None,
        "achieved_frames_per_s": round(len(sent) / SECONDS),
        "load_rps": round(load_rps),
    }


async def full_day() -> dict[str, Any]:
    symbols = tuple(
        synth.SymbolSpec(f"{i:06d}", 10_000 + 500 * i, 0.25, 100_000_000, 2_000_000) for i in range(100, 140)
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        session, lines = synth.generate(
            datetime(2026, 11, 25, 9, 0, tzinfo=KST), 390, symbols, seed=1, books=False
        )
        tape.write(Path(tmp) / "day", session, lines)
        rec = tape.load(Path(tmp) / "day")
        generated = time.perf_counter() - t0
        n = len(rec.data_frames())
        env = {
            "KIS_ENV": "mock",
            "KIS_APP_KEY": "PSbench" + "0" * 29,
            "KIS_APP_SECRET": "s" * 180,
            "KIS_SYMBOLS": ",".join(s.code for s in symbols),
            "GATEWAY_TOKEN_DIR": tmp,
            "GATEWAY_CLOCK_START": "2026-11-25T09:00:00+09:00",
        }
        from gateway.app import create_app
        from gateway.config import from_env

        async with FakeKis(rec, speed=None, start_on="manual") as kis:  # started once all 40 are acked
            cfg = from_env(
                {
                    **env,
                    "KIS_REST_URL": kis.urls["mock"]["rest_url"],
                    "KIS_WS_URL": kis.urls["mock"]["ws_url"],
                }
            )
            app = create_app(cfg)
            gw = app.state.gateway
            done = asyncio.Event()
            handle = gw.worker.on_message

            def on_message(session, text):  # the real handler, plus a stop signal at the last frame
                replies = handle(session, text)
                if gw.metrics.ws_messages >= n:
                    done.set()
                return replies

            gw.worker.on_message = on_message
            async with app.router.lifespan_context(app):
                for _ in range(600):  # up to 30 s for the 40 acks
                    if gw.metrics.ws_subscriptions == len(symbols):
                        break
                    await asyncio.sleep(0.05)
                t1 = time.perf_counter()
                kis.player.start()
                await asyncio.wait_for(done.wait(), 600)
            replayed = time.perf_counter() - t1
    return {
        "frames": n,
        "symbols": len(symbols),
        "generate_s": round(generated, 1),
        "replay_s": round(replayed, 1),
        "frames_per_s": round(n / replayed),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


PACED = 1_000  # req/s in all for the paced 32-way load


def run() -> dict[str, Any]:
    return {
        "freshness": {
            "idle": asyncio.run(_measure(0)),
            f"32-way load paced at {PACED:,} req/s": asyncio.run(_measure(32, PACED)),
            "32-way closed-loop load (saturating)": asyncio.run(_measure(32)),
        },
        "full_day": asyncio.run(full_day()),
    }
