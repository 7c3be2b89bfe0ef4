"""The gateway's HTTP API bounds every connection in time and every request in size (issue #12):
the real app under uvicorn configured as `kis-gateway serve` configures it (gateway.httpserver), with
small timeouts for the test and generous deadlines for the waits. Raw sockets on 127.0.0.1, port 0."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn

from conftest import APPKEY, SECRET, eventually, kst
from gateway import httpserver
from gateway.app import MAX_BODY_BYTES, create_app
from gateway.cli import listen
from gateway.config import from_env
from kisclock import ManualClock

pytestmark = pytest.mark.anyio
HEAD_TIMEOUT = 0.5  # for the test; production uses httpserver.HEAD_TIMEOUT_S
WAIT = 20.0  # how long a test waits for the server to close before calling it a failure


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # leave the test runner's signal handlers alone
        yield


@contextlib.asynccontextmanager
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[str, int]]:
    cfg = from_env(
        {
            "KIS_APP_KEY": APPKEY,
            "KIS_APP_SECRET": SECRET,
            "KIS_REST_URL": "http://127.0.0.1:9",  # nothing listens: the worker backs off on the manual clock
            "KIS_WS_URL": "ws://127.0.0.1:9",
            "GATEWAY_TOKEN_DIR": str(tmp_path),
        }
    )
    app = create_app(cfg, ManualClock(kst(2026, 11, 25, 10, 0)))
    sock = listen("127.0.0.1", 0)
    server = _Server(httpserver.config(app, keep_alive_s=1, head_timeout_s=HEAD_TIMEOUT))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: server.started or task.done(), what="uvicorn to start")
        assert not task.done(), task
        yield sock.getsockname()[:2]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, WAIT)
        sock.close()


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes; fails if it keeps the connection past WAIT."""
    try:
        return await asyncio.wait_for(reader.read(), WAIT)
    except asyncio.TimeoutError:
        raise AssertionError(f"the server kept the connection open for {WAIT}s") from None


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /v1/metrics/qu", b"GET /v1/metrics/quote HTTP/1.1\r\nHost: x\r\n"],
    ids=["nothing", "half-request-line", "headers-without-end"],
)
async def test_a_stalled_request_is_closed(sent: bytes, tmp_path: Path) -> None:
    async with gateway(tmp_path) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(sent)
        await writer.drain()
        assert await closed_by_server(reader) == b""
        writer.close()


async def test_an_idle_keep_alive_connection_is_closed_after_its_response(tmp_path: Path) -> None:
    async with gateway(tmp_path) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /v1/metrics/quote HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        data = await closed_by_server(reader)
        assert data.startswith(b"HTTP/1.1 200") and b'"ws_connected"' in data
        writer.close()


async def test_a_second_request_half_sent_on_a_kept_connection_is_closed(tmp_path: Path) -> None:
    """After a response the keep-alive timer runs, but uvicorn cancels it on any byte received: a client
    that then sends half a request must still meet the head deadline."""
    async with gateway(tmp_path) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /v1/metrics/quote HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(b'"symbols":["005930"]}'), WAIT)
        assert first.startswith(b"HTTP/1.1 200")
        writer.write(b"GET /v1/metr")
        await writer.drain()
        assert await closed_by_server(reader) == b""
        writer.close()


async def _status(host: str, port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), WAIT)
    writer.close()
    return line


async def test_bodies_over_the_limit_are_refused_with_413(tmp_path: Path) -> None:
    big = b"x" * (MAX_BODY_BYTES + 1)
    chunked = b"".join(b"%x\r\n%s\r\n" % (1000, b"y" * 1000) for _ in range(6)) + b"0\r\n\r\n"
    async with gateway(tmp_path) as (host, port):
        head = b"GET /v1/metrics/quote HTTP/1.1\r\nHost: x\r\n"
        assert (await _status(host, port, head + b"Content-Length: %d\r\n\r\n" % len(big) + big)).startswith(
            b"HTTP/1.1 413"
        )
        assert (await _status(host, port, head + b"Content-Length: 100000000\r\n\r\n")).startswith(
            b"HTTP/1.1 413"
        )
        assert (await _status(host, port, head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked)).startswith(
            b"HTTP/1.1 413"
        )
        small = b"z" * 100
        assert (await _status(host, port, head + b"Content-Length: 100\r\n\r\n" + small)).startswith(
            b"HTTP/1.1 200"
        )
