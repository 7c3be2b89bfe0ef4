"""The gateway's HTTP face. The lifespan starts the supervised WS worker and holds its task
(a task nobody references can be garbage-collected mid-flight); selection follows the contract:
`kis-ws` when the KRX session is open and the symbol's last tick arrived within the freshness window
by our own clock, else REST `kis-rest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import ops
from gateway.cache import QuoteCache
from gateway.config import SYMBOL, Config, ConfigError
from gateway.coord import runtime as coord_runtime
from gateway.coord import shards as coord_shards
from gateway.market import KrxCalendar
from gateway.metrics import Metrics
from gateway.quotes import select
from gateway.redact import Redactor, StageLog
from gateway.rest import RestClient, RestError
from gateway.worker import QuoteWorker
from kisclock import Clock, RemoteClock, ShiftedClock, WallClock, iso_ms

# The API is GET-only: a request body is never read. One larger than this is refused (413) before routing,
# so a client cannot make the server buffer uploads (docs/security.md, "Gateway limits").
MAX_BODY_BYTES = 4_096


class BodyLimit:
    """ASGI middleware: 413 for a declared Content-Length over `limit`, or a chunked body that grows past
    it. Requests without a body (every real one) pass with one scan of their headers."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(scope, receive, send)
            return
        if chunked and length is None:
            messages: list[Message] = []
            size = 0
            while True:
                message = await receive()
                messages.append(message)
                size += len(message.get("body", b""))
                if size > self.limit:
                    await self._refuse(scope, receive, send)
                    return
                if message["type"] != "http.request" or not message.get("more_body", False):
                    break

            async def replay() -> Message:
                return messages.pop(0) if messages else await receive()

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {
                "error": "request body too large",
                "limit_bytes": self.limit,
                "detail": "the API takes GET only",
            },
            413,
            headers={"connection": "close"},
        )
        await response(scope, receive, send)


@dataclass
class Gateway:
    cfg: Config
    clock: Clock
    calendar: KrxCalendar
    cache: QuoteCache
    metrics: Metrics
    log: StageLog
    rest: RestClient
    worker: QuoteWorker
    task: asyncio.Task[None] | None = None
    shards: coord_shards.Shards | None = None  # KIS_CREDENTIALS_FILE; rest and worker are then the primary's

    def rest_for(self, symbol: str) -> RestClient:
        return self.rest if self.shards is None else self.shards.rest_for(symbol)


def _remote_now(url: str) -> float:
    try:
        epoch = float(httpx.get(url, timeout=10).json()["epoch"])
    except (httpx.HTTPError, httpx.InvalidURL, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"GATEWAY_CLOCK_URL={url!r}: cannot read the clock ({type(e).__name__})") from None
    if not math.isfinite(epoch):
        raise ConfigError(f"GATEWAY_CLOCK_URL={url!r}: the clock answered a non-finite epoch")
    return epoch


def build(
    cfg: Config,
    clock: Clock | None = None,
    *,
    connect: Callable[..., Any] = websockets.connect,
    http: httpx.AsyncClient | None = None,
) -> Gateway:
    if clock is None:
        if cfg.clock_url:
            clock = RemoteClock(cfg.clock_url, _remote_now(cfg.clock_url))
        else:
            clock = ShiftedClock(cfg.clock_start) if cfg.clock_start is not None else WallClock()
    metrics = Metrics()
    log = StageLog(Redactor(cfg.secrets))
    cache = QuoteCache()
    calendar = KrxCalendar.for_venue(cfg.venue, cfg.session_hours)
    if cfg.appkeys:  # several appkeys: the API's metrics fold in one Metrics per session
        shards = coord_shards.build(cfg, clock, cache, log, connect, http)
        metrics.parts = {s.ident: s.metrics for s in shards.live()}
        p = shards.primary
        return Gateway(cfg, clock, calendar, cache, metrics, log, p.rest, p.worker, shards=shards)
    rest = RestClient(cfg, clock, metrics, log, http)
    worker = QuoteWorker(cfg, rest, cache, metrics, log, clock, connect)
    return Gateway(cfg, clock, calendar, cache, metrics, log, rest, worker)


def create_app(
    cfg: Config,
    clock: Clock | None = None,
    *,
    connect: Callable[..., Any] = websockets.connect,
    http: httpx.AsyncClient | None = None,
    on_ready: Callable[[Gateway], None] | None = None,
) -> Starlette:
    gw = build(cfg, clock, connect=connect, http=http)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        follower = asyncio.create_task(gw.clock.follow()) if isinstance(gw.clock, RemoteClock) else None
        gw.task = coord_runtime.start(gw)  # the session in local or Redis mode (gateway/coord)
        if on_ready:
            on_ready(gw)
        try:
            yield
        finally:
            gw.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gw.task
            if follower:
                follower.cancel()
            await gw.rest.aclose()
            await coord_shards.aclose(gw.shards)
            gw.log.event("ws_worker_stop")

    async def quote(request: Request) -> JSONResponse:
        symbol = request.path_params["symbol"]
        if not SYMBOL.fullmatch(symbol):
            return JSONResponse(
                {
                    "error": "invalid symbol",
                    "symbol": symbol,
                    "detail": "expected a 6-digit KRX code such as 005930",
                },
                400,
            )
        now = gw.clock.now()
        q = gw.cache.get(symbol)
        source, why = select(now, q, gw.calendar, gw.cfg.freshness_s)
        if gw.shards is not None and source == "kis-rest":
            why = gw.shards.reason(symbol, why)  # a REST-tier symbol says so
        # Which venue a quote is from: the trade TR of the cached tick, or the venue REST was asked for.
        # Shown in the body only off the default venue, so a krx gateway answers as it always did.
        shown = gw.cfg.venue != "krx"
        if source == "kis-ws" and q is not None:
            gw.metrics.count_served("kis-ws", q.venue)
            gw.metrics.reach("served_ws", now)
            body = {
                "symbol": symbol,
                "price": q.price,
                "change": q.change,
                "change_rate": q.change_rate,
                "volume": q.volume,
                "exchange_time": q.exchange_time,
                "received_at": iso_ms(q.received_at),
                "age_ms": int((now - q.received_at) * 1000),
                "source": "kis-ws",
            }
            return JSONResponse(body | {"venue": q.venue} if shown else body)
        try:
            out = await gw.rest_for(symbol).inquire_price(symbol)
        except RestError as e:
            return JSONResponse(
                {
                    "error": "upstream unavailable",
                    "symbol": symbol,
                    "reason": gw.log.redact(str(e)),
                    "fallback_reason": why,
                },
                503,
            )
        if str(out.get("stck_prpr", "")).strip() in ("", "0") and "stck_prpr" in out:
            # KIS answers a well-formed code it does not list with rt_cd 0 and zeros: no price, no base
            # price (docs/kis/endpoints.md §A4, python-kis's "stck_prpr 0 = not found"; inferred, §10.7).
            # A listed stock always has a price, its previous close before it trades.
            gw.metrics.rest_errors["unknown-symbol"] += 1
            return JSONResponse(
                {
                    "error": "unknown symbol",
                    "symbol": symbol,
                    "reason": f"KIS inquire-price ({gw.cfg.venue}) has no price for {symbol}: "
                    "no listed stock has that code",
                },
                404,
            )
        gw.metrics.count_served("kis-rest", gw.cfg.venue)
        if gw.shards is not None:
            gw.shards.served(symbol)
        try:
            body = {
                "symbol": symbol,
                "price": int(out["stck_prpr"]),
                "change": int(out["prdy_vrss"]),
                "change_rate": out["prdy_ctrt"],
                "volume": int(out["acml_vol"]),
            }
        except (KeyError, ValueError, TypeError):  # a field missing, not a number, or null
            return JSONResponse(
                {
                    "error": "upstream unavailable",
                    "symbol": symbol,
                    "reason": "inquire-price output lacks stck_prpr/prdy_vrss/prdy_ctrt/acml_vol",
                },
                503,
            )
        answer = {
            **body,
            "exchange_time": None,
            "received_at": iso_ms(now),
            "age_ms": 0,
            "source": "kis-rest",
            "fallback_reason": why,
        }
        return JSONResponse(answer | {"venue": gw.cfg.venue} if shown else answer)

    async def metrics(request: Request) -> JSONResponse:
        now = gw.clock.now()
        return JSONResponse(
            {
                **gw.metrics.as_dict(now),
                "env": gw.cfg.env,
                "venue": gw.cfg.venue,
                "now": iso_ms(now),
                "market_open": gw.calendar.why_closed(now) is None,
                "market_closed_reason": gw.calendar.why_closed(now),
                "cached_symbols": len(gw.cache),
                "symbols": list(gw.cfg.symbols),
                **({} if gw.shards is None else {"plan": gw.shards.describe()}),
            }
        )

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "not found", "path": request.url.path}, 404)

    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"error": "internal error", "reason": gw.log.redact(f"{type(exc).__name__}: {exc}")}, 500
        )

    app = Starlette(
        routes=[Route("/v1/quotes/{symbol}", quote), Route("/v1/metrics/quote", metrics), *ops.routes(gw)],
        lifespan=lifespan,
        exception_handlers={404: not_found, Exception: crashed},
        middleware=[Middleware(BodyLimit)],
    )
    app.state.gateway = gw
    return app
