"""fakekis REST quotation throughput over a full synthetic trading day (issue #15): the chart routes against
inquire-price, measured side by side on one fakekis REST app, runs alternated (`bench.loadgen` in its own
process, authorised requests). Plus the claim that a minute-chart answer does not scan the tape: the same
call timed in-process on a 10-minute tape and on the full day (the ratio stays near 1).

    python -m bench.quotes            # prints one JSON object (bench.run calls run())
    python -m bench.quotes serve      # prints "PORT TOKEN", serves until killed
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime
from typing import Any

from bench.common import ROOT

SYMBOL = "005930"
MINUTES = 390.0  # 09:00-15:30
CONCURRENCY = 16
REQUESTS = 6_000
REPEATS = 3
APPKEY, SECRET = "PSbench" + "0" * 29, "s" * 180
J = f"FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD={SYMBOL}"
Q = "/uapi/domestic-stock/v1/quotations/"
CALLS = {
    "inquire-price (baseline)": ("inquire-price", "FHKST01010100", J),
    "minute chart (FHKST03010200)": (
        "inquire-time-itemchartprice",
        "FHKST03010200",
        J + "&FID_INPUT_HOUR_1=153000&FID_PW_DATA_INCU_YN=N&FID_ETC_CLS_CODE=",
    ),
    "daily chart, 100 days (FHKST03010100)": (
        "inquire-daily-itemchartprice",
        "FHKST03010100",
        J + "&FID_INPUT_DATE_1=20260101&FID_INPUT_DATE_2=20261125&FID_PERIOD_DIV_CODE=D&FID_ORG_ADJ_PRC=0",
    ),
    "order book (FHKST01010200)": ("inquire-asking-price-exp-ccn", "FHKST01010200", J),
}


def _market(minutes: float) -> tuple[Any, float, int]:
    """A MarketState fed a seeded synthetic session of `minutes` from 09:00: (market, seconds to feed and
    fold it, frames)."""
    from fakekis.exchange.market import MarketState
    from fakekis.tape import synth
    from fakekis.wire import frames
    from kisclock import KST

    start = datetime(2026, 11, 25, 9, 0, tzinfo=KST)
    _, lines = synth.generate(start, minutes=minutes, seed=1)
    end = start.timestamp() + minutes * 60
    market = MarketState(now=lambda: end)
    data = []
    for line in lines:
        parts = frames.split_frame(line.text or "") if line.dir == "recv" else None
        if parts is not None and parts[0] == "0":
            data.append((parts[1], line.text or "", int(parts[2]), parts[3].split("^", 1)[0]))
    t = time.perf_counter()
    for tr_id, text, count, key in data:
        market.apply(tr_id, text, count, key)
    for key in {d[3] for d in data}:
        market.state("J", key)  # fold what is pending
    return market, time.perf_counter() - t, len(data)


def _per_call_us(market: Any, calls: int = 2_000) -> float:
    from fakekis.exchange import charts

    st = market.state("J", SYMBOL)
    t = time.perf_counter()
    for _ in range(calls):
        charts.minute_bars(market, SYMBOL, st, "J", "20261125", "153000", charts.TIME_CHART_ROWS)
    return (time.perf_counter() - t) / calls * 1e6


def serve() -> None:
    import uvicorn

    from fakekis.exchange.auth import Registry
    from fakekis.exchange.products import Catalogue
    from fakekis.serve.rest import create_app
    from kisclock import ManualClock

    market, _, _ = _market(MINUTES)
    clock = ManualClock(datetime(2026, 11, 25, 15, 31).timestamp())
    reg = Registry("live", rest_rps=10**9)
    token = reg.issue_token(
        {"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}, clock.now()
    )
    app = create_app(reg, market, clock, wall=clock, products=Catalogue([SYMBOL]))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], token[1]["access_token"], flush=True)
    config = uvicorn.Config(app, log_level="error", http="h11", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def _load(port: int, token: str, call: tuple[str, str, str], requests: int) -> dict[str, Any]:
    path, tr_id, query = call
    headers = [
        f"authorization: Bearer {token}",
        f"appkey: {APPKEY}",
        f"appsecret: {SECRET}",
        f"tr_id: {tr_id}",
        "custtype: P",
    ]
    cmd = [sys.executable, "-m", "bench.loadgen", str(port), f"{Q}{path}?{query}", "--concurrency"]
    cmd += [str(CONCURRENCY), "--requests", str(requests)] + [a for h in headers for a in ("--header", h)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600, check=True)
    return dict(json.loads(done.stdout))


def run() -> dict[str, Any]:
    small, _, small_frames = _market(40.0)  # 30 bars either way: the same answer size
    full, fold_s, full_frames = _market(MINUTES)
    short_us, full_us = [], []
    for _ in range(7):  # alternated: this machine's speed drifts more than the difference measured
        short_us.append(_per_call_us(small, 500))
        full_us.append(_per_call_us(full, 500))
    out: dict[str, Any] = {
        "tape": f"synthetic {MINUTES:.0f} minutes, 3 symbols, {full_frames:,} data frames",
        "fold_s": round(fold_s, 3),
        "minute_chart_us": {
            f"40-minute tape ({small_frames:,} frames)": round(statistics.median(short_us), 1),
            f"full day ({full_frames:,} frames)": round(statistics.median(full_us), 1),
        },
        "generator": f"bench.loadgen, {REQUESTS:,} requests, concurrency {CONCURRENCY}, runs alternated",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.quotes", "serve"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    samples: dict[str, dict[str, list[float]]] = {name: {"rps": [], "p99": []} for name in CALLS}
    try:
        assert proc.stdout is not None
        port_text, token = proc.stdout.readline().split()
        port = int(port_text)
        for call in CALLS.values():
            _load(port, token, call, 500)  # warm-up (the history is generated on the first chart call)
        for _ in range(REPEATS):
            for name, call in CALLS.items():
                res = _load(port, token, call, REQUESTS)
                assert res["errors"] == 0, f"{name}: {res['errors']} answers were not 200"
                lat = res["latencies_ms"]
                samples[name]["rps"].append(res["rps"])
                samples[name]["p99"].append(lat[int(len(lat) * 0.99) - 1])
    finally:
        proc.terminate()
        proc.wait(10)
    base = statistics.median(samples["inquire-price (baseline)"]["rps"])
    for name, got in samples.items():
        rps = got["rps"]
        out[name] = {
            "rps": {"median": statistics.median(rps), "min": min(rps), "max": max(rps), "runs": REPEATS},
            "p99_ms": statistics.median(got["p99"]),
            "vs_inquire_price": round(statistics.median(rps) / base, 2),
        }
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        print(json.dumps(run(), indent=1))
