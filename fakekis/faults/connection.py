"""Connection faults: the socket goes away or goes quiet (F1), the heartbeat rules (F3), and the lockout
that punishes reconnect storms (F13)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from fakekis.exchange.actions import Action, Close, Drop, Session, Silence, parse_error
from fakekis.faults.base import Counter, Fault
from fakekis.faults.params import close_code, count, param, seconds


class ConnectionCut(Fault[Counter]):
    """The timing shared by `DropAfter` and `TcpReset` (network.py): `after_s` into each of the first
    `connections` connections, once each, the connection ends the way `cut` says. Not a dataclass, so each
    fault keeps its own parameters in its own order."""

    after_s: float
    connections: int

    def state(self) -> Counter:
        return Counter()

    def deadline(self, state: Counter, session: Session) -> float | None:
        if state.n >= self.connections or session.opened_at is None:
            return None
        return session.opened_at + self.after_s

    def due(self, state: Counter, session: Session, now: float) -> list[Action]:
        if state.n >= self.connections:
            return []
        state.n += 1
        return self.cut()

    def cut(self) -> list[Action]:
        raise NotImplementedError


@dataclass(frozen=True)
class DropAfter(ConnectionCut):
    name, f = "drop", "F1"
    summary = (
        "the server drops the socket without a close frame (client sees 1006) `after_s` into each connection"
    )
    gateway = "reconnects with capped, jittered backoff and resubscribes the whole desired set"
    after_s: float = param(5.0, seconds())
    code: int | None = param(None, close_code())  # a close code (1000/1001) for a clean close instead
    connections: int = param(1, count(0))  # how many connections it hits (then the server behaves)

    def cut(self) -> list[Action]:
        return [Close(self.code)] if self.code else [Drop(self.name)]


@dataclass(frozen=True)
class HalfOpen(Fault[Counter]):
    name, f = "half-open", "F1"
    summary = "`after_s` into the first connection the server goes silent (no data, no PINGPONG) but keeps the socket"
    gateway = (
        "judges liveness on any message; after GATEWAY_WS_IDLE_TIMEOUT of silence it aborts and reconnects"
    )
    after_s: float = param(5.0, seconds())

    def state(self) -> Counter:
        return Counter()

    def deadline(self, state: Counter, session: Session) -> float | None:
        return None if state.n or session.opened_at is None else session.opened_at + self.after_s

    def due(self, state: Counter, session: Session, now: float) -> list[Action]:
        if state.n:
            return []
        state.n = 1
        return [Silence()]


@dataclass
class _Lockout:
    times: deque[float] = field(default_factory=deque)
    until: float = 0.0


@dataclass(frozen=True)
class ReconnectLockout(Fault[_Lockout]):
    name, f = "reconnect-lockout", "F13"
    summary = (
        "more than `max_connects` handshakes within `window_s` lock the appkey/IP out for `lockout_s` "
        "(handshake refused with HTTP 403)"
    )
    gateway = "backoff with a floor keeps it under the limit; a refused handshake backs off further"
    max_connects: int = param(3, count(0))
    window_s: float = param(10.0, seconds(positive=True))
    lockout_s: float = param(60.0, seconds())

    def state(self) -> _Lockout:
        return _Lockout()

    def admit(self, state: _Lockout, now: float) -> bool:
        if now < state.until:
            return False
        state.times.append(now)
        while state.times and state.times[0] <= now - self.window_s:
            state.times.popleft()
        if len(state.times) > self.max_connects:
            state.until = now + self.lockout_s
            return False
        return True


@dataclass(frozen=True)
class PingpongTimeout(Fault[None]):
    name, f = "pingpong-timeout", "F3"
    summary = "a PINGPONG not answered (text echo or pong frame) within `timeout_s` ends the session (1006)"
    gateway = "echoes every PINGPONG as text, so the session stays up"
    timeout_s: float = param(5.0, seconds(positive=True))

    def deadline(self, state: None, session: Session) -> float | None:
        if session.last_ping is None or session.last_answer >= session.last_ping:
            return None
        return session.last_ping + self.timeout_s

    def due(self, state: None, session: Session, now: float) -> list[Action]:
        if session.last_ping is not None and session.last_answer < session.last_ping:
            return [Drop(self.name)]
        return []


@dataclass(frozen=True)
class ClientPingKills(Fault[None]):
    name, f = "client-ping-kills", "F3"
    summary = "a WebSocket-level ping from the client gets a JSON parse error and the socket is dropped"
    gateway = "sends no WebSocket pings (ping_interval=None); heartbeat is the KIS PINGPONG"

    def client_ping(self, state: None, session: Session) -> list[Action] | None:
        return [parse_error("OPSP8993", "JSON PARSING ERROR : invalid tr_key"), Drop(self.name)]
