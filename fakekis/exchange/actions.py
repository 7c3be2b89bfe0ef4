"""What the exchange asks its shell to do, as typed values (h11-style events), and their one encoding.

The exchange and the faults decide in these terms: a `Reply` has a msg_cd, a `Data` frame has a TR and
records, a `Heartbeat` has a stamp. The WebSocket server turns each into text once, at the socket, with
`encode`. Only byte-level faults (invalid UTF-8, damaged frames) make `Raw` bytes.

`FaultPlugs` is what the exchange consults on a running scenario (`fakekis.faults.ScenarioRun` is one); it
lives here, below `faults/`, so the exchange can be typed without importing upwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fakekis.wire import frames


@dataclass(frozen=True, slots=True)
class Reply:
    """A JSON control message: a subscribe/unsubscribe ack, a session error (`tr_id` "(null)") or a parse
    error (`tr_id` ""; rt_cd 9)."""

    tr_id: str
    tr_key: str
    rt_cd: str
    msg_cd: str
    msg1: str
    output: tuple[tuple[str, str], ...] | None = None
    encrypt: str = "N"  # the header's flag: "Y" on a live fill-notice ack (exchange/sessions.py)


def ack(
    tr_id: str,
    tr_key: str,
    rt_cd: str,
    msg_cd: str,
    msg1: str,
    output: dict[str, str] | None = None,
    encrypt: str = "N",
) -> Reply:
    items = tuple(output.items()) if output is not None else None
    return Reply(tr_id, tr_key, rt_cd, msg_cd, msg1, items, encrypt)


def session_error(msg_cd: str, msg1: str) -> Reply:
    """Session-level errors the server cannot attribute: header tr_id is the literal "(null)"."""
    return Reply("(null)", "", "9", msg_cd, msg1)


def parse_error(msg_cd: str, msg1: str) -> Reply:
    """JSON PARSING ERROR replies carry empty header ids and rt_cd "9"; the connection is kept."""
    return Reply("", "", "9", msg_cd, msg1)


@dataclass(slots=True)  # not frozen: one is made per replayed frame, and a frozen __init__ costs ~3x
class Data:
    """A data frame of `count` records of `tr_id`. `text` is its wire form, made once: the recorded text
    on replay (passed through untouched: the hot path), or `Data.of(...)` when a fault builds records.
    Treat it as immutable (faults make new ones)."""

    tr_id: str
    count: int
    text: str

    @classmethod
    def of(cls, tr_id: str, records: list[list[str]]) -> Data:
        return cls(tr_id, len(records), frames.data_frame(tr_id, records))

    def records(self) -> list[list[str]] | None:
        """The records, or None when the frame is not a plain, evenly divisible `0|...` frame."""
        parsed = frames.parse_data_frame(self.text)
        return parsed.records() if parsed is not None else None

    def retagged(self, tr_id: str) -> Data:
        """The same records under another TR (KRX trades rerouted to NXT/unified TRs)."""
        if tr_id == self.tr_id:
            return self
        parts = frames.split_frame(self.text)
        text = f"{parts[0]}|{tr_id}|{parts[2]}|{parts[3]}" if parts else self.text
        return Data(tr_id, self.count, text)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """PINGPONG, stamped with the exchange's KST time (YYYYMMDDHHMMSS)."""

    stamp: str


@dataclass(frozen=True, slots=True)
class Raw:
    """A text frame with exactly these bytes (maybe not valid UTF-8, maybe not a valid frame): only
    byte-level faults make these. `count` is the record count its header declares, for the stats."""

    data: bytes
    count: int = 0


@dataclass(frozen=True, slots=True)
class Drop:
    """Abort the TCP connection without a close frame (the client sees 1006). `reset`: at once, with a TCP
    RST (SO_LINGER 0), instead of after what was already sent (the `tcp-reset` network fault)."""

    reason: str
    reset: bool = False


@dataclass(frozen=True, slots=True)
class Close:
    """A clean close with this code (1000 normal, 1001 going away)."""

    code: int | None


@dataclass(frozen=True, slots=True)
class Silence:
    """Half-open: send nothing more on this session, keep the socket. The exchange applies it itself."""


Action = Reply | Data | Heartbeat | Raw | Drop | Close | Silence
Frame = Data | Raw  # what the data pipeline carries


def encode(action: Reply | Data | Heartbeat | Raw) -> str | bytes:
    """The wire form of an outgoing message: done once, by the shell, at the socket."""
    if type(action) is Data:  # the hot path first
        return action.text
    if isinstance(action, Reply):
        output = dict(action.output) if action.output is not None else None
        return frames.control(
            action.tr_id, action.tr_key, action.rt_cd, action.msg_cd, action.msg1, output, action.encrypt
        )
    if isinstance(action, Heartbeat):
        return frames.pingpong(action.stamp)
    assert isinstance(action, Raw)
    return action.data


class Session(Protocol):  # the parts of exchange.sessions.Session a fault may read
    number: int
    opened_at: float | None
    last_ping: float | None
    last_answer: float
    registered: dict[tuple[str, str], None]


class FaultPlugs(Protocol):
    """What the exchange consults on a running scenario, at its named plug points."""

    def __bool__(self) -> bool: ...

    def before(self, session: Session, req: frames.Request, now: float) -> list[Action] | None: ...

    def after(self, session: Session, req: frames.Request, actions: list[Action]) -> list[Action]: ...

    def data(self, session: Session, frame: Data, now: float) -> list[Action]: ...

    def reroute(self, tr_id: str) -> list[str]: ...

    def deadline(self, session: Session) -> float | None: ...

    def due(self, session: Session, now: float) -> list[Action]: ...

    def client_ping(self, session: Session) -> list[Action] | None: ...


class Runnable(Protocol):
    """A scenario (its `run()` makes fresh per-run fault state) or a run already made (returns itself)."""

    def run(self) -> FaultPlugs: ...
