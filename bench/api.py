"""Quote API under load: the gateway (served from its cache) vs a bare Starlette endpoint returning the
same JSON, same uvicorn settings, concurrency 32, a bounded number of requests from another process
(`bench.loadgen`)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

from bench.common import ROOT

CONCURRENCY = 32
REQUESTS = 20_000
REPEATS = 5


def _serve(which: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.apps", which],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def loadgen(
    port: int,
    *,
    concurrency: int = CONCURRENCY,
    requests: int = REQUESTS,
    seconds: float | None = None,
    poll: bool = False,
) -> dict[str, Any]:
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
            str(requests),
        ]
        + (["--seconds", str(seconds)] if seconds else [])
        + (["--poll"] if poll else [])
    )
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300, check=True)
    return json.loads(done.stdout)


def run() -> dict[str, Any]:
    """Both servers up at once, runs alternated (bare, gateway, bare, ...): this machine's speed drifts
    by tens of percent over a minute, and alternation spreads that over both sides alike."""
    out: dict[str, Any] = {
        "generator": f"bench.loadgen (raw asyncio HTTP/1.1, own process), {REQUESTS:,} requests"
    }
    servers = {which: _serve(which) for which in ("bare", "gateway")}
    samples: dict[str, dict[str, list[float]]] = {w: {"rps": [], "p50": [], "p99": []} for w in servers}
    try:
        for _, port in servers.values():
            loadgen(port, requests=2_000)  # warm-up
        for _ in range(REPEATS):
            for which, (_, port) in servers.items():
                res = loadgen(port)
                assert res["errors"] == 0, f"{which}: {res['errors']} answers were not 200"
                lat = res["latencies_ms"]
                samples[which]["rps"].append(res["rps"])
                samples[which]["p50"].append(statistics.median(lat))
                samples[which]["p99"].append(lat[int(len(lat) * 0.99) - 1])
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
    for which, got in samples.items():
        rps = got["rps"]
        out[which] = {
            "rps": {"median": statistics.median(rps), "min": min(rps), "max": max(rps), "runs": REPEATS},
            "p50_ms": statistics.median(got["p50"]),
            "p99_ms": statistics.median(got["p99"]),
        }
    return out
