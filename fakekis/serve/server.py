"""The asyncio shell: REST (uvicorn) and WebSocket (websockets) servers per environment, wired together.
Logic lives in the sans-I/O cores; this only moves data. `FakeKis` builds each environment's REST app
(quotations, paper trading, admin, fault control), its WebSocket server, the player over the replay window
(the market primed as of its start) and the scale-out ledger; where each replayed frame and fill notice goes
is `fanout.py`, one WebSocket's shell is `connection.py`.
Longer than our ~300-line mark because it is the one place the environments' REST apps, WebSocket servers,
the player and paper trading are wired together; no rule lives here.

Usage (tests, the demo, the CLI)::

    async with FakeKis(recording, envs=("mock",), speed=1.0) as kis:
        kis.urls["mock"]  # {"rest_url": "http://127.0.0.1:PORT", "ws_url": "ws://127.0.0.1:PORT"}
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Sequence
from datetime import datetime
from http import HTTPStatus
from typing import Any

import uvicorn
from websockets.asyncio.server import Server, ServerConnection, serve

from fakekis.exchange.accounts import DEFAULT_START_CASH, Accounts
from fakekis.exchange.auth import Registry
from fakekis.exchange.cassette import DEFAULT_MATCH_ON, Replay
from fakekis.exchange.ledger import Ledger
from fakekis.exchange.market import MarketState
from fakekis.exchange.paper import Paper
from fakekis.exchange.products import Catalogue
from fakekis.exchange.sessions import PINGPONG_DEADLINE, Exchange
from fakekis.exchange.warm import IndexFold, restore
from fakekis.faults import Fault, Scenario
from fakekis.serve import admin, control
from fakekis.serve.connection import KisConnection, Shell
from fakekis.serve.fanout import Environment, Fanout
from fakekis.serve.listen import start_rest
from fakekis.serve.player import Player
from fakekis.serve.replay import CassetteReplay
from fakekis.serve.rest import create_app
from fakekis.serve.toxics import NetShell, RestToxics
from fakekis.serve.trading import trading_routes
from fakekis.tape import cassette
from fakekis.tape.format import Recording, RecordingError, TapeFrame
from fakekis.tape.index import INDEX_NAME
from fakekis.tape.source import ListSource
from fakekis.tape.stream import Tape, Window
from fakekis.tape.warmup import warm_start
from fakekis.wire.frames import split_frame
from kisclock import KST, Clock, WallClock

log = logging.getLogger("fakekis")
DEFAULT_REST_RPS = {"live": 20, "mock": 2}


class FakeKis:
    def __init__(
        self,
        recording: Recording | Tape | None = None,
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
        rest_match_on: Sequence[str] = DEFAULT_MATCH_ON,
        lenient: bool = False,
        hts_id: str | None = None,
        pingpong_deadline: float = PINGPONG_DEADLINE,
        start_cash: int = DEFAULT_START_CASH,
        window: Window | None = None,
        ledger: bool = False,
        session_release_delay: float = 0.0,
    ) -> None:
        """`ledger` keeps the scale-out ledger (`GET /__fakekis/history`, `history()`);
        `session_release_delay` keeps an appkey taken that long after its owner's socket goes. `lenient` acks every well-formed subscription (no TR/tr_key/HTS ID checks); `hts_id` is the one
        HTS ID fill notices accept (None: any non-empty); `pingpong_deadline` seconds without an answer to a
        PINGPONG end a session (0: never); `start_cash` is the deposit of a paper account on first use."""
        if not 0 <= pingpong_deadline < float("inf"):  # False for NaN
            raise ValueError("pingpong_deadline must be a finite number of seconds >= 0 (0: never)")
        if not 0 <= session_release_delay < float("inf"):
            raise ValueError("session_release_delay must be a finite number of seconds >= 0")
        if start_on not in ("subscribe", "ready", "manual"):
            raise ValueError("start_on must be 'subscribe', 'ready' or 'manual' (kis.player.start())")
        self.recording = recording
        self.scenario = scenario or Scenario()
        self.faults = self.scenario.run()  # one run (fault state) shared by every environment and REST
        self.clock: Clock = clock or WallClock()
        self.net = NetShell(self.faults, self.clock)  # the network faults' shell (serve/toxics.py)
        self.host, self.ping_interval, self.start_on = host, ping_interval, start_on
        self.ports = ports or {}
        rng = random.Random(seed)
        rps = {**DEFAULT_REST_RPS, **(rest_rps or {})}
        self.envs: dict[str, Environment] = {}
        for name in envs:
            reg = Registry(name, rng=random.Random(rng.getrandbits(64)), rest_rps=rps[name])
            book = Ledger(name) if ledger else None
            exch = Exchange(
                reg,
                max_registrations=max_registrations,
                seed=rng.getrandbits(32),
                scenario=self.faults,
                lenient=lenient,
                hts_id=hts_id,
                pingpong_deadline=pingpong_deadline,
                ledger=book,
                release_delay=session_release_delay,
            )
            self.envs[name] = Environment(name, reg, exch, ledger=book)
        self.market = MarketState(seed=seed)
        if isinstance(recording, Tape) and recording.index is None:
            # No ws.index.json: one checking pass in constant memory gives the first trades, the totals,
            # the seek points and the market checkpoints (`fakekis index` writes them once instead).
            log.debug("%s has no index; reading it once (`fakekis index` saves this)", recording.path)
            recording.index = recording.build_index(fold=IndexFold())
        source = (
            None if recording is None else recording if isinstance(recording, Tape) else ListSource(recording)
        )
        self.window = window or Window()
        first = source.first_trades() if source else {}
        self._warm_up(recording, source, first)
        traded = set(first) | {key for _, key in (recording.subscriptions if recording else [])}
        self.products = Catalogue(sorted(traded), recording.products if recording else None)
        # paper trading (docs/paper-trading.md): one engine and ledger per environment, fed by the player
        self.accounts = Accounts(start_cash)
        self.paper = {n: Paper(n, self.accounts, self.market.prev_close, self._product_name) for n in envs}
        self.fanout = Fanout(self.envs, self.market, self.paper, self.faults, self.clock, self.net)
        self._emit = self.fanout.emit  # the player's callback (serve/fanout.py)
        w = self.window
        whole = w.start <= 0 and w.until == float("inf") and w.symbols is None
        self.player = Player(
            source.frames(w.start, w.until, w.symbols) if source else [],
            self.clock,
            speed,
            recording.start if recording else self.clock.now(),
            self._emit,
            origin=w.start,
            total=source.frame_count() if source and whole else None,
            flush=self.fanout.flush,
        )
        self.market.now_fn = self.player.market_now  # REST's "now" is the replay's market time
        # rest.yaml replay (docs/recordings.md), one per environment so each counts its own misses
        recorded = cassette.parse(recording.rest) if recording else []
        self.rest_replay = {name: Replay(recorded, rest_match_on) for name in envs}
        self._tasks: list[asyncio.Task[None]] = []
        self._heartbeat_due: dict[ServerConnection, float] = {}
        self._rest: list[uvicorn.Server] = []
        self._ws: list[Server] = []
        self.replay_finished_at: float | None = None  # the clock's now when the last frame went out

    def _warm_up(
        self,
        recording: Recording | Tape | None,
        source: Tape | ListSource | None,
        first: dict[str, TapeFrame],
    ) -> None:
        """REST as of the window's start, as a replay from the top would have it there: the index's market
        checkpoint before the start restored (exchange/warm.py), every symbol's first trade primed (its
        previous close), then the frames from the checkpoint to the start folded (tape/warmup.py)."""
        warm = warm_start(source, self.window.start) if source and self.window.start > 0 else None
        if warm is not None and warm.states:
            try:
                restore(self.market, warm.states)
            except ValueError as e:
                path = recording.path / INDEX_NAME if isinstance(recording, Tape) else INDEX_NAME
                raise RecordingError(path, None, f"{e}; rebuild it with `fakekis index`") from None
        if warm is not None and not warm.indexed_state and isinstance(recording, Tape):
            log.info(
                "%s: its index has no market state (an older index); REST is warmed from the top of the "
                "tape (`fakekis index %s` adds it)",
                recording.path,
                recording.path,
            )
        for f in first.values():  # each symbol's first trade tells REST its previous close
            parts = split_frame(f.text)
            if parts:
                self.market.prime(parts[3].split("^", 46)[:46])
        if warm is not None:
            for f in warm.frames:
                self.market.apply(f.tr_id, f.text, f.records, f.tr_key)

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
                stats=functools.partial(self.stats, env.name),
                scenario=self.faults,
                cassette=CassetteReplay(self.rest_replay[env.name], self.tape_now),
                ledger=env.ledger,
                extra_routes=trading_routes(
                    env.registry,
                    self.paper[env.name],
                    self.accounts,
                    self.clock,
                    WallClock(),
                    self.player.market_now,
                    functools.partial(self.fanout.notify, env),
                    other_registries=others,
                    scenario=self.faults,
                )
                + admin.routes(
                    env.exchange, env.ledger, self.clock, functools.partial(self.drop_appkey, env.name)
                ),
            )
            app.router.routes.extend(control.routes(self.faults, self._faults_changed))
            server, task, env.rest_url = start_rest(
                RestToxics(app, self.net), self.host, rest_port, self.clock.now
            )
            task.set_name(f"rest-{env.name}")
            self._rest.append(server)
            self._tasks.append(task)
            ws = await serve(
                functools.partial(self._handle, env),
                self.host,
                ws_port,
                ping_interval=None,
                compression=None,
                create_connection=KisConnection,
                max_size=2**20,
                process_request=self._admit,
            )
            self._ws.append(ws)
            env.ws_url = f"ws://{self.host}:{ws.sockets[0].getsockname()[1]}"
        # The REST sockets already listen: a request made before uvicorn's loop takes over waits in the
        # kernel backlog, so there is nothing to poll for here.
        self._tasks.append(asyncio.create_task(self._play(), name="player"))
        if self.start_on == "ready":
            self.player.start()

    async def _play(self) -> None:
        await self.player.run()
        self.replay_finished_at = self.clock.now()
        log.info(
            "replay finished: %d frames, market time %s",
            self.player.emitted,
            datetime.fromtimestamp(self.player.market_now(), KST).isoformat(),
        )

    def _product_name(self, code: str) -> str:
        """The name paper-trading answers and notices show: the code itself for a code nobody named."""
        return self.products.name(code) or code

    def replay_status(self) -> str:
        """One line for a progress display: where the replay is."""
        total, done = self.player.total, self.player.emitted  # total: None for a window or an unindexed tape
        if self.replay_finished_at is not None:
            return f"replay finished: {done:,} frames"
        if not self.player.started:
            return f"replay waiting for the first subscription ({f'{total:,}' if total else '?'} frames)"
        market = datetime.fromtimestamp(self.player.market_now(), KST).strftime("%H:%M:%S")
        sessions = sum(len(e.conns) for e in self.envs.values())
        of = f"/{total:,} frames ({done / max(total, 1):.0%})" if total else " frames"
        return f"replay {done:,}{of}, market {market} KST, {sessions} sessions"

    async def stop(self) -> None:
        self.fanout.cancel()
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

    def tape_now(self) -> float:
        """Seconds since the recording's start that the replay has reached (the timeline of ws.jsonl's
        and rest.yaml's `t`)."""
        return self.player.market_now() - self.player.recording_start

    # -- faults at runtime (serve/control.py; the plugin's add_fault) -------------------------------
    def add_fault(self, fault: Fault[Any]) -> int:
        """Start a fault now, on every environment; returns its id."""
        fault_id = self.faults.add(fault)
        self._faults_changed()
        return fault_id

    def remove_fault(self, fault_id: int | None = None) -> int:
        """Stop the fault with this id (None: every fault); how many were removed."""
        removed = self.faults.remove(fault_id)
        self._faults_changed()
        return removed

    def _faults_changed(self) -> None:
        # The exchanges skip the fault plug points entirely (the hot path) while no fault is active.
        for env in self.envs.values():
            env.exchange.faults = self.faults if self.faults else None
        self.net.notify()

    def stats(self, env: str) -> dict[str, object]:
        e = self.envs[env]
        return {
            "env": env,
            "scenario": self.faults.describe(),
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
                "total": self.player.total,
                "done": self.player.done.is_set(),
                "finished_at": None
                if self.replay_finished_at is None
                else datetime.fromtimestamp(self.replay_finished_at, KST).isoformat(),
                "market_time": datetime.fromtimestamp(self.player.market_now(), KST).isoformat(),
            },
            "rest_replay": self.rest_replay[env].stats(),
            "paper": {
                "orders": len(self.paper[env].ledger),
                "fills": len(self.paper[env].fills),
                "notices_made": self.paper[env].notices_made,
                "notices_sent": self.paper[env].notices_sent,
                "notices_lost": self.paper[env].notices_lost,
            },
        }

    def caught_up(self) -> bool:
        """No replay frame and no PINGPONG is due at or before the clock's now: with a manual clock,
        everything the last `advance` made due has been sent."""
        now = self.clock.now()
        return (
            self.player.caught_up()
            and all(due > now for due in self._heartbeat_due.values())
            and self.net.caught_up(now)
        )

    def drop_connections(self, env: str) -> int:
        """Abort every WebSocket of `env` without a close frame (clients see 1006, failure mode F1)."""
        conns = list(self.envs[env].conns.values())
        for shell in conns:
            shell.conn.transport.abort()
        # counted here: these drops bypass the action path
        self.envs[env].exchange.dropped("manual", len(conns))
        return len(conns)

    def drop_appkey(self, env: str, appkey: str) -> int:
        """Abort the sockets of one appkey's sessions (the others stay), as `drop_connections` does."""
        e = self.envs[env]
        shells = [e.conns[s] for s in e.exchange.sessions_of(appkey) if s in e.conns]
        for shell in shells:
            shell.cause = "admin-drop"
            shell.conn.transport.abort()
        e.exchange.dropped("manual", len(shells))
        return len(shells)

    def history(self, env: str = "mock") -> list[dict[str, object]]:
        """The ledger's entries (FakeKis(ledger=True)); the pytest plugin's view of `/__fakekis/history`."""
        book = self.envs[env].ledger
        if book is None:
            raise RuntimeError("no ledger: construct FakeKis(ledger=True)")
        return list(book.events)

    # -- WebSocket ---------------------------------------------------------------------------
    def _admit(self, conn: ServerConnection, request: Any) -> Any:
        if self.faults.admit(self.clock.now()):
            return None
        return conn.respond(HTTPStatus.FORBIDDEN, "blocked: too many connections (reconnect storm)\n")

    async def _handle(self, env: Environment, conn: ServerConnection) -> None:
        shell = Shell(
            env.exchange, conn, self.clock, self.ping_interval, self._stamp, self._heartbeat_due, self.net
        )
        env.conns[shell.session] = shell
        try:
            await shell.run(lambda: self._after_request(env))
        finally:
            env.conns.pop(shell.session, None)
            env.exchange.closed(
                shell.session, self.clock.now(), shell.cause or f"closed {shell.conn.close_code}"
            )

    def _after_request(self, env: Environment) -> None:
        if self.start_on == "subscribe" and env.exchange.acked_any:
            self.player.start()

    def _stamp(self) -> str:
        """The exchange's KST time for PINGPONG: where the replay is."""
        return datetime.fromtimestamp(self.player.market_now(), KST).strftime("%Y%m%d%H%M%S")
