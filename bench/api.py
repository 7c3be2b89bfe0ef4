"""Quote API under load: the gateway (served from its cache) vs a bare Starlette endpoint returning the
same JSON, same uvicorn settings, concurrency 32, a bounded number of requests from another process."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from bench.common import ROOT

CONCURRENCY = 32
REQUESTS = 6_000
REPEATS = 3


async def _load(port: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=10) as http:
        await http.get("/v1/quotes/005930")
        per_worker = REQUESTS // CONCURRENCY

        async def worker() -> None:
            for _ in range(per_worker):
                t = time.perf_counter()
                r = await http.get("/v1/quotes/005930")
                latencies.append(time.perf_counter() - t)
                assert r.status_code == 200 and r.json()["source"] == "kis-ws"

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return len(latencies) / (time.perf_counter() - start), latencies


def _serve(which: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.apps", which], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for which in ("bare", "gateway"):
        rps, p50, p99 = [], [], []
        proc, port = _serve(which)
        try:
            for _ in range(REPEATS):
                rate, lat = asyncio.run(_load(port))
                lat.sort()
                rps.append(rate)
                p50.append(statistics.median(lat) * 1000)
                p99.append(lat[int(len(lat) * 0.99) - 1] * 1000)
        finally:
            proc.terminate()
            proc.wait(10)
        out[which] = {"rps": {"median": statistics.median(rps), "min": min(rps), "max": max(rps), "runs": REPEATS},
                      "p50_ms": statistics.median(p50), "p99_ms": statistics.median(p99)}
    return out
