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
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from fakekis.exchange.sessions import Session
from fakekis.faults import ScenarioRun, Wire
from kisclock import Clock

CONTROL_PREFIX = "/__fakekis/"


class NetShell:
    def __init__(self, faults: ScenarioRun, clock: Clock) -> None:
        self.faults, self.clock = faults, clock
        self.changed = asyncio.Event()
        self.held = 0  # REST answers held back right now (a `timeout` fault), for tests and stats
        self._queues: dict[
            ServerConnection, deque[tuple[str | bytes, Wire | None, Callable[[], None] | None]]
        ] = {}
        self._wake: dict[ServerConnection, asyncio.Event] = {}
        self._senders: dict[ServerConnection, asyncio.Task[None]] = {}

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

    def queued(self, conn: ServerConnection) -> bool:
        """Messages of this connection are waiting in its queue (a later one must wait behind them)."""
        return bool(self._queues.get(conn))

    def caught_up(self, now: float) -> bool:
        """No queued message is due at or before `now` (with a manual clock: all the last advance freed
        has been sent)."""
        return all(not q or (q[0][1] is not None and q[0][1].at > now) for q in self._queues.values())

    def send_ws(
        self,
        session: Session,
        conn: ServerConnection,
        data: str | bytes,
        plan: Wire | None,
        on_sent: Callable[[], None] | None = None,
    ) -> None:
        """Queue a message to leave as `plan` says. The connection's sender task sends its queue in order,
        so the caller (the read loop, the player, the heartbeat) goes on at once: as on a real network, a
        reply on the wire does not stop the server from reading the next request."""
        queue = self._queues.get(conn)
        if queue is None:
            queue = self._queues[conn] = deque()
            self._wake[conn] = asyncio.Event()
            self._senders[conn] = asyncio.create_task(self._sender(session, conn, queue, self._wake[conn]))
        queue.append((data, plan, on_sent))
        self._wake[conn].set()

    def forget(self, conn: ServerConnection) -> None:
        """The connection is gone: stop its sender (what was still queued is lost, as on a dropped socket)."""
        self._queues.pop(conn, None)
        self._wake.pop(conn, None)
        task = self._senders.pop(conn, None)
        if task is not None:
            task.cancel()

    async def _sender(
        self,
        session: Session,
        conn: ServerConnection,
        queue: deque[tuple[str | bytes, Wire | None, Callable[[], None] | None]],
        wake: asyncio.Event,
    ) -> None:
        try:
            while True:
                if not queue:
                    wake.clear()
                    await wake.wait()
                    continue
                data, plan, on_sent = queue[0]  # left in the queue until sent: caught_up() sees it
                if plan is not None and plan.at > self.clock.now():
                    await self._until(conn, plan.at)
                if not session.silenced:
                    if (
                        plan is not None
                        and plan.slice_size
                        and isinstance(data, str)
                        and len(data) > plan.slice_size
                    ):
                        await conn.send(self._slices(data, plan), text=True)  # one message, several fragments
                    else:
                        await conn.send(data, text=True)
                    session.texts_sent += 1
                    if on_sent is not None:
                        on_sent()
                queue.popleft()
        except ConnectionClosed:  # the socket went: nothing more to send on it
            self._queues.pop(conn, None)
            self._wake.pop(conn, None)
            self._senders.pop(conn, None)

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
