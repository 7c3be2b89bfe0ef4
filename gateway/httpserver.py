"""uvicorn as `kis-gateway serve` runs it: bounded time and size for every HTTP connection.

uvicorn closes an idle keep-alive connection after `timeout_keep_alive`, but it arms that timer only
after a response: a client that connects and sends nothing, or sends half a request line and stops,
holds a connection (and a file descriptor) for ever. `HEAD_TIMEOUT_S` closes it: a request's line and
headers must be complete within that time of the connection opening or of the previous response.
The limits are documented in docs/security.md ("Gateway limits").
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol  # httptools when installed, else h11

KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this (uvicorn timeout_keep_alive)
HEAD_TIMEOUT_S = 10.0  # request line + headers must arrive within this
MAX_HEADER_BYTES = 16_384  # a request head larger than this is refused with 400 (h11)
MAX_CONCURRENCY = 1_000  # requests and connections in flight; beyond it uvicorn answers 503


class _HeadDeadline:
    """Mixed in front of uvicorn's HTTP protocol class. Both implementations (h11, httptools) create a
    new `self.cycle` when a request head is complete and call `on_response_complete` after each
    response, so the deadline needs nothing else from them."""

    head_timeout: float = HEAD_TIMEOUT_S
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _head_timer: asyncio.TimerHandle | None = None
    _armed_for: Any = None

    def _arm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._armed_for = self.cycle
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        busy = self.cycle is not None and not getattr(self.cycle, "response_complete", True)
        if not busy and not self.transport.is_closing():  # never cut a request being answered
            self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        if self._head_timer is not None and self.cycle is not self._armed_for:
            self._disarm()  # a whole request head arrived

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing():
            self._arm()  # waiting for the next request head now

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]


def protocol_class(head_timeout_s: float = HEAD_TIMEOUT_S) -> type[asyncio.Protocol]:
    return type("DeadlineHTTPProtocol", (_HeadDeadline, AutoHTTPProtocol), {"head_timeout": head_timeout_s})


def config(
    app: Any,
    *,
    keep_alive_s: int = KEEP_ALIVE_S,
    head_timeout_s: float = HEAD_TIMEOUT_S,
    max_concurrency: int = MAX_CONCURRENCY,
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=protocol_class(head_timeout_s),
        ws="none",  # the API is plain HTTP; an upgrade request gets a normal HTTP answer
        log_level="warning",
        access_log=False,
        timeout_keep_alive=keep_alive_s,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        limit_concurrency=max_concurrency,
    )
