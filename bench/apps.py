"""The two HTTP servers the quote-API benchmark compares, run in their own process:

    python -m bench.apps gateway|bare   -> prints the port, serves until killed

`gateway` is the real app with the cache filled and the market open (its WS worker parked), so every
request is served from the cache; `bare` is one Starlette endpoint returning the same JSON.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.app import create_app
from gateway.config import from_env
from kisclock import ShiftedClock, parse_instant

QUOTE = {
    "symbol": "005930",
    "price": 71400,
    "change": 400,
    "change_rate": "0.56",
    "volume": 1040,
    "exchange_time": "2026-11-25T10:00:03+09:00",
    "received_at": "2026-11-25T10:00:03.000+09:00",
    "age_ms": 0,
    "source": "kis-ws",
}


class _Parked:
    """A connect() that never connects: the benchmark measures serving, not the worker."""

    async def __aenter__(self):
        await asyncio.Event().wait()

    async def __aexit__(self, *exc):
        return False


def gateway_app():
    cfg = from_env(
        {
            "KIS_APP_KEY": "PSbench" + "0" * 29,
            "KIS_APP_SECRET": "s" * 180,
            "KIS_SYMBOLS": "005930",
            "KIS_REST_URL": "http://127.0.0.1:9",
            "KIS_WS_URL": "ws://127.0.0.1:9",
            "GATEWAY_FRESHNESS_MS": "86400000",
            "GATEWAY_TOKEN_DIR": "/tmp/kis-bench",
        }
    )
    clock = ShiftedClock(parse_instant("2026-11-25T10:00:00+09:00"))
    app = create_app(cfg, clock, connect=lambda *a, **k: _Parked())

    async def approval_key(fresh: bool = False) -> str:  # so the worker reaches its parked connection
        return "bench-approval-key"

    # The steady state being measured is a worker that is connected and quiet. Left failing (no approval
    # at 127.0.0.1:9) it retried with backoff, and the gateway served ~20% fewer requests per second.
    app.state.gateway.worker.rest.approval_key = approval_key
    rec = ["005930", "100003", "71400", "2", "400", "0.56"] + ["0"] * 40
    rec[13], rec[33] = "1040", "20261125"
    app.state.gateway.cache.update_from_h0stcnt0(rec, 0, clock.now())
    return app


def bare_app():
    async def quote(request):
        return JSONResponse(QUOTE)

    return Starlette(routes=[Route("/v1/quotes/{symbol}", quote)])


def main() -> None:
    app = gateway_app() if sys.argv[1] == "gateway" else bare_app()
    sock = socket.socket(
        socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
    )  # so asyncio sets TCP_NODELAY
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])


if __name__ == "__main__":
    main()
