"""Network faults ("toxics", as Toxiproxy calls them): what the network between a client and KIS does to
bytes that KIS sent correctly. Latency with jitter, a bandwidth cap, slow REST answers, a TCP reset, a
timeout (no answer) and a slicer that cuts messages into small fragments.

They plug in at one point, `wire(state, channel, stream, size, now, plan)`: the shell asks, for each
outgoing WebSocket message (`channel` "ws", `stream` the session) and each REST answer ("rest", the URL
path), when it may leave and in what shape, and carries out the resulting `Wire` plan on the injected
clock (a manual clock holds delayed messages until it is advanced). Jitter is drawn from a
`random.Random(seed)` in the fault's per-run state, so a run is reproducible. Order within one stream is
kept: a message never overtakes the one sent before it on the same socket.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from fakekis.exchange.actions import Action, Drop, Session, Silence
from fakekis.faults.base import Fault, Wire
from fakekis.faults.connection import ConnectionCut
from fakekis.faults.params import count, one_of, param, seconds, text

CHANNELS = ("both", "ws", "rest")


def _applies(on: str, channel: str) -> bool:
    return on == "both" or on == channel


@dataclass
class Paced:
    """Per-run state of the pacing toxics: when each stream's last message leaves, and a seeded RNG."""

    rng: random.Random
    last: dict[Any, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Latency(Fault[Paced]):
    name, f = "latency", "N"
    summary = (
        "every outgoing message (WebSocket) or answer (REST) on `on` waits `latency_s` ± `jitter_s` "
        "(seeded by `seed`); order on a socket is kept"
    )
    gateway = "judges freshness by its own receive time; the idle deadline tolerates delays below it"
    latency_s: float = param(0.1, seconds())
    jitter_s: float = param(0.0, seconds())
    on: str = param("both", one_of(*CHANNELS))
    seed: int = param(0, count(0, 2**31))

    def state(self) -> Paced:
        return Paced(random.Random(self.seed))

    def wire(self, state: Paced, channel: str, stream: object, size: int, now: float, plan: Wire) -> Wire:
        if not _applies(self.on, channel):
            return plan
        jitter = state.rng.uniform(-self.jitter_s, self.jitter_s) if self.jitter_s else 0.0
        at = max(plan.at + max(self.latency_s + jitter, 0.0), state.last.get(stream, now))
        state.last[stream] = at
        return replace(plan, at=at)


@dataclass(frozen=True)
class Bandwidth(Fault[Paced]):
    name, f = "bandwidth", "N"
    summary = "outgoing bytes on `on` are capped at `bytes_per_s`: each message leaves when the link has sent the ones before it"
    gateway = "the receive loop keeps up with what arrives; quotes are as fresh as the link allows"
    bytes_per_s: int = param(10_000, count(1, 10**9))
    on: str = param("both", one_of(*CHANNELS))

    def state(self) -> Paced:
        return Paced(random.Random(0))

    def wire(self, state: Paced, channel: str, stream: object, size: int, now: float, plan: Wire) -> Wire:
        if not _applies(self.on, channel):
            return plan
        start = max(plan.at, state.last.get(channel, now))  # one link per channel, shared by its streams
        at = start + size / self.bytes_per_s
        state.last[channel] = at
        return replace(plan, at=at)


@dataclass(frozen=True)
class SlowRest(Fault[None]):
    name, f = "slow-rest", "N"
    summary = "REST answers whose path contains `path` (all when empty) leave `delay_s` late"
    gateway = "its REST client gives up after its 10 s timeout; the quote is answered 503 with the reason"
    delay_s: float = param(2.0, seconds())
    path: str = param("", text(200))

    def wire(self, state: None, channel: str, stream: object, size: int, now: float, plan: Wire) -> Wire:
        if channel != "rest" or self.path not in str(stream):
            return plan
        return replace(plan, at=plan.at + self.delay_s)


@dataclass(frozen=True)
class TcpReset(ConnectionCut):
    name, f = "tcp-reset", "F1"
    summary = "`after_s` into each of the first `connections` WebSocket connections the server resets the TCP connection (RST; client sees 1006)"
    gateway = "reconnects with capped, jittered backoff and resubscribes the whole desired set"
    after_s: float = param(5.0, seconds())
    connections: int = param(1, count(0))

    def cut(self) -> list[Action]:
        return [Drop(self.name, reset=True)]


@dataclass
class Timed:
    """Which sessions the timeout has silenced (and so may now close)."""

    silenced: set[int] = field(default_factory=set)
    closed: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Timeout(Fault[Timed]):
    name, f = "timeout", "F1"
    summary = (
        "no answer: `after_s` into each connection nothing more is sent, and `close_after_s` later (0: never) "
        "the socket is dropped; REST answers are held `close_after_s` (0: until the fault is removed)"
    )
    gateway = "its idle and ack deadlines abort and reconnect; its REST client gives up after 10 s (503)"
    after_s: float = param(0.0, seconds())
    close_after_s: float = param(0.0, seconds())
    on: str = param("both", one_of(*CHANNELS))

    def state(self) -> Timed:
        return Timed()

    def deadline(self, state: Timed, session: Session) -> float | None:
        if not _applies(self.on, "ws") or session.opened_at is None or session.number in state.closed:
            return None
        silent_at = session.opened_at + self.after_s
        if session.number not in state.silenced:
            return silent_at
        return silent_at + self.close_after_s if self.close_after_s else None

    def due(self, state: Timed, session: Session, now: float) -> list[Action]:
        if session.number not in state.silenced:
            state.silenced.add(session.number)
            return [Silence()]
        state.closed.add(session.number)
        return [Drop(self.name)]

    def wire(self, state: Timed, channel: str, stream: object, size: int, now: float, plan: Wire) -> Wire:
        if channel != "rest" or not _applies(self.on, "rest"):
            return plan
        until = now + self.close_after_s if self.close_after_s else float("inf")
        return replace(plan, hold_until=min(plan.hold_until or until, until))


@dataclass(frozen=True)
class Slicer(Fault[None]):
    name, f = "slicer", "N"
    summary = (
        "each outgoing message on `on` is cut into pieces of `size` characters (WebSocket fragments; REST "
        "body chunks), `delay_s` apart"
    )
    gateway = "its WebSocket library reassembles fragments; a message counts once it is whole"
    size: int = param(16, count(1, 2**20))
    delay_s: float = param(0.0, seconds())
    on: str = param("ws", one_of(*CHANNELS))

    def wire(self, state: None, channel: str, stream: object, size: int, now: float, plan: Wire) -> Wire:
        if not _applies(self.on, channel):
            return plan
        return replace(plan, slice_size=self.size, slice_gap=self.delay_s)
