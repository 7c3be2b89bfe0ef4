"""Admin routes for scale-out tests (docs/scaling.md): the ledger, and one appkey's session dropped or held.

- `GET /__fakekis/history`: the ledger as JSON lines (404 with a hint when fakekis runs without `--ledger`);
- `POST /__fakekis/sessions/drop?appkey_id=ID`: abort that appkey's sockets without a close frame (1006);
- `POST /__fakekis/sessions/hold?appkey_id=ID&for_s=S`: a zombie tied to the real owner: when its socket
  goes, the appkey stays taken S seconds (newcomers get OPSP8996 and a drop).

`ID` is the 16-hex appkey id (`fakekis/exchange/ledger.py`), never the appkey itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from fakekis.exchange.ledger import Ledger
from fakekis.exchange.sessions import Exchange
from kisclock import Clock


def routes(
    exchange: Exchange, ledger: Ledger | None, clock: Clock, drop: Callable[[str], int]
) -> list[Route]:
    """`drop(appkey)` aborts that appkey's sockets (the shell owns them) and returns how many."""

    def _appkey(request: Request) -> str | JSONResponse:
        ident = request.query_params.get("appkey_id", "")
        appkey = exchange.appkey_by_id(ident)
        if appkey is None:
            return JSONResponse(
                {
                    "error": f"appkey_id={ident[:20]!r} is unknown here (allowed: the 16-hex id of a seen appkey)"
                },
                404,
            )
        return appkey

    async def history(request: Request) -> Response:
        if ledger is None:
            return JSONResponse(
                {"error": "no ledger: start fakekis with --ledger (FakeKis(ledger=True))"}, 404
            )
        return PlainTextResponse(ledger.jsonl(), media_type="application/x-ndjson")

    async def drop_sessions(request: Request) -> Response:
        appkey = _appkey(request)
        if isinstance(appkey, JSONResponse):
            return appkey
        return JSONResponse({"dropped": drop(appkey)})

    async def hold_sessions(request: Request) -> Response:
        appkey = _appkey(request)
        if isinstance(appkey, JSONResponse):
            return appkey
        try:
            seconds = float(request.query_params.get("for_s", ""))
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and 0 < seconds <= 86_400):
            return JSONResponse({"error": "for_s must be seconds in (0, 86400]"}, 400)
        exchange.hold(appkey, seconds, clock.now())
        return JSONResponse({"held_for_s": seconds, "owner_connected": appkey in exchange.owners})

    return [
        Route("/__fakekis/history", history, methods=["GET"]),
        Route("/__fakekis/sessions/drop", drop_sessions, methods=["POST"]),
        Route("/__fakekis/sessions/hold", hold_sessions, methods=["POST"]),
    ]
