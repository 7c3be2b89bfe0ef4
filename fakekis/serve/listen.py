"""Serving a Starlette app from inside fakekis's own event loop: a loopback socket bound (and listening)
before anyone is told the URL, and uvicorn without signal handling of its own, with a bounded
graceful shutdown (a long-poll on a clock that never moves must not keep the process alive).

Every app served here (fakekis REST and the `fakekis record` proxy) gets the same bounds, because both
face clients we do not control (docs/security.md, "fakekis limits"):

- a request body is read incrementally and refused with 413 past `MAX_BODY` bytes (never buffered
  beyond it), and must arrive within `BODY_TIMEOUT` seconds;
- a connection must send complete request headers within `HEADER_TIMEOUT` seconds of opening (or of the
  previous response), and an idle keep-alive connection is closed after `KEEP_ALIVE` seconds;
- shutdown sets `closing`, which long-polls watch, so they answer at once instead of being cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from fakekis.serve.headers import KisHeaders

MAX_BODY = 64 * 1024  # bytes: the largest KIS request body (tokenP with a 180-char secret) is < 1 KiB
BODY_TIMEOUT = 10.0  # seconds for the whole request body once headers are in
HEADER_TIMEOUT = 10.0  # seconds for complete request headers, from connect or from the previous answer
KEEP_ALIVE = 5.0  # seconds an idle keep-alive connection stays open (uvicorn's timeout_keep_alive)

Scope = MutableMapping[str, Any]


class _QuietServer(uvicorn.Server):
    """No signal handlers of its own; `closing` is set the moment shutdown begins."""

    closing: asyncio.Event

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.closing.set()
        await asyncio.sleep(0)  # let long-polls answer before uvicorn starts waiting on them
        await super().shutdown(sockets)


def _deadline_protocol(header_timeout: float) -> type[H11Protocol]:
    class DeadlineH11(H11Protocol):
        """uvicorn's h11 protocol arms its keep-alive timer only after a response, and disarms it on the
        first byte of the next request: a client that connects and sends nothing, or half a request
        line, holds the connection forever. This adds a deadline for complete headers."""

        _header_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # a complete request line and headers arrived
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return DeadlineH11


def _too_large(limit: int) -> tuple[dict[str, Any], dict[str, Any]]:
    body = json.dumps(
        {"rt_cd": "1", "msg_cd": "FAKEKIS-TOO-LARGE", "msg1": f"request body over {limit} bytes refused"}
    ).encode()
    start = {
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class Bounded:
    """ASGI middleware: the request body read up to `max_body` bytes (413 beyond, checked on the
    declared Content-Length first and on the bytes as they arrive), within `body_timeout` seconds (408),
    then handed to the app in one message; `closing` reachable as `request.state.closing`."""

    def __init__(self, app: Any, closing: asyncio.Event, max_body: int, body_timeout: float) -> None:
        self.app, self.closing, self.max_body, self.body_timeout = app, closing, max_body, body_timeout

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["closing"] = self.closing
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._refuse(send, *_too_large(self.max_body))
            return
        try:
            body = await asyncio.wait_for(self._read(receive), self.body_timeout)
        except asyncio.TimeoutError:
            await self._refuse(send, *_timeout())
            return
        if body is None:
            await self._refuse(send, *_too_large(self.max_body))
            return
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            message: dict[str, Any] = await receive()  # after the body: only http.disconnect comes
            return message

        await self.app(scope, replay, send)

    async def _read(self, receive: Any) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)  # disconnected: the app will find out when it answers
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _refuse(send: Any, start: dict[str, Any], body: dict[str, Any]) -> None:
        await send(start)
        await send(body)


def _timeout() -> tuple[dict[str, Any], dict[str, Any]]:
    start, body = _too_large(0)
    text = json.dumps({"rt_cd": "1", "msg_cd": "FAKEKIS-TIMEOUT", "msg1": "request body too slow"}).encode()
    start["status"] = 408
    start["headers"][1] = (b"content-length", str(len(text)).encode())
    return start, {"type": "http.response.body", "body": text}


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket; requests made before uvicorn takes over wait in the backlog. The protocol
    must say TCP: asyncio sets TCP_NODELAY only on accepted sockets whose proto is IPPROTO_TCP, and
    without it every REST answer (headers + body) waited ~40 ms for the client's delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()  # a host that does not resolve or a port in use: no socket left to the finaliser
        raise
    return sock


def start_rest(
    app: Any,
    host: str,
    port: int,
    now: Callable[[], float] | None = None,
    *,
    max_body: int = MAX_BODY,
    body_timeout: float = BODY_TIMEOUT,
    header_timeout: float = HEADER_TIMEOUT,
    keep_alive: float = KEEP_ALIVE,
) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """Start serving `app`; returns the server (set `should_exit` to stop), its task and its URL.
    Every answer gets KIS's header names (`headers.KisHeaders`, outermost, so Starlette's own 500s and the
    413/408 refusals too) and a `Date` from `now` (the exchange clock; default the wall clock).
    The h11 protocol, never httptools: httptools' writer lower-cases header names, and KIS's casing is part
    of the protocol; no `server: uvicorn`."""
    sock = listen(host, port)
    sock.setblocking(False)
    closing = asyncio.Event()
    server = _QuietServer(
        uvicorn.Config(
            KisHeaders(Bounded(app, closing, max_body, body_timeout), now),
            http=_deadline_protocol(header_timeout),
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
            timeout_keep_alive=keep_alive,  # type: ignore[arg-type]
            server_header=False,
            date_header=False,
        )
    )
    server.closing = closing
    task = asyncio.create_task(server.serve(sockets=[sock]))
    return server, task, f"http://{host}:{sock.getsockname()[1]}"
