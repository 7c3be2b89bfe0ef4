"""The asyncio shell of the network faults (`faults/network.py`): it asks the running scenario how each
outgoing message leaves (`ScenarioRun.wire`) and carries out the plan on the injected clock: wait until
`at`, send in slices `slice_gap` apart (WebSocket fragments; REST body chunks), hold a REST answer.

`NetShell.changed` is set (and replaced) whenever faults are added or removed at runtime, so a held REST
answer is released the moment its `timeout` fault is removed. Control paths (`/__fakekis/...`) are never
slowed: they are how a test removes the fault.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.server import ServerConnection

from fakekis.faults import ScenarioRun, Wire
from kisclock import Clock

CONTROL_PREFIX = "/__fakekis/"


class NetShell:
    def __init__(self, faults: ScenarioRun, clock: Clock) -> None:
        self.faults, self.clock = faults, clock
        self.changed = asyncio.Event()
        self.held = 0  # REST answers held back right now (a `timeout` fault), for tests and stats

    def notify(self) -> None:
        """Faults were added or removed: wake whoever holds an answer, then arm a fresh event."""
        self.changed.set()
        self.changed = asyncio.Event()

    def plan(self, channel: str, stream: object, size: int) -> Wire | None:
        return self.faults.wire(channel, stream, size, self.clock.now()) if self.faults else None

    async def wait(self, until: float, closing: asyncio.Event | None = None) -> None:
        """Until the clock reaches `until` (inf: never), the faults change, or the server closes."""
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self.changed.wait())}
        if math.isfinite(until):
            waits.add(asyncio.ensure_future(self.clock.sleep_until(until)))
        if closing is not None:
            waits.add(asyncio.ensure_future(closing.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def send_ws(self, conn: ServerConnection, data: str | bytes, plan: Wire) -> None:
        if plan.at > self.clock.now():
            await self._until(conn, plan.at)
        if plan.slice_size and isinstance(data, str) and len(data) > plan.slice_size:
            await conn.send(self._slices(data, plan), text=True)  # one message in several fragments
        else:
            await conn.send(data, text=True)

    async def _until(self, conn: ServerConnection, at: float) -> None:
        """Wait for the clock to reach `at`, or for the socket to close (then `send` fails as it should:
        a manual clock that is never advanced must not keep a closing server waiting)."""
        waits: set[asyncio.Future[Any]] = {
            asyncio.ensure_future(self.clock.sleep_until(at)),
            asyncio.ensure_future(conn.wait_closed()),
        }
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _slices(self, data: str, plan: Wire) -> AsyncIterator[str]:
        for i in range(0, len(data), plan.slice_size):
            if i and plan.slice_gap:
                await self.clock.sleep_until(self.clock.now() + plan.slice_gap)
            yield data[i : i + plan.slice_size]


class RestToxics:
    """ASGI middleware: each REST answer (except control paths) leaves as the network faults say."""

    def __init__(self, app: Any, net: NetShell) -> None:
        self.app, self.net = app, net

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(CONTROL_PREFIX) or not self.net.faults:
            await self.app(scope, receive, send)
            return
        messages: list[dict[str, Any]] = []

        async def keep(message: dict[str, Any]) -> None:
            messages.append(message)

        await self.app(scope, receive, keep)
        start = [m for m in messages if m["type"] == "http.response.start"]
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        plan = self.net.plan("rest", path, len(body))
        closing = scope.get("state", {}).get("closing")
        if plan is not None and plan.hold_until is not None:
            self.net.held += 1
            try:
                await self.net.wait(plan.hold_until, closing)
            finally:
                self.net.held -= 1
        elif plan is not None and plan.at > self.net.clock.now():
            await self.net.wait(plan.at, closing)
        for m in start:
            await send(m)
        size = plan.slice_size if plan is not None and plan.slice_size else len(body) or 1
        pieces = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
        for i, piece in enumerate(pieces):
            if i and plan is not None and plan.slice_gap:
                await self.net.clock.sleep_until(self.net.clock.now() + plan.slice_gap)
            await send({"type": "http.response.body", "body": piece, "more_body": i < len(pieces) - 1})
