"""The fan-out: each replayed frame and each fill notice carried to the sockets of every environment.

`FakeKis` (serve/server.py) wires the servers together; this is where a frame or a notice goes once the
player or a paper order makes it. The exchange decides who gets what in typed actions; `connection.py`
encodes each action to text once, at the socket. The no-fault replay path sends the recorded text as it
is: an action object per frame cost ~30% of replay throughput. It also queues instead of sending: the
player calls `flush` before it waits or yields, and each socket gets its queued frames in one write and
one drain (a send per frame was most of a frame's cost: bench/analysis.md). So nothing is ever queued
while another task runs. Fill notices may be held back or lost by the notice-delay and notice-lost faults
(fakekis/faults/trading.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fakekis.exchange import notices
from fakekis.exchange.actions import Action, Data, Raw
from fakekis.exchange.auth import Registry
from fakekis.exchange.ledger import Ledger
from fakekis.exchange.market import MarketState
from fakekis.exchange.paper import Paper
from fakekis.exchange.sessions import Exchange, Session
from fakekis.faults import ScenarioRun
from fakekis.faults.trading import notice_delay
from fakekis.serve.connection import Shell, send, send_texts
from fakekis.serve.toxics import NetShell
from fakekis.tape.format import TapeFrame
from kisclock import Clock

__all__ = ["Environment", "Fanout"]


@dataclass
class Environment:
    name: str
    registry: Registry
    exchange: Exchange
    rest_url: str = ""
    ws_url: str = ""
    conns: dict[Session, Shell] = field(default_factory=dict)
    ledger: Ledger | None = None


class Fanout:
    """Delivers to every environment's open sockets; `emit` is the player's callback."""

    def __init__(
        self,
        envs: dict[str, Environment],
        market: MarketState,
        paper: dict[str, Paper],
        faults: ScenarioRun,
        clock: Clock,
        net: NetShell,
    ) -> None:
        self.envs, self.market, self.paper = envs, market, paper
        self.faults = faults  # the one fault run every environment and REST share
        self.clock, self.net = clock, net
        self._later: set[asyncio.Task[None]] = set()  # delayed fill notices (notice-delay fault)
        # replayed frames not yet written, per session: (its environment, [(UTF-8 text, frame)])
        self._queued: dict[Session, tuple[Environment, list[tuple[bytes, TapeFrame]]]] = {}

    def cancel(self) -> None:
        """Drop the fill notices still held back (at stop)."""
        for later in list(self._later):
            later.cancel()

    async def emit(self, frame: TapeFrame) -> None:
        """The player's callback: note the trade for REST, then each environment's deliveries. On the hot
        path (no faults) the recorded text is queued for `flush`; anything else flushes first, so a
        session still gets its frames, notices and fault actions in tape order."""
        self.market.apply(frame.tr_id, frame.text, frame.records, frame.tr_key)
        for env in self.envs.values():
            made = self.paper[env.name].on_frame(frame.tr_id, frame.text, frame.records, frame.tr_key)
            if made:
                await self.flush()
                await self.notify(env, made)
            exchange = env.exchange
            if exchange.faults is None:  # the hot path: the recorded text as it is, to whoever registered
                targets = exchange.route(frame.tr_id, frame.tr_key)
                if targets:
                    item = (frame.text.encode(), frame)  # encoded once, whoever gets it
                    queued = self._queued
                    for session in targets:
                        mine = queued.get(session)
                        if mine is None:
                            queued[session] = (env, [item])
                        else:
                            mine[1].append(item)
            else:
                await self.flush()
                data = Data(frame.tr_id, frame.records, frame.text)
                await self.deliver(env, exchange.deliver(data, frame.tr_key, self.clock.now()))

    async def flush(self) -> None:
        """Write each session's queued frames in one go and count what went out (the player calls this
        before it waits or yields to the loop)."""
        if not self._queued:
            return
        queued, self._queued = self._queued, {}
        for session, (env, items) in queued.items():
            shell = env.conns.get(session)
            if shell is not None and await send_texts(session, shell.conn, [data for data, _ in items]):
                now, sent = self.clock.now(), env.exchange.sent
                for _, frame in items:
                    sent(session, frame.records, frame.text, now)

    async def notify(self, env: Environment, made: list[notices.Notice]) -> None:
        """Send fill notices to the sessions that registered for them, each encrypted with its own key;
        the notice-delay and notice-lost faults hold some back (fakekis/faults/trading.py)."""
        paper = self.paper[env.name]
        for notice in made:
            delay = notice_delay(self.faults, self.clock.now()) if self.faults else 0.0
            if delay is None:
                paper.notices_lost += 1
            elif delay > 0:
                task = asyncio.create_task(self._notify_later(env, notice, self.clock.now() + delay))
                self._later.add(task)
                task.add_done_callback(self._later.discard)
            else:
                await self._send_notice(env, notice)

    async def _notify_later(self, env: Environment, notice: notices.Notice, due: float) -> None:
        await self.clock.sleep_until(due)
        await self._send_notice(env, notice)

    async def _send_notice(self, env: Environment, notice: notices.Notice) -> None:
        deliveries = notices.deliveries(env.exchange, notice)
        self.paper[env.name].notices_sent += len(deliveries)
        await self.deliver(env, list(deliveries))

    async def deliver(self, env: Environment, deliveries: list[tuple[Session, Action]]) -> None:
        gone: set[Session] = set()  # a session whose socket went away gets nothing more of this frame
        for session, action in deliveries:
            shell = env.conns.get(session)
            if shell is None or session in gone:
                continue
            if isinstance(action, (Data, Raw)):
                if await send(session, shell.conn, action, self.net):
                    env.exchange.sent(
                        session,
                        action.count,
                        action.text if isinstance(action, Data) else None,
                        self.clock.now(),
                    )
                elif not session.silenced:
                    gone.add(session)
            elif not await shell.do([action]):
                gone.add(session)
