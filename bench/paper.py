"""Paper trading through REST with notices delivered: fakekis vs the bare floor (`bench.paperapps`), measured
side by side in one run, the same client (`bench.paperclient`) in its own process: limit orders at
concurrency 8, each order's acceptance notice awaited on the WebSocket (AES-decrypted by the client)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

from bench.common import ROOT

ORDERS = 2_000
CONCURRENCY = 8
REPEATS = 3


def _once(which: str) -> dict[str, Any]:
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.paperapps", which],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.paperclient",
                which,
                urls["rest_url"],
                urls["ws_url"],
                str(ORDERS),
                str(CONCURRENCY),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
            check=True,
        )
        return dict(json.loads(out.stdout))
    finally:
        server.kill()
        server.wait(10)


def run() -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"fakekis": [], "bare": []}
    for _ in range(REPEATS):  # interleaved, so drift on a shared machine hits both alike
        for which in runs:
            runs[which].append(_once(which))
    out: dict[str, Any] = {"orders": ORDERS, "concurrency": CONCURRENCY}
    for which, rs in runs.items():
        rates = [r["orders_per_s"] for r in rs]
        out[which] = {
            "rate": {
                "median": statistics.median(rates),
                "min": min(rates),
                "max": max(rates),
                "runs": len(rs),
            },
            "p50_ms": statistics.median(r["p50_ms"] for r in rs),
            "p99_ms": statistics.median(r["p99_ms"] for r in rs),
            "p99_ms_range": [min(r["p99_ms"] for r in rs), max(r["p99_ms"] for r in rs)],
        }
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
