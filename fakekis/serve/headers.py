"""Response header names as KIS writes them (docs/kis/protocol.md §3.2): standard headers in their
canonical case (`Content-Type`, `Content-Length`, `Date`), KIS's own in lower case (`tr_id`, `tr_cont`,
`gt_uid`), and no `Server` header.

Why it matters: the official sample library (`kis_auth.py`, `APIResp._setHeader`) turns every
all-lower-case response header name into a namedtuple field. Starlette writes every name in lower case,
so `content-length` reached it and every REST call of the library failed with `ValueError: Type names
and field names must be valid identifiers: 'content-length'`.

`KisHeaders` is an ASGI middleware; it rewrites the names of `http.response.start` and adds `Date` from
the injected clock. `listen.start_rest` wraps every REST app in it (outermost, so the 500 Starlette writes
for an uncaught exception is covered too) and tells uvicorn `server_header=False, date_header=False` and
`http="h11"` (uvicorn's httptools writer lower-cases every name).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from email.utils import formatdate
from typing import Any

from kisclock import WallClock

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# KIS's own headers keep their lower-case names (§3.2); python-kis reads `tr_cont`/`gt_uid` by these names.
KIS_OWN = frozenset({b"tr_id", b"tr_cont", b"gt_uid"})
# Headers KIS does not send: the server's product name.
DROPPED = frozenset({b"server"})


def kis_case(name: bytes) -> bytes:
    """`content-type` -> `Content-Type`; KIS's own (`tr_id`, ...) and any name with `_` stay as they are
    (an underscore marks a KIS name, never a standard one)."""
    lower = name.lower()
    if lower in KIS_OWN or b"_" in lower:
        return lower
    return b"-".join(part[:1].upper() + part[1:] for part in lower.split(b"-"))


def kis_headers(headers: list[tuple[bytes, bytes]], date: bytes) -> list[tuple[bytes, bytes]]:
    """The names re-cased, `Server` dropped, and `Date` first unless the app set one."""
    out = [(kis_case(k), v) for k, v in headers if k.lower() not in DROPPED]
    if not any(k == b"Date" for k, _ in out):
        out.insert(0, (b"Date", date))
    return out


class KisHeaders:
    """ASGI middleware for every HTTP answer of the app it wraps. `now` is the exchange clock: the `Date`
    a manual-clock test sees is the clock's, not the machine's."""

    def __init__(self, app: ASGIApp, now: Callable[[], float] | None = None) -> None:
        self.app = app
        self.now = now or WallClock().now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_kis(message: Message) -> None:
            if message["type"] == "http.response.start":
                date = formatdate(self.now(), usegmt=True).encode("ascii")
                message = {**message, "headers": kis_headers(list(message.get("headers", [])), date)}
            await send(message)

        await self.app(scope, receive, send_kis)
