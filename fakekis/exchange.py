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

from fakekis import frames
from fakekis.auth import Registry

MAX_REGISTRATIONS = 41


@dataclass(frozen=True, slots=True)
class Send:
    text: str


@dataclass(frozen=True, slots=True)
class Drop:
    """Abort the TCP connection without a close frame (the client sees 1006)."""

    reason: str


Action = Send | Drop


@dataclass
class Stats:
    """What the exchange saw and did: the ground truth the gateway's metrics are checked against."""

    sessions_opened: int = 0
    sessions_closed: int = 0
    acks: Counter[str] = field(default_factory=Counter)   # msg_cd -> count sent
    frames_sent: int = 0
    records_sent: int = 0
    pingpongs_sent: int = 0
    ping_echoes: int = 0
    pong_frames: int = 0
    parse_errors: int = 0
    drops: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "sessions_opened": self.sessions_opened, "sessions_closed": self.sessions_closed,
            "acks": dict(self.acks), "frames_sent": self.frames_sent, "records_sent": self.records_sent,
            "pingpongs_sent": self.pingpongs_sent, "ping_echoes": self.ping_echoes,
            "pong_frames": self.pong_frames, "parse_errors": self.parse_errors, "drops": dict(self.drops),
        }


class Session:
    """One client connection as the exchange sees it."""

    def __init__(self, exchange: Exchange, number: int) -> None:
        self.exchange = exchange
        self.number = number
        self.appkey: str | None = None
        self.registered: dict[tuple[str, str], None] = {}  # insertion-ordered set
        self.keys: dict[str, tuple[str, str]] = {}           # tr_id -> (iv, key), per session
        self.frames_sent = 0
        self.open = True

    def receive(self, text: str) -> list[Action]:
        return self.exchange._receive(self, text)

    def pong_frame(self) -> None:
        self.exchange.stats.pong_frames += 1

    @property
    def subscriptions(self) -> list[tuple[str, str]]:
        return list(self.registered)


class Exchange:
    def __init__(self, registry: Registry, *, max_registrations: int = MAX_REGISTRATIONS,
                 drop_on_invalid_approval: bool = True, seed: int = 0) -> None:
        self.registry = registry
        self.max_registrations = max_registrations
        self.drop_on_invalid_approval = drop_on_invalid_approval
        self.rng = random.Random(seed)
        self.stats = Stats()
        self.sessions: list[Session] = []
        self.owners: dict[str, Session] = {}
        self.routes: dict[tuple[str, str], list[Session]] = {}
        self._numbers = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> Session:
        session = Session(self, self._numbers)
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
    def _receive(self, session: Session, text: str) -> list[Action]:
        req = frames.parse_request(text)
        if isinstance(req, frames.PingEcho):
            self.stats.ping_echoes += 1
            return []
        if isinstance(req, frames.Reject):
            self.stats.parse_errors += 1
            return [Send(req.reply)]
        appkey = self.registry.appkey_for_approval(req.approval_key)
        if appkey is None:
            return self._reply_and_maybe_drop(req, "OPSP0011", "invalid approval : NOT FOUND")
        owner = self.owners.get(appkey)
        if owner is not None and owner is not session:
            self.stats.acks["OPSP8996"] += 1
            self.stats.drops["OPSP8996"] += 1
            return [Send(frames.session_error("OPSP8996", "ALREADY IN USE appkey")), Drop("OPSP8996")]
        if session.appkey is None:
            session.appkey = appkey
            self.owners[appkey] = session
        sub = (req.tr_id, req.tr_key)
        if req.tr_type == "1":
            return [Send(self._register(session, sub))]
        return [Send(self._unregister(session, sub))]

    def _reply_and_maybe_drop(self, req: frames.Request, code: str, msg: str) -> list[Action]:
        self.stats.acks[code] += 1
        actions: list[Action] = [Send(frames.control(req.tr_id, req.tr_key, "1", code, msg))]
        if self.drop_on_invalid_approval:
            self.stats.drops[code] += 1
            actions.append(Drop(code))
        return actions

    def _register(self, session: Session, sub: tuple[str, str]) -> str:
        tr_id, tr_key = sub
        if sub in session.registered:
            self.stats.acks["OPSP0002"] += 1
            return frames.control(tr_id, tr_key, "1", "OPSP0002", "ALREADY IN SUBSCRIBE")
        if len(session.registered) >= self.max_registrations:
            self.stats.acks["OPSP0008"] += 1
            return frames.control(tr_id, tr_key, "1", "OPSP0008", "MAX SUBSCRIBE OVER")
        iv, key = session.keys.get(tr_id) or self._new_key()
        session.keys[tr_id] = (iv, key)
        session.registered[sub] = None
        self.routes.setdefault(sub, []).append(session)
        self.stats.acks["OPSP0000"] += 1
        return frames.control(tr_id, tr_key, "0", "OPSP0000", "SUBSCRIBE SUCCESS", {"iv": iv, "key": key})

    def _unregister(self, session: Session, sub: tuple[str, str]) -> str:
        tr_id, tr_key = sub
        if sub not in session.registered:
            self.stats.acks["OPSP0003"] += 1
            return frames.control(tr_id, tr_key, "1", "OPSP0003", "UNSUBSCRIBE ERROR(not found!)")
        del session.registered[sub]
        self._unroute(sub, session)
        self.stats.acks["OPSP0001"] += 1
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
    def route(self, tr_id: str, tr_key: str, records: int) -> list[Session]:
        """Sessions that get a data frame for (tr_id, tr_key); counts them as sent."""
        targets = self.routes.get((tr_id, tr_key))
        if not targets:
            return []
        for s in targets:
            s.frames_sent += 1
        self.stats.frames_sent += len(targets)
        self.stats.records_sent += records * len(targets)
        return list(targets)

    def heartbeat_sent(self) -> None:
        self.stats.pingpongs_sent += 1
