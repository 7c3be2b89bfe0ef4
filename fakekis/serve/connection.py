"""One WebSocket connection to fakekis, as an asyncio shell around the exchange's session: its read loop,
its two timers (the PINGPONG heartbeat and the faults' deadlines), and carrying out the exchange's typed
actions. Messages are encoded here, once, at the socket (`send`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import struct
from collections.abc import Callable, Sequence
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode
from websockets.protocol import State

from fakekis.exchange.actions import Action, Close, Data, Drop, Heartbeat, Raw, Reply, encode
from fakekis.exchange.sessions import Exchange, Session
from fakekis.serve.toxics import NetShell
from kisclock import Clock

log = logging.getLogger("fakekis")


class KisConnection(ServerConnection):
    """Sees control frames: pongs (the official samples' PINGPONG answer) and client pings (F3)."""

    kis_session: Session | None = None
    kis_now: Callable[[], float] = staticmethod(lambda: 0.0)
    on_client_ping: Callable[[], None] | None = None

    def process_event(self, event: Any) -> None:
        opcode = getattr(event, "opcode", None)
        if opcode is Opcode.PONG and self.kis_session is not None:
            self.kis_session.pong_frame(self.kis_now())
        elif opcode is Opcode.PING and self.on_client_ping is not None:
            self.on_client_ping()
        super().process_event(event)

    def send_data(self) -> None:
        """websockets' own, except that several frames queued at once (a replay batch, `send_texts`) leave
        in one write, so one syscall instead of one per frame. An empty chunk marks the end of the stream
        (after a close frame): that case goes through the library's code unchanged."""
        chunks = self.protocol.data_to_send()
        if all(chunks):
            if chunks:
                self.transport.writelines(chunks)
            return
        for data in chunks:  # as ServerConnection.send_data does it (websockets 14-17)
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                with contextlib.suppress(Exception):  # write_eof() documents no exceptions
                    self.transport.write_eof()
            else:
                self.transport.close()


async def send_text(
    session: Session,
    conn: ServerConnection,
    data: str | bytes,
    net: NetShell | None = None,
    on_sent: Callable[[], None] | None = None,
) -> bool:
    """The one place a text frame goes out and is counted. False if nothing was sent: the session is
    silenced (half-open) or the socket is gone. `net`: the network faults decide when and how it leaves."""
    if session.silenced:
        return False
    if net is not None:
        plan = net.plan("ws", session, len(data))
        if plan is not None or net.queued(conn):  # the network faults' sender sends and counts it
            if conn.state is State.CLOSED:
                return False
            net.send_ws(session, conn, data, plan, on_sent)
            return True
    try:
        await conn.send(data, text=True)
    except ConnectionClosed:
        return False
    if on_sent is not None:
        on_sent()
    session.texts_sent += 1
    return True


async def send_texts(session: Session, conn: ServerConnection, payloads: Sequence[bytes]) -> bool:
    """Several text frames (already UTF-8) written to the socket together and drained once: the replay's
    hot path when frames are due together (asap, or a burst in a paced replay). Counted as `send_text`
    counts; no network faults on this path (the fan-out takes it only when the scenario has no faults)."""
    if session.silenced:
        return False
    try:
        async with conn.send_context():  # checks the state, then writes (`send_data`) and drains once
            send_frame = conn.protocol.send_text
            for data in payloads:
                send_frame(data)
    except ConnectionClosed:
        return False
    session.texts_sent += len(payloads)
    return True


async def send(
    session: Session,
    conn: ServerConnection,
    message: Reply | Data | Heartbeat | Raw,
    net: NetShell | None = None,
    on_sent: Callable[[], None] | None = None,
) -> bool:
    """The one place a message is encoded (raw bytes only from byte-level faults). `on_sent` runs once
    it has actually gone out."""
    return await send_text(session, conn, encode(message), net, on_sent)


def reset(conn: ServerConnection) -> None:
    """Abort with a TCP RST: SO_LINGER 0 makes the kernel reset instead of closing in order."""
    sock = conn.transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.transport.abort()


class Shell:
    """Runs one connection until it closes; `do` carries out actions on it (False once it is gone)."""

    def __init__(
        self,
        exchange: Exchange,
        conn: ServerConnection,
        clock: Clock,
        ping_interval: float,
        stamp: Callable[[], str],
        heartbeat_due: dict[ServerConnection, float],
        net: NetShell | None = None,
    ) -> None:
        self.exchange, self.conn, self.clock, self.net = exchange, conn, clock, net
        self.ping_interval, self.stamp, self.heartbeat_due = ping_interval, stamp, heartbeat_due
        self.session = exchange.open(clock.now())
        self.tasks: list[asyncio.Task[Any]] = []
        self.cause: str | None = None  # why the session ended, for the ledger (None: the socket closed)

    async def run(self, on_message: Callable[[], None]) -> None:
        """Read until the socket closes; `on_message` runs after each request was answered."""
        session, conn = self.session, self.conn
        if isinstance(conn, KisConnection):
            conn.kis_session, conn.kis_now = session, self.clock.now
            conn.on_client_ping = self._on_client_ping
        self.tasks += [asyncio.create_task(self._heartbeat()), asyncio.create_task(self._fault_timers())]
        try:
            async for message in conn:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                if not await self.do(self.exchange.receive(session, text, self.clock.now())):
                    return
                on_message()
        except ConnectionClosed:
            pass
        finally:
            for task in self.tasks:
                task.cancel()
            self.heartbeat_due.pop(conn, None)
            if self.net is not None:
                self.net.forget(conn)

    async def do(self, actions: list[Action]) -> bool:
        session, conn = self.session, self.conn
        for action in actions:
            try:
                if isinstance(action, (Reply, Data, Heartbeat, Raw)):
                    if not await send(session, conn, action, self.net) and not session.silenced:
                        return False  # the socket is gone
                elif isinstance(action, Drop):
                    log.info("dropping session %d: %s", session.number, action.reason)
                    self.cause = f"drop {action.reason}"
                    self.exchange.dropped(action.reason)
                    if action.reset:
                        session.silenced = True
                        reset(conn)
                    else:
                        await self._drop()
                    return False
                elif isinstance(action, Close):
                    await conn.close(action.code or 1000)
                    return False
            except ConnectionClosed:
                return False
        return True

    async def _drop(self) -> None:
        """Drop without a close frame, but after what was already sent: KIS says why (OPSP8996, OPSP0011)
        and then the socket goes. A TCP half-close delivers the buffered reply, then EOF (the client sees
        1006); an abort right away could discard that last message."""
        self.session.silenced = True  # nothing more goes out on this socket
        transport = self.conn.transport
        if transport.can_write_eof():
            transport.write_eof()
            with contextlib.suppress(asyncio.TimeoutError):
                # the client closes on EOF; bounded in real time
                await asyncio.wait_for(self.conn.wait_closed(), 2.0)
        transport.abort()

    def _on_client_ping(self) -> None:
        actions = self.exchange.client_ping(self.session)
        if actions:
            self.tasks.append(asyncio.create_task(self.do(actions)))

    async def _fault_timers(self) -> None:
        """Wake at each fault deadline of this connection (drop after N s, PINGPONG timeout, ...)."""
        while True:
            deadline = self.exchange.deadline(self.session)
            if deadline is None:
                # Re-check after each heartbeat: a PINGPONG can create a new deadline.
                deadline = self.clock.now() + self.ping_interval
            await self.clock.sleep_until(deadline)
            actions = self.exchange.due(self.session, self.clock.now())
            if actions and not await self.do(actions):
                return

    def _heartbeat_sent(self, session: Session) -> None:
        self.exchange.heartbeat_sent(session, self.clock.now())

    async def _heartbeat(self) -> None:
        """PINGPONG every `ping_interval` seconds of the clock, market open or not (§4.4)."""
        session, conn = self.session, self.conn
        next_at = self.heartbeat_due[conn] = self.clock.now() + self.ping_interval
        while True:
            await self.clock.sleep_until(next_at)
            next_at += self.ping_interval
            # counted when it leaves (a network fault may hold it in the connection's queue first)
            sent = functools.partial(self._heartbeat_sent, session)
            if (
                not await send(session, conn, Heartbeat(self.stamp()), self.net, on_sent=sent)
                and not session.silenced
            ):
                return  # the socket is gone
            self.heartbeat_due[conn] = next_at
