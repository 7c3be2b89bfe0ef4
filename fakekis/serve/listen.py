"""Serving a Starlette app from inside fakekis's own event loop: a loopback socket bound (and listening)
before anyone is told the URL, and uvicorn without signal handling of its own, with a bounded
graceful shutdown (a long-poll on a clock that never moves must not keep the process alive)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

import uvicorn

from fakekis.serve.headers import KisHeaders


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket; requests made before uvicorn takes over wait in the backlog. The protocol
    must say TCP: asyncio sets TCP_NODELAY only on accepted sockets whose proto is IPPROTO_TCP, and
    without it every REST answer (headers + body) waited ~40 ms for the client's delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def start_rest(
    app: Any, host: str, port: int, now: Callable[[], float] | None = None
) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """Start serving `app`; returns the server (set `should_exit` to stop), its task and its URL.
    Every answer gets KIS's header names (`headers.KisHeaders`, outermost, so Starlette's own 500s too)
    and a `Date` from `now` (the exchange clock; default the wall clock)."""
    sock = listen(host, port)
    sock.setblocking(False)
    # h11, not httptools: httptools' writer lower-cases header names, and KIS's casing is part of the
    # protocol (serve/headers.py); no `server: uvicorn`, and `Date` comes from the app's clock.
    server = _QuietServer(
        uvicorn.Config(
            KisHeaders(app, now),
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
            http="h11",
            server_header=False,
            date_header=False,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    return server, task, f"http://{host}:{sock.getsockname()[1]}"
