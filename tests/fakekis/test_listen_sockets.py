"""The listening sockets we hand to uvicorn (fakekis REST, `kis-gateway serve`) must give accepted
connections TCP_NODELAY. They did not: a socket made with proto 0 is skipped by asyncio's
`_set_nodelay`, and every HTTP answer (headers, then body) waited ~40 ms for the peer's delayed ACK.
That was the whole of the 45-75 ms "freshness" and the 160 req/s "bare Starlette" in BENCHMARKS.md."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from fakekis.serve import listen as serving
from gateway import cli


@pytest.mark.anyio
@pytest.mark.parametrize("listen", [serving.listen, cli.listen], ids=["fakekis", "gateway"])
async def test_accepted_connections_have_tcp_nodelay(listen: Callable[[str, int], socket.socket]) -> None:
    sock = listen("127.0.0.1", 0)
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=sock)
    async with server:
        _, writer = await asyncio.open_connection(*sock.getsockname())
        assert await asyncio.wait_for(seen, 5) == 1
        writer.close()


def test_serve_runs_on_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvloop (the `fast` extra) has no Windows build: without it `kis-gateway serve` must still run."""
    monkeypatch.setitem(__import__("sys").modules, "uvloop", None)  # import uvloop -> ImportError
    assert cli._event_loop_runner() is asyncio.run
