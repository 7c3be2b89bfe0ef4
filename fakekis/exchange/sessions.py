"""The exchange side of the KIS realtime WebSocket, sans-I/O (docs/kis/protocol.md §4.3, §4.7).

`Exchange` holds the rules of one environment: who owns which appkey (one session per appkey),
which (tr_id, tr_key) each connection has registered (41 per session), and where a data frame goes
(only to connections with an acked registration). It owns delivery: `deliver` fans a replayed frame out
to the sessions that registered it, through the running scenario's faults, and returns typed actions
(`actions.py`) that the asyncio shell (`serve/server.py`) encodes and carries out; the shell reports
back what actually went out (`sent`, `heartbeat_sent`, `dropped`).

Which subscriptions KIS takes at all, and the reply to those it refuses, is a table of its own
(`subscriptions.py`); the ledger the exchange feeds lives apart (`ledger.py`), and fill notices are built in
`notices.py`.

Why over 300 lines: ownership (one session per appkey, release delay, holds), registration, delivery and the
PINGPONG deadline are one state machine over the same tables (`owners`, `routes`, `tombstones`, a session's
registrations); the scale-out hooks (`appkey_by_id`, `hold`) only read or set those same tables.
"""

from __future__ import annotations

import random
import string
from collections import Counter
from dataclasses import dataclass, field

from fakekis.exchange.actions import (
    Action,
    Close,
    Data,
    Drop,
    FaultPlugs,
    Raw,
    Reply,
    Runnable,
    Silence,
    ack,
    parse_error,
    session_error,
)
from fakekis.exchange.auth import Registry
from fakekis.exchange.ledger import Ledger, appkey_id
from fakekis.exchange.subscriptions import ack_encrypt, refusal
from fakekis.wire import frames

__all__ = ["MAX_REGISTRATIONS", "Action", "Close", "Data", "Drop", "Exchange", "Raw", "Reply", "Session"]

MAX_REGISTRATIONS = 41
# KIS ends a session whose PINGPONG goes unanswered for about 100 s (protocol.md §4.4, failure-modes.md F3).
PINGPONG_DEADLINE = 100.0


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
    refusals: Counter[str] = field(default_factory=Counter)  # msg_cd -> subscriptions refused (trs.py)
    pingpong_deadline_drops: int = 0
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
            "refusals": dict(self.refusals),
            "pingpong_deadline_drops": self.pingpong_deadline_drops,
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
        self.unanswered_since: float | None = None  # the first PINGPONG not answered yet
        self.silenced = False  # half-open: nothing more is sent, the socket stays

    def receive(self, text: str, now: float = 0.0) -> list[Action]:
        return self.exchange.receive(self, text, now)

    def pong_frame(self, now: float = 0.0) -> None:
        self.exchange.stats.pong_frames += 1
        self.answered(now)

    def answered(self, now: float) -> None:
        self.last_answer = now
        self.unanswered_since = None

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
        scenario: Runnable | None = None,
        lenient: bool = False,
        hts_id: str | None = None,
        pingpong_deadline: float = PINGPONG_DEADLINE,
        ledger: Ledger | None = None,
        release_delay: float = 0.0,
    ) -> None:
        self.registry = registry
        # lenient: ack every well-formed subscription, as fakekis did before it knew its TRs (trs.py).
        self.lenient = lenient
        self.hts_id = hts_id  # the HTS ID fill notices must carry; None: any non-empty one
        self.pingpong_deadline = pingpong_deadline  # seconds; 0 = never
        # The running scenario's faults (a Scenario makes a fresh run; FakeKis passes one run shared by
        # its environments and REST apps). None when there are none: the hot path checks only that.
        run = scenario.run() if scenario is not None else None
        self.faults: FaultPlugs | None = run if run else None
        self.max_registrations = max_registrations
        self.drop_on_invalid_approval = drop_on_invalid_approval
        self.rng = random.Random(seed)
        self.stats = Stats()
        self.sessions: list[Session] = []
        self.owners: dict[str, Session] = {}
        self.routes: dict[tuple[str, str], list[Session]] = {}
        self._numbers = 0
        self.ledger = ledger  # the scale-out ground truth (ledger.py); None: not recorded
        # After its owner's socket goes, an appkey stays taken this long (a zombie at KIS): newcomers get
        # OPSP8996 + drop. `holds` sets it for one appkey's next close (admin `sessions/hold`).
        self.release_delay = release_delay
        self.holds: dict[str, float] = {}  # appkey -> seconds, for its owner's next close
        self.tombstones: dict[str, float] = {}  # appkey -> until

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self, now: float = 0.0) -> Session:
        session = Session(self, self._numbers)
        session.opened_at = now
        self._numbers += 1
        self.sessions.append(session)
        self.stats.sessions_opened += 1
        if self.ledger is not None:
            self.ledger.session_open(session.number, now)
        return session

    def closed(self, session: Session, now: float | None = None, cause: str = "closed") -> None:
        if not session.open:
            return
        session.open = False
        self.stats.sessions_closed += 1
        self.sessions.remove(session)
        if self.ledger is not None:
            self.ledger.session_close(session.number, session.appkey, cause, now or 0.0)
        if session.appkey is not None and self.owners.get(session.appkey) is session:
            del self.owners[session.appkey]
            delay = self.holds.pop(session.appkey, self.release_delay)
            if delay > 0 and now is not None:
                self.tombstones[session.appkey] = now + delay
        for sub in session.registered:
            self._unroute(sub, session)
        session.registered.clear()

    @property
    def acked_any(self) -> bool:
        """Some subscription was acked OPSP0000: the replay may start (start_on="subscribe")."""
        return bool(self.stats.acks["OPSP0000"])

    # -- requests ----------------------------------------------------------------------------
    def receive(self, session: Session, text: str, now: float = 0.0) -> list[Action]:
        """A client's text -> the actions that answer it. Never raises: a bad request is KIS's parse-error
        reply (rt_cd 9) and a count in `stats.parse_errors`."""
        session.texts_received += 1
        req = frames.parse_request(text)
        if isinstance(req, frames.PingEcho):
            self.stats.ping_echoes += 1
            session.answered(now)
            return []
        if isinstance(req, frames.Reject):
            self.stats.parse_errors += 1
            return [parse_error(req.msg_cd, req.msg1)]
        faults = self.faults
        if faults is not None:
            forced = faults.before(session, req, now)
            actions = (
                forced if forced is not None else faults.after(session, req, self._request(session, req, now))
            )
        else:
            actions = self._request(session, req, now)
        out = self._apply(session, actions, replies=True)
        if self.ledger is not None:
            for a in out:
                if isinstance(a, Reply):
                    self.ledger.ack(session.number, a.msg_cd, a.tr_id, a.tr_key, now)
        return out

    def _apply(self, session: Session, actions: list[Action], replies: bool = False) -> list[Action]:
        """Count the replies that go out, whoever wrote them, and apply what the exchange does itself."""
        out = actions
        for a in actions:
            if replies and isinstance(a, Reply):
                self.stats.acks[a.msg_cd] += 1
            elif isinstance(a, Silence):
                session.silenced = True
                out = [b for b in actions if not isinstance(b, Silence)]
        return out

    def _request(self, session: Session, req: frames.Request, now: float = 0.0) -> list[Action]:
        appkey = self.registry.appkey_for_approval(req.approval_key)
        if appkey is None:
            return self._reply_and_maybe_drop(req, "OPSP0011", "invalid approval : NOT FOUND")
        owner = self.owners.get(appkey)
        zombie = self.tombstones.get(appkey)
        if zombie is not None and now >= zombie:
            del self.tombstones[appkey]
            zombie = None
        if (owner is not None and owner is not session) or (zombie is not None and session.appkey is None):
            return [session_error("OPSP8996", "ALREADY IN USE appkey"), Drop("OPSP8996")]
        if session.appkey is None:
            session.appkey = appkey
            self.owners[appkey] = session
            if self.ledger is not None:
                self.ledger.session_owner(session.number, appkey, now)
        sub = (req.tr_id, req.tr_key)
        if req.tr_type == "1":
            refused = None if self.lenient else refusal(req.tr_id, req.tr_key, self.registry.env, self.hts_id)
            if refused is not None:
                reply, drop = refused
                self.stats.refusals[reply.msg_cd] += 1
                return [reply, Drop(reply.msg_cd)] if drop else [reply]
            return [self._register(session, sub)]
        return [self._unregister(session, sub)]

    def _reply_and_maybe_drop(self, req: frames.Request, code: str, msg: str) -> list[Action]:
        actions: list[Action] = [ack(req.tr_id, req.tr_key, "1", code, msg)]
        if self.drop_on_invalid_approval:
            actions.append(Drop(code))
        return actions

    def _register(self, session: Session, sub: tuple[str, str]) -> Reply:
        tr_id, tr_key = sub
        if sub in session.registered:
            return ack(tr_id, tr_key, "1", "OPSP0002", "ALREADY IN SUBSCRIBE")
        if len(session.registered) >= self.max_registrations:
            return ack(tr_id, tr_key, "1", "OPSP0008", "MAX SUBSCRIBE OVER")
        iv, key = session.keys.get(tr_id) or self._new_key()
        session.keys[tr_id] = (iv, key)
        session.registered[sub] = None
        self.routes.setdefault(sub, []).append(session)
        encrypt = ack_encrypt(tr_id, self.registry.env)
        return ack(tr_id, tr_key, "0", "OPSP0000", "SUBSCRIBE SUCCESS", {"iv": iv, "key": key}, encrypt)

    def _unregister(self, session: Session, sub: tuple[str, str]) -> Reply:
        tr_id, tr_key = sub
        if sub not in session.registered:
            return ack(tr_id, tr_key, "1", "OPSP0003", "UNSUBSCRIBE ERROR(not found!)")
        del session.registered[sub]
        self._unroute(sub, session)
        return ack(tr_id, tr_key, "0", "OPSP0001", "UNSUBSCRIBE SUCCESS")

    def _unroute(self, sub: tuple[str, str], session: Session) -> None:
        targets = self.routes.get(sub)
        if targets and session in targets:
            targets.remove(session)
            if not targets:
                del self.routes[sub]

    def _new_key(self) -> tuple[str, str]:
        # Real acks: iv = 16 lowercase hex chars, key = 32 lowercase letters (docs/kis/real-frames.md §6).
        iv = "".join(self.rng.choice("0123456789abcdef") for _ in range(16))
        key = "".join(self.rng.choice(string.ascii_lowercase) for _ in range(32))
        return iv, key

    # -- market data -------------------------------------------------------------------------
    def route(self, tr_id: str, tr_key: str) -> list[Session]:
        """Sessions with an acked registration for (tr_id, tr_key)."""
        targets = self.routes.get((tr_id, tr_key))
        return list(targets) if targets else []

    def deliver(self, data: Data, tr_key: str, now: float) -> list[tuple[Session, Action]]:
        """Where a replayed frame goes and what each session gets: the registered sessions, through the
        scenario's reroute and data faults. Nothing is sent or counted here; the shell sends each action
        and reports `sent` for what went out."""
        faults = self.faults
        if faults is None:  # the hot path: no faults, the recorded text as it is
            targets = self.routes.get((data.tr_id, tr_key))
            return [(s, data) for s in targets] if targets else []
        out: list[tuple[Session, Action]] = []
        for tr_id in faults.reroute(data.tr_id):
            frame = data.retagged(tr_id)
            for session in self.route(tr_id, tr_key):
                if not session.silenced:
                    out.extend((session, a) for a in self._apply(session, faults.data(session, frame, now)))
        return out

    def sent(self, session: Session, records: int, text: str | None = None, now: float = 0.0) -> None:
        """A data frame of `records` records actually went out to `session` (`text`: for the ledger)."""
        session.frames_sent += 1
        self.stats.frames_sent += 1
        self.stats.records_sent += records
        if self.ledger is not None and text is not None:
            self.ledger.data(session.number, session.appkey, text, now)

    # -- admin: one appkey at a time (scale-out tests) ---------------------------------------------
    def appkey_by_id(self, ident: str) -> str | None:
        """The appkey whose `appkey_id` is `ident`, among those this environment has seen."""
        known = set(self.registry.secrets) | set(self.owners) | set(self.tombstones)
        return next((k for k in known if appkey_id(self.registry.env, k) == ident), None)

    def sessions_of(self, appkey: str) -> list[Session]:
        return [s for s in self.sessions if s.appkey == appkey]

    def hold(self, appkey: str, seconds: float, now: float) -> None:
        """A zombie tied to the real owner: when its socket goes, the appkey stays taken `seconds` more.
        With no owner connected, the appkey is taken from now."""
        if appkey in self.owners:
            self.holds[appkey] = seconds
        else:
            self.tombstones[appkey] = now + seconds

    def heartbeat_sent(self, session: Session, now: float = 0.0) -> None:
        self.stats.pingpongs_sent += 1
        session.pingpongs_sent += 1
        session.last_ping = now
        if session.unanswered_since is None:
            session.unanswered_since = now

    # -- per-connection timers and control frames ----------------------------------------------
    def deadline(self, session: Session) -> float | None:
        """When the exchange next acts on this session by itself: the PINGPONG deadline, or a fault's
        (drop, half-open, PINGPONG timeout). None when nothing is pending."""
        own = self._pingpong_due(session)
        theirs = self.faults.deadline(session) if self.faults is not None else None
        if own is None or theirs is None:
            return own if theirs is None else theirs
        return min(own, theirs)

    def due(self, session: Session, now: float) -> list[Action]:
        own = self._pingpong_due(session)
        if own is not None and now >= own:
            # KIS ends a session that stopped answering PINGPONG: a drop, the client sees 1006 (F3).
            self.stats.pingpong_deadline_drops += 1
            return [Drop("pingpong-deadline")]
        return self._apply(session, self.faults.due(session, now)) if self.faults is not None else []

    def _pingpong_due(self, session: Session) -> float | None:
        """The first unanswered PINGPONG plus the deadline; None with no deadline, nothing unanswered, or
        a half-open session (the server itself went quiet: the fault decides what happens next)."""
        if not self.pingpong_deadline or session.unanswered_since is None or session.silenced:
            return None
        return session.unanswered_since + self.pingpong_deadline

    def client_ping(self, session: Session) -> list[Action]:
        """What a WebSocket-level ping from the client provokes (nothing, unless a fault says so)."""
        forced = self.faults.client_ping(session) if self.faults is not None else None
        return self._apply(session, forced) if forced else []

    def dropped(self, reason: str, n: int = 1) -> None:
        """The shell dropped `n` connections for `reason` (a fault's name, a KIS code, or "manual")."""
        self.stats.drops[reason] += n
