"""The asyncio shell: REST (uvicorn) and WebSocket (websockets) servers per environment, the
PINGPONG heartbeat and the replay player. Logic lives in the sans-I/O cores; this only moves data.

Usage (tests, the demo, the CLI)::

    async with FakeKis(recording, envs=("mock",), speed=1.0) as kis:
        kis.urls["mock"]  # {"rest_url": "http://127.0.0.1:PORT", "ws_url": "ws://127.0.0.1:PORT"}
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any

import uvicorn
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode

from fakekis.exchange.auth import Registry
from fakekis.exchange.market import MarketState
from fakekis.exchange.products import Catalogue
from fakekis.exchange.sessions import Action, Close, Drop, Exchange, Send, SendRaw, Session
from fakekis.faults import Scenario
from fakekis.serve.listen import start_rest
from fakekis.serve.player import Player
from fakekis.serve.rest import create_app
from fakekis.tape.format import Recording, TapeFrame
from kisclock import KST, Clock, WallClock

log = logging.getLogger("fakekis")
DEFAULT_REST_RPS = {"live": 20, "mock": 2}


class _KisConnection(ServerConnection):
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


@dataclass
class Environment:
    name: str
    registry: Registry
    exchange: Exchange
    rest_url: str = ""
    ws_url: str = ""
    conns: dict[Session, ServerConnection] = field(default_factory=dict)


class FakeKis:
    def __init__(
        self,
        recording: Recording | None = None,
        *,
        envs: tuple[str, ...] = ("mock",),
        speed: float | None = 1.0,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        ports: dict[str, tuple[int, int]] | None = None,
        ping_interval: float = 10.0,
        start_on: str = "subscribe",
        seed: int = 0,
        rest_rps: dict[str, int] | None = None,
        max_registrations: int = 41,
        scenario: Scenario | None = None,
    ) -> None:
        if start_on not in ("subscribe", "ready", "manual"):
            raise ValueError("start_on must be 'subscribe', 'ready' or 'manual' (kis.player.start())")
        self.recording = recording
        self.scenario = scenario or Scenario()
        self.clock: Clock = clock or WallClock()
        self.host, self.ping_interval, self.start_on = host, ping_interval, start_on
        self.ports = ports or {}
        rng = random.Random(seed)
        rps = {**DEFAULT_REST_RPS, **(rest_rps or {})}
        self.envs: dict[str, Environment] = {}
        for name in envs:
            reg = Registry(name, rng=random.Random(rng.getrandbits(64)), rest_rps=rps[name])
            exch = Exchange(
                reg, max_registrations=max_registrations, seed=rng.getrandbits(32), scenario=self.scenario
            )
            self.envs[name] = Environment(name, reg, exch)
        self.market = MarketState()
        frames = recording.data_frames() if recording else []
        for f in frames:  # each symbol's first trade tells REST its previous close
            if f.tr_id == "H0STCNT0" and f.tr_key not in self.market.prev_close:
                self.market.prime(f.text.split("|", 3)[3].split("^", 46)[:46])
        traded = {f.tr_key for f in frames} | {
            key for _, key in (recording.subscriptions if recording else [])
        }
        self.products = Catalogue(sorted(traded), recording.products if recording else None)
        self.player = Player(
            frames, self.clock, speed, recording.start if recording else self.clock.now(), self._emit
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._heartbeat_due: dict[ServerConnection, float] = {}
        self._rest: list[uvicorn.Server] = []
        self._ws: list[Server] = []

    # -- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> FakeKis:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        for env in self.envs.values():
            rest_port, ws_port = self.ports.get(env.name, (0, 0))
            others = tuple(e.registry for e in self.envs.values() if e is not env)
            app = create_app(
                env.registry,
                self.market,
                self.clock,
                products=self.products,
                other_registries=others,
                stats=lambda env=env: self.stats(env.name),
                scenario=self.scenario,
            )
            server, task, env.rest_url = start_rest(app, self.host, rest_port)
            task.set_name(f"rest-{env.name}")
            self._rest.append(server)
            self._tasks.append(task)
            ws = await serve(
                lambda conn, env=env: self._handle(env, conn),
                self.host,
                ws_port,
                ping_interval=None,
                compression=None,
                create_connection=_KisConnection,
                max_size=2**20,
                process_request=self._admit,
            )
            self._ws.append(ws)
            env.ws_url = f"ws://{self.host}:{ws.sockets[0].getsockname()[1]}"
        # The REST sockets already listen: a request made before uvicorn's loop takes over waits in the
        # kernel backlog, so there is nothing to poll for here.
        self._tasks.append(asyncio.create_task(self.player.run(), name="player"))
        if self.start_on == "ready":
            self.player.start()

    async def stop(self) -> None:
        for ws in self._ws:
            ws.close()
        for server in self._rest:
            server.should_exit = True
        for ws in self._ws:
            await ws.wait_closed()
        for task in self._tasks:
            if task.get_name().startswith("rest-"):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    @property
    def urls(self) -> dict[str, dict[str, str]]:
        return {n: {"rest_url": e.rest_url, "ws_url": e.ws_url} for n, e in self.envs.items()}

    def stats(self, env: str) -> dict[str, object]:
        e = self.envs[env]
        return {
            "env": env,
            "scenario": self.scenario.describe(),
            **e.exchange.stats.as_dict(),
            "open_sessions": [
                {
                    "number": s.number,
                    "subscriptions": [list(x) for x in s.subscriptions],
                    "frames_sent": s.frames_sent,
                    "pingpongs_sent": s.pingpongs_sent,
                    "texts_sent": s.texts_sent,
                    "texts_received": s.texts_received,
                }
                for s in e.exchange.sessions
            ],
            "replay": {
                "started": self.player.started,
                "emitted": self.player.emitted,
                "total": len(self.player.frames),
                "done": self.player.done.is_set(),
                "market_time": datetime.fromtimestamp(self.player.market_now(), KST).isoformat(),
            },
        }

    def caught_up(self) -> bool:
        """No replay frame and no PINGPONG is due at or before the clock's now: with a manual clock,
        everything the last `advance` made due has been sent."""
        now = self.clock.now()
        return self.player.caught_up() and all(due > now for due in self._heartbeat_due.values())

    def drop_connections(self, env: str) -> int:
        """Abort every WebSocket of `env` without a close frame (clients see 1006, failure mode F1)."""
        conns = list(self.envs[env].conns.values())
        for conn in conns:
            conn.transport.abort()
        # counted here: these drops bypass the action path
        self.envs[env].exchange.stats.drops["manual"] += len(conns)
        return len(conns)

    # -- WebSocket ---------------------------------------------------------------------------
    def _admit(self, conn: ServerConnection, request: Any) -> Any:
        if self.scenario.admit(self.clock.now()):
            return None
        return conn.respond(HTTPStatus.FORBIDDEN, "blocked: too many connections (reconnect storm)\n")

    async def _handle(self, env: Environment, conn: ServerConnection) -> None:
        session = env.exchange.open(self.clock.now())
        assert isinstance(conn, _KisConnection)
        conn.kis_session = session
        conn.kis_now = self.clock.now
        env.conns[session] = conn
        tasks = [
            asyncio.create_task(self._heartbeat(env, session, conn)),
            asyncio.create_task(self._fault_timers(session, conn)),
        ]
        conn.on_client_ping = lambda: self._on_client_ping(session, conn, tasks)
        try:
            async for message in conn:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                if not await self._do(session, conn, session.receive(text, self.clock.now())):
                    return
                if self.start_on == "subscribe" and env.exchange.stats.acks["OPSP0000"]:
                    self.player.start()
        except ConnectionClosed:
            pass
        finally:
            for task in tasks:
                task.cancel()
            self._heartbeat_due.pop(conn, None)
            env.conns.pop(session, None)
            env.exchange.closed(session)

    @staticmethod
    async def _send(session: Session, conn: ServerConnection, data: str | bytes) -> bool:
        """The one place a text frame goes out (str, or raw bytes a fault made) and is counted.
        False if nothing was sent: the session is silenced (half-open) or the socket is gone."""
        if session.silenced:
            return False
        try:
            await conn.send(data, text=True)
        except ConnectionClosed:
            return False
        session.texts_sent += 1
        return True

    async def _do(self, session: Session, conn: ServerConnection, actions: list[Action]) -> bool:
        """Carry out actions on one connection; False once it is gone."""
        for action in actions:
            try:
                if isinstance(action, (Send, SendRaw)):
                    data = action.text if isinstance(action, Send) else action.data
                    if not await self._send(session, conn, data) and not session.silenced:
                        return False  # the socket is gone
                elif isinstance(action, Drop):
                    log.info("dropping session %d: %s", session.number, action.reason)
                    session.exchange.stats.drops[action.reason] += 1
                    await self._drop(session, conn)
                    return False
                elif isinstance(action, Close):
                    await conn.close(action.code or 1000)
                    return False
            except ConnectionClosed:
                return False
        return True

    async def _drop(self, session: Session, conn: ServerConnection) -> None:
        """Drop without a close frame, but after what was already sent: KIS says why (OPSP8996, OPSP0011)
        and then the socket goes. A TCP half-close delivers the buffered reply, then EOF (the client sees
        1006); an abort right away could discard that last message."""
        session.silenced = True  # nothing more goes out on this socket
        transport = conn.transport
        if transport.can_write_eof():
            transport.write_eof()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    conn.wait_closed(), 2.0
                )  # the client closes on EOF; bounded in real time
        transport.abort()

    def _on_client_ping(
        self, session: Session, conn: ServerConnection, tasks: list[asyncio.Task[Any]]
    ) -> None:
        actions = self.scenario.client_ping(session)
        if actions:
            tasks.append(asyncio.create_task(self._do(session, conn, actions)))

    async def _fault_timers(self, session: Session, conn: ServerConnection) -> None:
        """Wake at each fault deadline of this connection (drop after N s, PINGPONG timeout, ...)."""
        while True:
            deadline = self.scenario.deadline(session)
            if deadline is None:
                # Re-check after each heartbeat: a PINGPONG can create a new deadline.
                deadline = self.clock.now() + self.ping_interval
            await self.clock.sleep_until(deadline)
            actions = self.scenario.due(session, self.clock.now())
            if actions and not await self._do(session, conn, actions):
                return

    async def _heartbeat(self, env: Environment, session: Session, conn: ServerConnection) -> None:
        """PINGPONG every `ping_interval` seconds of the clock, market open or not (§4.4)."""
        next_at = self._heartbeat_due[conn] = self.clock.now() + self.ping_interval
        while True:
            await self.clock.sleep_until(next_at)
            next_at += self.ping_interval
            stamp = datetime.fromtimestamp(self.player.market_now(), KST).strftime("%Y%m%d%H%M%S")
            if await self._send(session, conn, '{"header":{"tr_id":"PINGPONG","datetime":"' + stamp + '"}}'):
                env.exchange.heartbeat_sent(session, self.clock.now())
            elif not session.silenced:
                return  # the socket is gone
            self._heartbeat_due[conn] = next_at

    async def _emit(self, frame: TapeFrame) -> None:
        self.market.apply(frame.tr_id, frame.text, frame.records, frame.tr_key)
        if not self.scenario:  # the hot path: no faults, the recorded text as it is
            for env in self.envs.values():
                for session in env.exchange.route(frame.tr_id, frame.tr_key):
                    conn = env.conns.get(session)
                    if conn is not None and await self._send(session, conn, frame.text):
                        env.exchange.sent(session, frame.records)
            return
        for tr_id in self.scenario.reroute(frame.tr_id):
            text = (
                frame.text
                if tr_id == frame.tr_id
                else frame.text.replace(f"|{frame.tr_id}|", f"|{tr_id}|", 1)
            )
            for env in self.envs.values():
                for session in env.exchange.route(tr_id, frame.tr_key):
                    conn = env.conns.get(session)
                    if conn is None or session.silenced:
                        continue
                    actions = (
                        self.scenario.data(session, text, tr_id, self.clock.now())
                        if self.scenario
                        else [Send(text)]
                    )
                    for action in actions:
                        if not await self._do(session, conn, [action]):
                            break
                        if isinstance(action, (Send, SendRaw)):
                            env.exchange.sent(session, _records(action))


def _records(action: Send | SendRaw) -> int:
    """The record count a data frame declares (0 when a fault broke the header)."""
    head = action.text[:24] if isinstance(action, Send) else action.data[:24].decode("ascii", "replace")
    parts = head.split("|", 3)
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
