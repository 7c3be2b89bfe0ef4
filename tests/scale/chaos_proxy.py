"""An in-test TCP proxy between one gateway and Redis: `forward` passes bytes, `blackhole` keeps every
socket open but stops moving bytes (a partition the kernel does not report), `reset` aborts them all."""

from __future__ import annotations

import asyncio
import contextlib


class ChaosProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._flowing = asyncio.Event()  # set: forward; clear: blackhole
        self._flowing.set()
        self.server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def mode(self) -> str:
        return "forward" if self._flowing.is_set() else "blackhole"

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in ("forward", "blackhole"):
            raise ValueError(f"mode {mode!r}: forward or blackhole")
        if mode == "forward":
            self._flowing.set()
        else:
            self._flowing.clear()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_w}
        pumps = [asyncio.create_task(self._pump(reader, up_w)), asyncio.create_task(self._pump(up_r, writer))]
        self._tasks.update(pumps)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for t in pumps:
            t.cancel()
            self._tasks.discard(t)
        for w in (writer, up_w):
            self._writers.discard(w)
            with contextlib.suppress(Exception):
                w.close()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        while data := await src.read(65536):
            await self._flowing.wait()  # held while partitioned, released the moment it heals
            dst.write(data)
            await dst.drain()

    def reset(self) -> None:
        for w in list(self._writers):
            if w.transport is not None:
                w.transport.abort()

    async def close(self) -> None:
        self.reset()
        for t in list(self._tasks):
            t.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
