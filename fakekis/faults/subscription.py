"""Session and subscription faults: what KIS answers to a subscribe request when something is wrong with
the approval key (F8), the appkey's one session (F2), the registration cap (F4), an ack that never comes
or refuses (F1), registrations the server remembers across a reconnect (F11), and an encrypted notice
that arrives before its key (F12)."""

from __future__ import annotations

from dataclasses import dataclass

from fakekis.exchange.actions import Action, Drop, Raw, Reply, Session, ack, session_error
from fakekis.faults.base import Counter, Fault, is_subscribe
from fakekis.faults.params import count, param, seconds, text
from fakekis.wire.frames import Request


@dataclass(frozen=True)
class ApprovalRejected(Fault[Counter]):
    name, f = "approval-rejected", "F8"
    summary = "the first `times` requests get OPSP0011 invalid approval, then the socket is dropped"
    gateway = "fetches one fresh approval key and reconnects; if refused again it backs off"
    times: int = param(1, count(0))

    def state(self) -> Counter:
        return Counter()

    def before(self, state: Counter, session: Session, req: Request, now: float) -> list[Action] | None:
        if state.n >= self.times:
            return None
        state.n += 1
        msg = f"invalid approval : {req.approval_key or 'NOT FOUND'}"
        return [ack(req.tr_id, req.tr_key, "1", "OPSP0011", msg), Drop(self.name)]


@dataclass
class _Since:
    at: float | None = None


@dataclass(frozen=True)
class SessionInUse(Fault[_Since]):
    name, f = "session-in-use", "F2"
    summary = (
        "a zombie session holds the appkey for `for_s` seconds: every request gets OPSP8996 "
        "ALREADY IN USE appkey, then the socket is dropped"
    )
    gateway = "backs off (hold-off floor) instead of storming; connects once the appkey is free"
    for_s: float = param(30.0, seconds())

    def state(self) -> _Since:
        return _Since()

    def before(self, state: _Since, session: Session, req: Request, now: float) -> list[Action] | None:
        if state.at is None:
            state.at = now
        if now - state.at >= self.for_s:
            return None
        return [session_error("OPSP8996", "ALREADY IN USE appkey"), Drop(self.name)]


@dataclass(frozen=True)
class NoAck(Fault[None]):
    name, f = "no-ack", "F1"
    summary = "subscribe requests on the first `connections` connections are swallowed: no ack, no data"
    gateway = "notices no ack within GATEWAY_ACK_TIMEOUT and reconnects (backoff grows: nothing was healthy)"
    connections: int = param(1, count(0))

    def before(self, state: None, session: Session, req: Request, now: float) -> list[Action] | None:
        return [] if session.number < self.connections and is_subscribe(req) else None


@dataclass(frozen=True)
class ErrorAck(Fault[None]):
    name, f = "error-ack", "F1"
    summary = "subscriptions of `tr_key` (all when empty) get OPSP0007 SUBSCRIBE INTERNAL ERROR"
    gateway = "counts the refusal in ws_refusals; that symbol is served from REST"
    tr_key: str = param("", text(16))

    def before(self, state: None, session: Session, req: Request, now: float) -> list[Action] | None:
        if is_subscribe(req) and (not self.tr_key or req.tr_key == self.tr_key):
            return [ack(req.tr_id, req.tr_key, "1", "OPSP0007", "SUBSCRIBE INTERNAL ERROR")]
        return None


@dataclass(frozen=True)
class MaxSubscribe(Fault[None]):
    name, f = "max-subscribe", "F4"
    summary = "registrations beyond `limit` per session get OPSP0008 MAX SUBSCRIBE OVER (KIS: 41)"
    gateway = "counts OPSP0008 in ws_refusals; the refused symbols are served from REST, the rest stream"
    limit: int = param(1, count(0, 10_000))

    def before(self, state: None, session: Session, req: Request, now: float) -> list[Action] | None:
        if (
            is_subscribe(req)
            and (req.tr_id, req.tr_key) not in session.registered
            and len(session.registered) >= self.limit
        ):
            return [ack(req.tr_id, req.tr_key, "1", "OPSP0008", "MAX SUBSCRIBE OVER")]
        return None


@dataclass(frozen=True)
class AlreadySubscribedAfterReconnect(Fault[None]):
    name, f = "already-subscribed", "F11"
    summary = "after a reconnect the server still knows the old registrations: acks say OPSP0002 ALREADY IN SUBSCRIBE"
    gateway = "counts OPSP0002 as subscribed; data flows"

    def after(self, state: None, session: Session, req: Request, actions: list[Action]) -> list[Action]:
        if session.number == 0 or not is_subscribe(req):
            return actions
        return [
            ack(req.tr_id, req.tr_key, "1", "OPSP0002", "ALREADY IN SUBSCRIBE")
            if isinstance(a, Reply) and a.msg_cd == "OPSP0000"
            else a
            for a in actions
        ]


@dataclass(frozen=True)
class EncryptedBeforeKey(Fault[None]):
    name, f = "encrypted-before-key", "F12"
    summary = "an encrypted H0STCNI0 frame arrives before any ack gave its key"
    gateway = "reports it as malformed (ws_malformed) and keeps the session"

    def after(self, state: None, session: Session, req: Request, actions: list[Action]) -> list[Action]:
        if session.registered and len(session.registered) == 1 and is_subscribe(req):
            # 16 bytes of ciphertext under a key the client was never given
            return [Raw(b"1|H0STCNI0|001|QUJDREVGR0hJSktMTU5PUA==", 1), *actions]
        return actions
