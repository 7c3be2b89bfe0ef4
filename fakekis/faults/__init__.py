"""KIS-level faults as data (docs/faults.md): named, listable, composable.

A `Scenario` is an ordered list of `Fault`s. The exchange and the servers consult it at a few named
plug points, as vcrpy's pipeline consults matchers; a fault overrides only the points it needs:

  before(session, req, now)        -> replies that replace the exchange's handling, or None
  after(session, req, actions)     -> the exchange's replies, possibly rewritten
  data(session, text, tr_id, now)  -> what a data frame becomes for this session (none, changed, more)
  deadline(session) / due(...)     -> per-connection timers: drops, half-open silence, PINGPONG timeout
  admit(now)                       -> may a new WebSocket handshake proceed (reconnect-storm lockout)
  client_ping(session)             -> what a WebSocket-level ping from the client provokes
  reroute(tr_id)                   -> which TRs carry a replayed frame (KRX silent while NXT trades)
  rest(kind, now)                  -> an error answer for tokenP / Approval / inquire-price, or None

Faults are deterministic: they count and read the injected clock, never draw random numbers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import yaml

from fakekis.exchange.auth import gateway_error
from fakekis.exchange.sessions import Action, Close, Drop, Send, SendRaw, Session
from fakekis.wire import frames, layouts


class ScenarioError(ValueError):
    pass


@dataclass
class Fault:
    name: ClassVar[str] = ""
    f: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    gateway: ClassVar[str] = ""  # what a good client (our gateway) does about it

    def before(self, session: Session, req: frames.Request, now: float) -> list[Action] | None:
        return None

    def after(self, session: Session, req: frames.Request, actions: list[Action]) -> list[Action]:
        return actions

    def data(self, session: Session, text: str, tr_id: str, now: float) -> list[Action]:
        return [Send(text)]

    def deadline(self, session: Session) -> float | None:
        return None

    def due(self, session: Session, now: float) -> list[Action]:
        return []

    def admit(self, now: float) -> bool:
        return True

    def client_ping(self, session: Session) -> list[Action] | None:
        return None

    def reroute(self, tr_id: str) -> list[str] | None:
        return None

    def rest(self, kind: str, now: float) -> tuple[int, dict[str, object]] | None:
        return None

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


def _is_subscribe(req: frames.Request) -> bool:
    return req.tr_type == "1"


def _split(text: str) -> tuple[str, str, list[list[str]]] | None:
    """A plain data frame -> (flag, tr_id, records); None for anything else (faults compose, so a frame
    an earlier fault already broke is passed on untouched)."""
    parts = text.split("|", 3)
    if len(parts) != 4 or parts[0] != "0" or not parts[2].isdigit() or int(parts[2]) == 0:
        return None
    n = int(parts[2])
    vals = parts[3].split("^")
    if len(vals) % n:
        return None
    w = len(vals) // n
    return parts[0], parts[1], [vals[i * w : (i + 1) * w] for i in range(n)]


# -- connection (F1) -------------------------------------------------------------------------


@dataclass
class DropAfter(Fault):
    name, f = "drop", "F1"
    summary = (
        "the server drops the socket without a close frame (client sees 1006) `after_s` into each connection"
    )
    gateway = "reconnects with capped, jittered backoff and resubscribes the whole desired set"
    after_s: float = 5.0
    code: int | None = None  # a close code (1000/1001) for a clean close instead of an abort
    connections: int = 1  # how many connections it hits (then the server behaves)
    _hit: int = 0

    def deadline(self, session: Session) -> float | None:
        if self._hit >= self.connections or session.opened_at is None:
            return None
        return session.opened_at + self.after_s

    def due(self, session: Session, now: float) -> list[Action]:
        if self._hit >= self.connections:
            return []
        self._hit += 1
        return [Close(self.code)] if self.code else [Drop(self.name)]


@dataclass
class HalfOpen(Fault):
    name, f = "half-open", "F1"
    summary = "`after_s` into the first connection the server goes silent (no data, no PINGPONG) but keeps the socket"
    gateway = (
        "judges liveness on any message; after GATEWAY_WS_IDLE_TIMEOUT of silence it aborts and reconnects"
    )
    after_s: float = 5.0
    _hit: bool = False

    def deadline(self, session: Session) -> float | None:
        return None if self._hit or session.opened_at is None else session.opened_at + self.after_s

    def due(self, session: Session, now: float) -> list[Action]:
        if not self._hit:
            self._hit = True
            session.silenced = True
        return []


@dataclass
class ReconnectLockout(Fault):
    name, f = "reconnect-lockout", "F13"
    summary = (
        "more than `max_connects` handshakes within `window_s` lock the appkey/IP out for `lockout_s` "
        "(handshake refused with HTTP 403)"
    )
    gateway = "backoff with a floor keeps it under the limit; a refused handshake backs off further"
    max_connects: int = 3
    window_s: float = 10.0
    lockout_s: float = 60.0
    _times: deque[float] = field(default_factory=deque)
    _until: float = 0.0

    def admit(self, now: float) -> bool:
        if now < self._until:
            return False
        self._times.append(now)
        while self._times and self._times[0] <= now - self.window_s:
            self._times.popleft()
        if len(self._times) > self.max_connects:
            self._until = now + self.lockout_s
            return False
        return True


# -- heartbeat (F3) --------------------------------------------------------------------------


@dataclass
class PingpongTimeout(Fault):
    name, f = "pingpong-timeout", "F3"
    summary = "a PINGPONG not answered (text echo or pong frame) within `timeout_s` ends the session (1006)"
    gateway = "echoes every PINGPONG as text, so the session stays up"
    timeout_s: float = 5.0

    def deadline(self, session: Session) -> float | None:
        if session.last_ping is None or session.last_answer >= session.last_ping:
            return None
        return session.last_ping + self.timeout_s

    def due(self, session: Session, now: float) -> list[Action]:
        if session.last_ping is not None and session.last_answer < session.last_ping:
            return [Drop(self.name)]
        return []


@dataclass
class ClientPingKills(Fault):
    name, f = "client-ping-kills", "F3"
    summary = "a WebSocket-level ping from the client gets a JSON parse error and the socket is dropped"
    gateway = "sends no WebSocket pings (ping_interval=None); heartbeat is the KIS PINGPONG"

    def client_ping(self, session: Session) -> list[Action] | None:
        return [Send(frames.parse_error("OPSP8993", "JSON PARSING ERROR : invalid tr_key")), Drop(self.name)]


# -- session and subscription (F2, F4, F8, F11) ---------------------------------------------


@dataclass
class ApprovalRejected(Fault):
    name, f = "approval-rejected", "F8"
    summary = "the first `times` requests get OPSP0011 invalid approval, then the socket is dropped"
    gateway = "fetches one fresh approval key and reconnects; if refused again it backs off"
    times: int = 1
    _left: int | None = None

    def before(self, session: Session, req: frames.Request, now: float) -> list[Action] | None:
        left = self.times if self._left is None else self._left
        if left <= 0:
            return None
        self._left = left - 1
        return [
            Send(
                frames.control(
                    req.tr_id,
                    req.tr_key,
                    "1",
                    "OPSP0011",
                    f"invalid approval : {req.approval_key or 'NOT FOUND'}",
                )
            ),
            Drop(self.name),
        ]


@dataclass
class SessionInUse(Fault):
    name, f = "session-in-use", "F2"
    summary = (
        "a zombie session holds the appkey for `for_s` seconds: every request gets OPSP8996 "
        "ALREADY IN USE appkey, then the socket is dropped"
    )
    gateway = "backs off (hold-off floor) instead of storming; connects once the appkey is free"
    for_s: float = 30.0
    _since: float | None = None

    def before(self, session: Session, req: frames.Request, now: float) -> list[Action] | None:
        if self._since is None:
            self._since = now
        if now - self._since >= self.for_s:
            return None
        return [Send(frames.session_error("OPSP8996", "ALREADY IN USE appkey")), Drop(self.name)]


@dataclass
class NoAck(Fault):
    name, f = "no-ack", "F1"
    summary = "subscribe requests on the first `connections` connections are swallowed: no ack, no data"
    gateway = "notices no ack within GATEWAY_ACK_TIMEOUT and reconnects (backoff grows: nothing was healthy)"
    connections: int = 1

    def before(self, session: Session, req: frames.Request, now: float) -> list[Action] | None:
        return [] if session.number < self.connections and _is_subscribe(req) else None


@dataclass
class ErrorAck(Fault):
    name, f = "error-ack", "F1"
    summary = "subscriptions of `tr_key` (all when empty) get OPSP0007 SUBSCRIBE INTERNAL ERROR"
    gateway = "counts the refusal in ws_refusals; that symbol is served from REST"
    tr_key: str = ""

    def before(self, session: Session, req: frames.Request, now: float) -> list[Action] | None:
        if _is_subscribe(req) and (not self.tr_key or req.tr_key == self.tr_key):
            return [Send(frames.control(req.tr_id, req.tr_key, "1", "OPSP0007", "SUBSCRIBE INTERNAL ERROR"))]
        return None


@dataclass
class MaxSubscribe(Fault):
    name, f = "max-subscribe", "F4"
    summary = "registrations beyond `limit` per session get OPSP0008 MAX SUBSCRIBE OVER (KIS: 41)"
    gateway = "counts OPSP0008 in ws_refusals; the refused symbols are served from REST, the rest stream"
    limit: int = 1

    def before(self, session: Session, req: frames.Request, now: float) -> list[Action] | None:
        if (
            _is_subscribe(req)
            and (req.tr_id, req.tr_key) not in session.registered
            and len(session.registered) >= self.limit
        ):
            return [Send(frames.control(req.tr_id, req.tr_key, "1", "OPSP0008", "MAX SUBSCRIBE OVER"))]
        return None


@dataclass
class AlreadySubscribedAfterReconnect(Fault):
    name, f = "already-subscribed", "F11"
    summary = "after a reconnect the server still knows the old registrations: acks say OPSP0002 ALREADY IN SUBSCRIBE"
    gateway = "counts OPSP0002 as subscribed; data flows"

    def after(self, session: Session, req: frames.Request, actions: list[Action]) -> list[Action]:
        if session.number == 0 or not _is_subscribe(req):
            return actions
        return [
            Send(frames.control(req.tr_id, req.tr_key, "1", "OPSP0002", "ALREADY IN SUBSCRIBE"))
            if isinstance(a, Send) and '"OPSP0000"' in a.text
            else a
            for a in actions
        ]


@dataclass
class EncryptedBeforeKey(Fault):
    name, f = "encrypted-before-key", "F12"
    summary = "an encrypted H0STCNI0 frame arrives before any ack gave its key"
    gateway = "reports it as malformed (ws_malformed) and keeps the session"

    def after(self, session: Session, req: frames.Request, actions: list[Action]) -> list[Action]:
        if session.registered and len(session.registered) == 1 and _is_subscribe(req):
            return [Send("1|H0STCNI0|001|" + "QUJDREVGR0hJSktMTU5PUA==")] + actions
        return actions


# -- market (F5) ------------------------------------------------------------------------------


@dataclass
class MarketClosed(Fault):
    name, f = "market-closed", "F5"
    summary = "the exchange acks subscriptions and sends PINGPONG, but no data frames (weekend, KRX holiday)"
    gateway = "stays connected (PINGPONG is liveness), serves REST with fallback_reason; quiet is not broken"

    def data(self, session: Session, text: str, tr_id: str, now: float) -> list[Action]:
        return []


@dataclass
class KrxSilentNxtTrades(Fault):
    name, f = "krx-silent-nxt", "F5"
    summary = "KRX H0STCNT0 is silent while trades arrive only on the NXT/unified TRs (H0NXCNT0, H0UNCNT0)"
    gateway = (
        "H0STCNT0 subscribers see acks and PINGPONG only and fall back to REST; the cause is the TR choice"
    )

    def reroute(self, tr_id: str) -> list[str] | None:
        return ["H0NXCNT0", "H0UNCNT0"] if tr_id == "H0STCNT0" else None


# -- frames (F9, F14) ------------------------------------------------------------------------


@dataclass
class FieldDrift(Fault):
    name, f = "field-drift", "F9"
    summary = "H0STCNT0 records grow trailing fields to a width no KIS era has (as on 2026-09-14, 46 -> 47)"
    gateway = "derives record width from fields/count; nothing is lost"
    value: str = "2"

    def data(self, session: Session, text: str, tr_id: str, now: float) -> list[Action]:
        parsed = _split(text) if tr_id == "H0STCNT0" else None
        if parsed is None:
            return [Send(text)]
        _, tr, recs = parsed
        grow = layouts.width_no_era_has(tr, len(recs[0]) + 1) - len(recs[0])  # never a known layout
        return [Send(frames.data_frame(tr, [r + [self.value] * grow for r in recs]))]


@dataclass
class Malformed(Fault):
    name, f = "malformed", "F9"
    summary = (
        "every `every`-th data frame is broken: `mode` truncate (cut short), count (header lies) or garbage"
    )
    gateway = "counts it in ws_malformed, keeps the well-formed records, never crashes"
    every: int = 3
    mode: str = "truncate"
    _n: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("truncate", "count", "garbage"):
            raise ScenarioError(f"malformed: mode {self.mode!r} is not truncate, count or garbage")

    def data(self, session: Session, text: str, tr_id: str, now: float) -> list[Action]:
        self._n += 1
        if self._n % self.every:
            return [Send(text)]
        if self.mode == "truncate":
            return [Send(text[: len(text) * 2 // 3])]
        if self.mode == "count":
            parts = text.split("|", 3)
            if len(parts) != 4 or not parts[2].isdigit():
                return [Send(text)]
            return [Send(f"{parts[0]}|{parts[1]}|{int(parts[2]) + 1:03d}|{parts[3]}")]
        return [Send("0|" + tr_id + "|abc|" + text.rsplit("|", 1)[-1][:20])]


@dataclass
class InvalidUtf8(Fault):
    name, f = "invalid-utf8", "F9"
    summary = (
        "the `nth` data frame is a text frame with invalid UTF-8 (reported live; strict clients close 1007)"
    )
    gateway = "its WebSocket library closes with 1007; the worker reconnects and resubscribes"
    nth: int = 3
    _n: int = 0

    def data(self, session: Session, text: str, tr_id: str, now: float) -> list[Action]:
        self._n += 1
        if self._n != self.nth:
            return [Send(text)]
        return [SendRaw(text.encode()[:40] + b"\xb0\xa1\xff" + text.encode()[40:])]


@dataclass
class BurstBatching(Fault):
    name, f = "burst", "F14"
    summary = "trades are held and sent `size` records to a frame (KIS batches at busy moments)"
    gateway = "splits by fields/count; every record reaches the cache in order"
    size: int = 4
    _held: dict[tuple[int, str, str], list[list[str]]] = field(default_factory=dict)

    def data(self, session: Session, text: str, tr_id: str, now: float) -> list[Action]:
        parsed = _split(text)
        if parsed is None:
            return [Send(text)]
        _, tr, recs = parsed
        held = self._held.setdefault((session.number, tr, recs[0][0]), [])
        held.extend(recs)
        out: list[Action] = []
        while len(held) >= self.size:
            out.append(Send(frames.data_frame(tr, held[: self.size])))
            del held[: self.size]
        return out


# -- REST (F6, F7) ---------------------------------------------------------------------------


@dataclass
class TokenThrottle(Fault):
    name, f = "token-throttle", "F7"
    summary = "tokenP answers 403 EGW00133 (one issuance per minute) to the first `times` calls"
    gateway = "never issues more than one token a minute itself; REST answers 503 with the reason meanwhile"
    times: int = 1

    def rest(self, kind: str, now: float) -> tuple[int, dict[str, object]] | None:
        if kind != "token" or self.times <= 0:
            return None
        self.times -= 1
        return 403, {
            "error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)",
            "error_code": "EGW00133",
        }


@dataclass
class RestTps(Fault):
    name, f = "rest-tps", "F7"
    summary = "the first `times` inquire-price calls get HTTP 500 EGW00201 (per-second limit exceeded)"
    gateway = "retries once inside its own budget; answers 503 with the reason if that fails too"
    times: int = 1

    def rest(self, kind: str, now: float) -> tuple[int, dict[str, object]] | None:
        if kind != "price" or self.times <= 0:
            return None
        self.times -= 1
        return 500, gateway_error("EGW00201", "초당 거래건수를 초과하였습니다.")


@dataclass
class TokenExpired(Fault):
    name, f = "token-expired", "F7"
    summary = "the first `times` inquire-price calls get HTTP 500 EGW00123 (token expired)"
    gateway = "drops the token and re-issues it, never more than once a minute, then retries"
    times: int = 1

    def rest(self, kind: str, now: float) -> tuple[int, dict[str, object]] | None:
        if kind != "price" or self.times <= 0:
            return None
        self.times -= 1
        return 500, gateway_error("EGW00123", "기간이 만료된 token 입니다.")


@dataclass
class EnvMismatch(Fault):
    name, f = "env-mismatch", "F6"
    summary = "inquire-price answers HTTP 500 EGW02004: a mock appkey on the live domain"
    gateway = "answers 503 naming EGW02004 (check KIS_ENV and the keys); never retries in a loop"

    def rest(self, kind: str, now: float) -> tuple[int, dict[str, object]] | None:
        if kind != "price":
            return None
        return 500, gateway_error("EGW02004", "실전투자 도메인은 모의투자 앱키로 호출하실 수 없습니다.")


FAULTS: dict[str, type[Fault]] = {
    cls.name: cls
    for cls in (
        DropAfter,
        HalfOpen,
        ReconnectLockout,
        PingpongTimeout,
        ClientPingKills,
        ApprovalRejected,
        SessionInUse,
        NoAck,
        ErrorAck,
        MaxSubscribe,
        AlreadySubscribedAfterReconnect,
        EncryptedBeforeKey,
        MarketClosed,
        KrxSilentNxtTrades,
        FieldDrift,
        Malformed,
        InvalidUtf8,
        BurstBatching,
        TokenThrottle,
        RestTps,
        TokenExpired,
        EnvMismatch,
    )
}


class Scenario:
    """An ordered composition of faults; each plug point runs them in order."""

    def __init__(self, faults: list[Fault] | None = None, name: str = "healthy") -> None:
        self.faults, self.name = list(faults or []), name

    def __bool__(self) -> bool:
        return bool(self.faults)

    def _first(self, hook: str, *args: Any) -> Any:
        """Plug points where the first fault with an answer wins."""
        for f in self.faults:
            out = getattr(f, hook)(*args)
            if out is not None:
                return out
        return None

    def before(self, session: Session, req: frames.Request, now: float) -> list[Action] | None:
        return self._first("before", session, req, now)

    def after(self, session: Session, req: frames.Request, actions: list[Action]) -> list[Action]:
        for f in self.faults:
            actions = f.after(session, req, actions)
        return actions

    def data(self, session: Session, text: str, tr_id: str, now: float) -> list[Action]:
        out: list[Action] = [Send(text)]
        for f in self.faults:
            nxt: list[Action] = []
            for a in out:
                nxt.extend(f.data(session, a.text, tr_id, now) if isinstance(a, Send) else [a])
            out = nxt
        return out

    def deadline(self, session: Session) -> float | None:
        times = [t for f in self.faults if (t := f.deadline(session)) is not None]
        return min(times) if times else None

    def due(self, session: Session, now: float) -> list[Action]:
        out: list[Action] = []
        for f in self.faults:
            d = f.deadline(session)
            if d is not None and d <= now:
                out.extend(f.due(session, now))
        return out

    def admit(self, now: float) -> bool:
        return all(f.admit(now) for f in self.faults)

    def client_ping(self, session: Session) -> list[Action] | None:
        return self._first("client_ping", session)

    def reroute(self, tr_id: str) -> list[str]:
        return self._first("reroute", tr_id) or [tr_id]

    def rest(self, kind: str, now: float) -> tuple[int, dict[str, object]] | None:
        return self._first("rest", kind, now)

    def describe(self) -> list[dict[str, Any]]:
        return [{"fault": f.name, "f": f.f, **f.params()} for f in self.faults]


def build(
    spec: list[dict[str, Any]] | dict[str, Any], name: str = "custom", where: str = "scenario"
) -> Scenario:
    """`[{"fault": "drop", "after_s": 5}, ...]` (or `{"faults": [...]}`) -> Scenario; errors name the place."""
    items = spec.get("faults") if isinstance(spec, dict) else spec
    if not isinstance(items, list):
        raise ScenarioError(f"{where}: expected a list of faults")
    out: list[Fault] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            item = {"fault": item}
        if not isinstance(item, dict) or "fault" not in item:
            raise ScenarioError(f"{where}: fault #{i + 1} needs a 'fault' name")
        kind = item["fault"]
        cls = FAULTS.get(kind)
        if cls is None:
            raise ScenarioError(f"{where}: fault #{i + 1}: unknown fault {kind!r} (see `fakekis faults`)")
        allowed = {f.name: f for f in fields(cls) if not f.name.startswith("_")}
        args = {k: v for k, v in item.items() if k != "fault"}
        for k in args:
            if k not in allowed:
                raise ScenarioError(
                    f"{where}: fault {kind!r}: unknown parameter {k!r} "
                    f"(allowed: {', '.join(allowed) or 'none'})"
                )
        try:
            out.append(cls(**args))
        except (TypeError, ValueError) as e:
            raise ScenarioError(f"{where}: fault {kind!r}: {e}") from None
    return Scenario(out, name)


def load(text: str) -> Scenario:
    """A fault name (`drop`), a comma list (`drop,malformed`), or a YAML/JSON scenario file path."""
    path = Path(text)
    if path.suffix in (".yaml", ".yml", ".json") or path.is_file():
        if not path.is_file():
            raise ScenarioError(f"{text}: no such scenario file")
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise ScenarioError(f"{text}:{mark.line + 1 if mark else 1}: invalid YAML") from None
        return build(doc, doc.get("name", path.stem) if isinstance(doc, dict) else path.stem, str(path))
    return build([n.strip() for n in text.split(",") if n.strip()], text, "--scenario")


def catalogue() -> list[dict[str, Any]]:
    return [
        {
            "fault": cls.name,
            "f": cls.f,
            "summary": cls.summary,
            "gateway": cls.gateway,
            "params": {
                f.name: f.default
                for f in fields(cls)
                if not f.name.startswith("_") and not callable(f.default)
            },
        }
        for cls in FAULTS.values()
    ]
