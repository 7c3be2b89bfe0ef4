"""The REST face of paper trading: hashkey, order-cash, order-rvsecncl, inquire-psbl-order,
inquire-balance, inquire-daily-ccld (docs/kis/endpoints.md §B, docs/kis/protocol.md §2.4), and
`GET /__fakekis/accounts`. A thin shell: the gate (keys, token, faults, the REST budget, the tr_id) and the
JSON; the decisions are `exchange.paper.Paper`'s and `exchange.views`'. Notices an order causes are handed
to `notify` (the server sends them on the WebSocket) before the answer goes out.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakekis.exchange import views
from fakekis.exchange.accounts import Accounts
from fakekis.exchange.auth import Registry, gateway_error
from fakekis.exchange.notices import Notice
from fakekis.exchange.paper import ORDER_TRS, Paper, input_error
from fakekis.faults.trading import order_delay
from kisclock import KST, Clock

TRADING = "/uapi/domestic-stock/v1/trading/"
HASHKEY = "/uapi/hashkey"
_MISMATCH = "실전투자 도메인은 모의투자 앱키로 호출하실 수 없습니다."
_NO_SERVICE = {"rt_cd": "1", "msg_cd": "OPSQ0002", "msg1": "없는 서비스 코드 입니다"}
_QUERY_TRS = {
    "inquire-psbl-order": {"TTTC8908R"},
    "inquire-balance": {"TTTC8434R"},
    "inquire-daily-ccld": {"TTTC0081R", "TTTC8001R", "CTSC9215R", "CTSC9115R"},
}


def _mock_id(tr_id: str) -> str:
    return "V" + tr_id[1:]


def query_trs(env: str, path: str) -> set[str]:
    live = _QUERY_TRS[path]
    return live if env == "live" else {_mock_id(t) for t in live}


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status, headers=headers, media_type="application/json; charset=utf-8")


def hash_of(body: bytes, appsecret: str) -> str:
    """The hashkey: 64 hex characters over the body (KIS's algorithm is not published; INF: SHA-256 of the
    secret and the body's compact JSON, so the same order gives the same HASH)."""
    try:
        canon = json.dumps(
            json.loads(body or b"{}"), ensure_ascii=False, separators=(",", ":"), sort_keys=True
        )
    except ValueError:
        canon = body.decode("utf-8", "replace")
    return hashlib.sha256((appsecret + canon).encode()).hexdigest()


def trading_routes(
    registry: Registry,
    paper: Paper,
    accounts: Accounts,
    clock: Clock,
    wall: Clock,
    market_now: Callable[[], float],
    notify: Callable[[list[Notice]], Awaitable[None]],
    *,
    other_registries: tuple[Registry, ...] = (),
    scenario: Any = None,
) -> list[Route]:
    env = registry.env

    def gate(request: Request, kind: str) -> tuple[dict[str, str], Response | None]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        appkey = headers.get("appkey", "")
        if (
            env == "live"
            and appkey not in registry.secrets
            and any(appkey in o.secrets for o in other_registries)
        ):
            return headers, _json(gateway_error("EGW02004", _MISMATCH), 500)
        now = clock.now()
        err = registry.authorize(headers, now)
        if err:
            return headers, _json(err, 500)
        forced = scenario.rest(kind, now) if scenario else None
        if forced:
            return headers, _json(forced[1], forced[0])
        if not registry.spend_budget(now, wall.now()):
            return headers, _json(gateway_error("EGW00201", "초당 거래건수를 초과하였습니다."), 500)
        return headers, None

    def out_headers(headers: dict[str, str], tr_cont: str = "") -> dict[str, str]:
        return {"tr_id": headers.get("tr_id", ""), "tr_cont": tr_cont, "gt_uid": secrets.token_hex(16)}

    def at() -> datetime:
        return datetime.fromtimestamp(market_now(), KST)

    async def body_of(request: Request) -> dict[str, Any] | None:
        try:
            data = json.loads(await request.body() or b"null")
        except ValueError:
            return None
        return {str(k).upper(): v for k, v in data.items()} if isinstance(data, dict) else None

    async def hashkey(request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        appkey, secret = headers.get("appkey", ""), headers.get("appsecret", "")
        if not appkey:
            return _json(gateway_error("EGW00102", "AppKey는 필수입니다."), 500)
        if not secret:
            return _json(gateway_error("EGW00104", "AppSecret은 필수입니다."), 500)
        if registry.secrets.get(appkey) != secret:
            return _json(gateway_error("EGW00105", "유효하지 않은 AppSecret입니다."), 500)
        raw = await request.body()
        try:
            echo = json.loads(raw or b"{}")
        except ValueError:
            echo = {}
        return _json({"BODY": echo, "HASH": hash_of(raw, secret)})

    def order(path: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            headers, refused = gate(request, f"order:{env}")
            if refused is not None:
                return refused
            delay = order_delay(scenario, clock.now()) if scenario else 0.0
            if delay > 0:  # the acceptance-delay fault: the order is taken late, at the market of then
                await clock.sleep_until(clock.now() + delay)
            what = ORDER_TRS[env].get(headers.get("tr_id", ""))
            if what is None or (what == "rvsecncl") != (path == "order-rvsecncl"):
                return _json(_NO_SERVICE, 200, out_headers(headers))
            body = await body_of(request)
            if body is None:
                return _json(paper_body_error(), 500, out_headers(headers))
            appkey = headers.get("appkey", "")
            if what == "rvsecncl":
                answer, notices = paper.rvsecncl(appkey, body, at())
            else:
                answer, notices = paper.order_cash(appkey, what, body, at())
            if notices:
                await notify(notices)
            return _json(answer, 200, out_headers(headers))

        return endpoint

    def paper_body_error() -> dict[str, str]:
        return {"rt_cd": "1", "msg_cd": "IGW00007", "msg1": "MCA 전문바디 구성 중 오류가 발생하였습니다."}

    def query(path: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            headers, refused = gate(request, "account")
            if refused is not None:
                return refused
            if headers.get("tr_id", "") not in query_trs(env, path):
                return _json(_NO_SERVICE, 200, out_headers(headers))
            q = {k.upper(): v for k, v in request.query_params.items()}
            for name in ("CANO", "ACNT_PRDT_CD"):
                if not q.get(name, "").strip():
                    return _json(input_error(name), 200, out_headers(headers))
            cano, prdt = q["CANO"], q["ACNT_PRDT_CD"]
            if path == "inquire-psbl-order":
                return _json(
                    views.psbl_order(paper, accounts.get(env, cano, prdt), q), 200, out_headers(headers)
                )
            if path == "inquire-balance":
                body, tr_cont = views.balance(paper, accounts.get(env, cano, prdt), q)
            else:
                body, tr_cont = views.daily_ccld(paper, cano, prdt, q)
            return _json(body, 200, out_headers(headers, tr_cont))

        return endpoint

    async def fake_accounts(request: Request) -> Response:
        return _json(
            {
                "accounts": [a.as_dict() for a in accounts.accounts.values() if a.env == env],
                "orders": [o.as_dict() for o in paper.orders()],
                "fills": [
                    {"odno": odno, "qty": qty, "price": price, "time": t}
                    for odno, qty, price, t in paper.fills
                ],
                "notices_made": paper.notices_made,
                "notices_sent": paper.notices_sent,
                "notices_lost": paper.notices_lost,
            }
        )

    return [
        Route(HASHKEY, hashkey, methods=["POST"]),
        Route(TRADING + "order-cash", order("order-cash"), methods=["POST"]),
        Route(TRADING + "order-rvsecncl", order("order-rvsecncl"), methods=["POST"]),
        *(Route(TRADING + p, query(p), methods=["GET"]) for p in _QUERY_TRS),
        Route("/__fakekis/accounts", fake_accounts, methods=["GET"]),
    ]
