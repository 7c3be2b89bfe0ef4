"""The exchange side of the KIS realtime WebSocket, sans-I/O (protocol.md §4.3, §4.7).

`Exchange` holds the rules of one environment: who owns which appkey (one session per appkey),
which (tr_id, tr_key) each connection has registered (41 per session), and where a data frame goes
(only to connections with an acked registration). The asyncio shell in `server.py` feeds it text
and carries out the `Send`/`Drop` actions it returns.
"""

from __future__ import annotations

import random
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fakekis.exchange.auth import Registry
from fakekis.wire import frames

MAX_REGISTRATIONS = 41


@dataclass(frozen=True, slots=True)
class Send:
    text: str


@dataclass(frozen=True, slots=True)
class SendRaw:
    """A text frame with exactly these bytes (they may not be valid UTF-8: a fault)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Drop:
    """Abort the TCP connection without a close frame (the client sees 1006)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Close:
    """A clean close with this code (1000 normal, 1001 going away)."""

    code: int | None


Action = Send | SendRaw | Drop | Close


@dataclass
class Stats:
    """What the exchange saw and did: the ground truth the gateway's metrics are checked against."""

    sessions_opened: int = 0
    sessions_closed: int = 0
    acks: Counter[str] = field(default_factory=Counter)  # msg_cd -> count sent
    frames_sent: int = 0
    records_sent: int = 0
    pingpongs_sent: int = 0
    ping_echoes: int = 0
    pong_frames: int = 0
    parse_errors: int = 0
    drops: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "sessions_opened": self.sessions_opened,
            "sessions_closed": self.sessions_closed,
            "acks": dict(self.acks),
            "frames_sent": self.frames_sent,
            "records_sent": self.records_sent,
            "pingpongs_sent": self.pingpongs_sent,
            "ping_echoes": self.ping_echoes,
            "pong_frames": self.pong_frames,
            "parse_errors": self.parse_errors,
            "drops": dict(self.drops),
        }


class Session:
    """One client connection as the exchange sees it."""

    def __init__(self, exchange: Exchange, number: int) -> None:
        self.exchange = exchange
        self.number = number
        self.appkey: str | None = None
        self.registered: dict[tuple[str, str], None] = {}  # insertion-ordered set
        self.keys: dict[str, tuple[str, str]] = {}  # tr_id -> (iv, key), per session
        self.frames_sent = 0
        self.pingpongs_sent = 0
        self.texts_sent = 0  # every text frame that went out: acks, data, PINGPONG
        self.texts_received = 0  # every text the client sent: requests, PINGPONG echoes
        self.open = True
        self.opened_at: float | None = None
        self.last_ping: float | None = None  # when the last PINGPONG went out
        self.last_answer = float("-inf")  # when the client last answered one (echo or pong frame)
        self.silenced = False  # half-open: nothing more is sent, the socket stays

    def receive(self, text: str, now: float = 0.0) -> list[Action]:
        self.texts_received += 1
        return self.exchange._receive(self, text, now)

    def pong_frame(self, now: float = 0.0) -> None:
        self.exchange.stats.pong_frames += 1
        self.last_answer = now

    @property
    def subscriptions(self) -> list[tuple[str, str]]:
        return list(self.registered)


class Exchange:
    def __init__(
        self,
        registry: Registry,
        *,
        max_registrations: int = MAX_REGISTRATIONS,
        drop_on_invalid_approval: bool = True,
        seed: int = 0,
        scenario: Any = None,
    ) -> None:
        self.registry = registry
        self.scenario = scenario  # fakekis.faults.Scenario; consulted before/after each request
        self.max_registrations = max_registrations
        self.drop_on_invalid_approval = drop_on_invalid_approval
        self.rng = random.Random(seed)
        self.stats = Stats()
        self.sessions: list[Session] = []
        self.owners: dict[str, Session] = {}
        self.routes: dict[tuple[str, str], list[Session]] = {}
        self._numbers = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self, now: float = 0.0) -> Session:
        session = Session(self, self._numbers)
        session.opened_at = now
        self._numbers += 1
        self.sessions.append(session)
        self.stats.sessions_opened += 1
        return session

    def closed(self, session: Session) -> None:
        if not session.open:
            return
        session.open = False
        self.stats.sessions_closed += 1
        self.sessions.remove(session)
        if session.appkey is not None and self.owners.get(session.appkey) is session:
            del self.owners[session.appkey]
        for sub in session.registered:
            self._unroute(sub, session)
        session.registered.clear()

    # -- requests ----------------------------------------------------------------------------
    def _receive(self, session: Session, text: str, now: float) -> list[Action]:
        req = frames.parse_request(text)
        if isinstance(req, frames.PingEcho):
            self.stats.ping_echoes += 1
            session.last_answer = now
            return []
        if isinstance(req, frames.Reject):
            self.stats.parse_errors += 1
            return [Send(req.reply)]
        if self.scenario:
            forced = self.scenario.before(session, req, now)
            actions = (
                forced
                if forced is not None
                else self.scenario.after(session, req, self._request(session, req))
            )
        else:
            actions = self._request(session, req)
        for a in actions:  # count what is actually replied, whoever wrote it
            if isinstance(a, Send) and a.text.startswith("{"):
                self.stats.acks[a.text.partition('"msg_cd":"')[2][:8]] += 1
        return actions

    def _request(self, session: Session, req: frames.Request) -> list[Action]:
        appkey = self.registry.appkey_for_approval(req.approval_key)
        if appkey is None:
            return self._reply_and_maybe_drop(req, "OPSP0011", "invalid approval : NOT FOUND")
        owner = self.owners.get(appkey)
        if owner is not None and owner is not session:
            return [Send(frames.session_error("OPSP8996", "ALREADY IN USE appkey")), Drop("OPSP8996")]
        if session.appkey is None:
            session.appkey = appkey
            self.owners[appkey] = session
        sub = (req.tr_id, req.tr_key)
        if req.tr_type == "1":
            return [Send(self._register(session, sub))]
        return [Send(self._unregister(session, sub))]

    def _reply_and_maybe_drop(self, req: frames.Request, code: str, msg: str) -> list[Action]:
        actions: list[Action] = [Send(frames.control(req.tr_id, req.tr_key, "1", code, msg))]
        if self.drop_on_invalid_approval:
            actions.append(Drop(code))
        return actions

    def _register(self, session: Session, sub: tuple[str, str]) -> str:
        tr_id, tr_key = sub
        if sub in session.registered:
            return frames.control(tr_id, tr_key, "1", "OPSP0002", "ALREADY IN SUBSCRIBE")
        if len(session.registered) >= self.max_registrations:
            return frames.control(tr_id, tr_key, "1", "OPSP0008", "MAX SUBSCRIBE OVER")
        iv, key = session.keys.get(tr_id) or self._new_key()
        session.keys[tr_id] = (iv, key)
        session.registered[sub] = None
        self.routes.setdefault(sub, []).append(session)
        return frames.control(tr_id, tr_key, "0", "OPSP0000", "SUBSCRIBE SUCCESS", {"iv": iv, "key": key})

    def _unregister(self, session: Session, sub: tuple[str, str]) -> str:
        tr_id, tr_key = sub
        if sub not in session.registered:
            return frames.control(tr_id, tr_key, "1", "OPSP0003", "UNSUBSCRIBE ERROR(not found!)")
        del session.registered[sub]
        self._unroute(sub, session)
        return frames.control(tr_id, tr_key, "0", "OPSP0001", "UNSUBSCRIBE SUCCESS")

    def _unroute(self, sub: tuple[str, str], session: Session) -> None:
        targets = self.routes.get(sub)
        if targets and session in targets:
            targets.remove(session)
            if not targets:
                del self.routes[sub]

    def _new_key(self) -> tuple[str, str]:
        # Real acks: iv = 16 lowercase hex chars, key = 32 lowercase letters (real-frames.md §6).
        iv = "".join(self.rng.choice("0123456789abcdef") for _ in range(16))
        key = "".join(self.rng.choice(string.ascii_lowercase) for _ in range(32))
        return iv, key

    # -- market data -------------------------------------------------------------------------
    def route(self, tr_id: str, tr_key: str) -> list[Session]:
        """Sessions with an acked registration for (tr_id, tr_key)."""
        targets = self.routes.get((tr_id, tr_key))
        return list(targets) if targets else []

    def sent(self, session: Session, records: int) -> None:
        """A data frame of `records` records actually went out to `session`."""
        session.frames_sent += 1
        self.stats.frames_sent += 1
        self.stats.records_sent += records

    def heartbeat_sent(self, session: Session, now: float = 0.0) -> None:
        self.stats.pingpongs_sent += 1
        session.pingpongs_sent += 1
        session.last_ping = now
