"""The REST face of one fake KIS environment: a thin Starlette shell over `auth.Registry` and
`market.MarketState` (docs/kis/protocol.md §2, §3). Quotation answers put `output` first, all values strings.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from fakekis.exchange import quotations
from fakekis.exchange.auth import Registry, gateway_error
from fakekis.exchange.ledger import Ledger
from fakekis.exchange.market import MarketState
from fakekis.exchange.products import Catalogue
from fakekis.serve.replay import CassetteReplay
from kisclock import KST, Clock, WallClock, parse_instant

INQUIRE_PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"
SEARCH_INFO = "/uapi/domestic-stock/v1/quotations/search-info"
_SYMBOL = re.compile(r"^(?:\d{6}|Q\d{6})$")
_MISMATCH = "실전투자 도메인은 모의투자 앱키로 호출하실 수 없습니다."
# A clock long-poll answers with the current clock after at most this many seconds, moved or not, so a
# poll for an instant that never comes cannot hold a connection (docs/security.md, "fakekis limits").
CLOCK_MAX_WAIT = 25.0


async def _wait_bounded(sleep: Any, closing: asyncio.Event | None, limit: float = CLOCK_MAX_WAIT) -> None:
    """Wait for `sleep`, at most `limit` seconds, and not past the server starting to shut down."""
    waits = {asyncio.ensure_future(sleep)}
    if closing is not None:
        waits.add(asyncio.ensure_future(closing.wait()))
    try:
        await asyncio.wait(waits, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status,
        headers=headers,
        media_type="application/json; charset=utf-8",
    )


async def _body(request: Request) -> dict[str, Any] | None:
    try:
        data = json.loads(await request.body() or b"null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _ok(output: dict[str, str]) -> dict[str, object]:
    return {"output": output, "rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다."}


def _input_error(name: str) -> dict[str, str]:
    return {"rt_cd": "1", "msg_cd": "OPSQ2001", "msg1": f"ERROR : INPUT_FIELD_NAME {name}"}


class _CollapseSlashes:
    """`//uapi/...` is `/uapi/...`: mojito2 builds its chart URLs as base + "/" + "/uapi/..." and works
    against KIS, so KIS's gateway collapses repeated slashes (INF; docs/fidelity.md)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            path = re.sub("/{2,}", "/", scope["path"])
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def create_app(
    registry: Registry,
    market: MarketState,
    clock: Clock,
    *,
    wall: Clock | None = None,
    products: Catalogue | None = None,
    other_registries: tuple[Registry, ...] = (),
    stats: Callable[[], dict[str, object]] | None = None,
    scenario: Any = None,
    cassette: CassetteReplay | None = None,
    clock_max_wait: float = CLOCK_MAX_WAIT,
    ledger: Ledger | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """`clock` times tokens and the REST budget; replay time reaches REST only through `market`.
    `wall` (default: the wall clock) also ends a budget second, for clients retrying on their own time.
    `cassette` answers from the recording's rest.yaml, on the tape's timeline, before the exchange does."""
    products = products or Catalogue()
    wall = wall or WallClock()

    def oauth(
        kind: str, handle: Callable[[dict[str, Any]], tuple[int, dict[str, object]]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """tokenP / revokeP / Approval: a JSON body in, the registry's (status, body) out."""

        async def endpoint(request: Request) -> Response:
            body = await _body(request)
            if body is None:
                return _json(
                    {"error_description": "요청 본문이 올바르지 않습니다.", "error_code": "EGW00001"}, 403
                )
            forced = scenario.rest(kind, clock.now()) if scenario else None
            status, out = forced if forced else handle(body)
            if ledger is not None and kind in ("token", "approval"):
                key = body.get("appkey")
                code = out.get("error_code") if isinstance(out, dict) else None
                ledger.oauth(
                    kind,
                    key if isinstance(key, str) else None,
                    status,
                    str(code) if code else None,
                    clock.now(),
                )
            return _json(out, status)

        return endpoint

    def quotation(
        kind: str, tr_id: str, answer: Callable[[dict[str, str], dict[str, str], str], Response]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A quotation GET: key/token checks, faults, the REST budget and the tr_id check, then `answer`
        with the query (names upper-cased: they are case-insensitive, §3.1) and the reply headers."""

        async def endpoint(request: Request) -> Response:
            headers = {k.lower(): v for k, v in request.headers.items()}
            appkey = headers.get("appkey", "")
            if (
                registry.env == "live"
                and appkey not in registry.secrets
                and any(appkey in other.secrets for other in other_registries)
            ):
                return _json(gateway_error("EGW02004", _MISMATCH), 500)
            now = clock.now()
            err = registry.authorize(headers, now)
            if err:
                return _json(err, 500)
            forced = scenario.rest(kind, now) if scenario else None
            if forced:
                return _json(forced[1], forced[0])
            within = registry.spend_budget(now, wall.now(), appkey)
            if ledger is not None:
                ledger.rest(appkey, "" if within else "EGW00201", now, wall.now())
            if not within:
                return _json(gateway_error("EGW00201", "초당 거래건수를 초과하였습니다."), 500)
            recorded = await cassette.answer(request) if cassette else None
            if recorded is not None:
                return recorded
            out_headers = {"tr_id": headers.get("tr_id", ""), "tr_cont": "", "gt_uid": secrets.token_hex(16)}
            if headers.get("tr_id") != tr_id:
                # INF: the exact answer for a wrong tr_id on this path is not captured anywhere we know of.
                return _json(
                    {"rt_cd": "1", "msg_cd": "OPSQ0002", "msg1": "없는 서비스 코드 입니다"}, 200, out_headers
                )
            query = {k.upper(): v for k, v in request.query_params.items()}
            return answer(query, out_headers, headers.get("tr_cont", ""))

        return endpoint

    def inquire_price(query: dict[str, str], out_headers: dict[str, str], _cont: str) -> Response:
        market_code = query.get("FID_COND_MRKT_DIV_CODE")
        symbol = query.get("FID_INPUT_ISCD", "")
        if market_code not in ("J", "NX", "UN", "W"):
            return _json(_input_error("FID_COND_MRKT_DIV_CODE"), 200, out_headers)
        if not _SYMBOL.match(symbol):
            return _json(_input_error("FID_INPUT_ISCD"), 200, out_headers)
        return _json(_ok(market.inquire_price(symbol, market_code)), 200, out_headers)

    def derived(route: quotations.Route) -> Callable[[dict[str, str], dict[str, str], str], Response]:
        """A quotation answered from the market state (fakekis/exchange/quotations.py)."""

        def answer(query: dict[str, str], out_headers: dict[str, str], cont: str) -> Response:
            ask = quotations.Ask(query, cont, registry.env, products.name)
            out = quotations.answer(route, market, ask)
            out_headers["tr_cont"] = out.tr_cont
            return _json(out.body, out.status, out_headers)

        return answer

    def search_info(query: dict[str, str], out_headers: dict[str, str], _cont: str) -> Response:
        code, product_type = query.get("PDNO", ""), query.get("PRDT_TYPE_CD", "")
        if not code:
            return _json(_input_error("PDNO"), 200, out_headers)
        if not product_type:
            return _json(_input_error("PRDT_TYPE_CD"), 200, out_headers)
        output = products.search_info(code, product_type)
        if output is None:
            # 3P: rt_cd 7 is KIS's "no data" family (python-kis tries the next product type on it).
            return _json(
                {"rt_cd": "7", "msg_cd": "KIOK0007", "msg1": "조회할 자료가 없습니다"}, 200, out_headers
            )
        return _json(_ok(output), 200, out_headers)

    async def fake_stats(request: Request) -> Response:
        return _json(stats() if stats else {})

    async def fake_clock(request: Request) -> Response:
        """Step mode: GET the exchange clock (`?after=epoch` waits until it has moved past that);
        POST {"advance": seconds} or {"to": "ISO-8601"} to move it."""
        manual = hasattr(clock, "advance")
        if request.method == "POST":
            if not manual:
                return _json({"error": "fakekis runs on the wall clock; start it with --clock manual"}, 409)
            body = await _body(request) or {}
            try:
                if "advance" in body:
                    seconds = float(body["advance"])
                    if seconds < 0:
                        raise ValueError("advance must be >= 0")
                    clock.advance(seconds)  # type: ignore[attr-defined]
                elif "to" in body:
                    clock.set(parse_instant(str(body["to"])))  # type: ignore[attr-defined]
                else:
                    raise ValueError('send {"advance": seconds} or {"to": "2026-11-25T09:05:00+09:00"}')
            except (TypeError, ValueError) as e:
                return _json({"error": str(e)}, 400)
        elif "after" in request.query_params:  # long poll: answer once the clock has moved past `after`
            try:
                after = float(request.query_params["after"])
            except ValueError:
                after = math.nan
            if not math.isfinite(after):
                return _json({"error": "after must be epoch seconds (a finite number)"}, 400)
            if clock.now() <= after:
                await _wait_bounded(
                    clock.sleep_until(after + 1e-6), getattr(request.state, "closing", None), clock_max_wait
                )
        now = clock.now()
        return _json({"now": datetime.fromtimestamp(now, KST).isoformat(), "epoch": now, "manual": manual})

    async def not_found(request: Request, exc: Exception) -> Response:
        if cassette is not None:  # a recorded path fakekis has no rules for: token and budget, then the tape
            if cassette.knows(request.url.path):
                now = clock.now()
                headers = {k.lower(): v for k, v in request.headers.items()}
                err = registry.authorize(headers, now)
                if err:
                    return _json(err, 500)
                if not registry.spend_budget(now, wall.now(), headers.get("appkey", "")):
                    return _json(gateway_error("EGW00201", "초당 거래건수를 초과하였습니다."), 500)
            recorded = await cassette.answer(request)
            if recorded is not None:
                return recorded
        return _json(
            {"rt_cd": "1", "msg_cd": "EGW00003", "msg1": f"존재하지 않는 경로입니다: {request.url.path}"}, 404
        )

    routes = [
        Route(
            "/oauth2/tokenP",
            oauth("token", lambda body: registry.issue_token(body, clock.now())),
            methods=["POST"],
        ),
        Route("/oauth2/revokeP", oauth("revoke", registry.revoke), methods=["POST"]),
        Route("/oauth2/Approval", oauth("approval", registry.issue_approval), methods=["POST"]),
        Route(INQUIRE_PRICE, quotation("price", "FHKST01010100", inquire_price), methods=["GET"]),
        Route(SEARCH_INFO, quotation("search-info", "CTPF1604R", search_info), methods=["GET"]),
        *(Route(r.path, quotation(r.kind, r.tr_id, derived(r)), methods=["GET"]) for r in quotations.ROUTES),
        Route("/__fakekis/stats", fake_stats, methods=["GET"]),
        Route("/__fakekis/clock", fake_clock, methods=["GET", "POST"]),
        *extra_routes,  # paper trading (serve/trading.py), scale-out admin (serve/admin.py)
    ]
    app = Starlette(routes=routes, middleware=[Middleware(_CollapseSlashes)])
    app.add_exception_handler(404, not_found)
    return app
