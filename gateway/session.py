"""The client side of one KIS WebSocket connection, sans-I/O.

`ClientSession` knows the desired subscriptions, builds the subscribe messages, and turns each
received text into what the worker must do: text to send back (the PINGPONG echo), acks to count,
data frames to ingest, errors to report. A new connection gets a new `ClientSession`, so nothing
(acked set, AES keys) leaks across reconnects; the desired set is what gets resubscribed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway import codec

SUBSCRIBED_CODES = frozenset({"OPSP0000", "OPSP0002"})  # ALREADY IN SUBSCRIBE means we have it
# The trade TR each venue (KIS_VENUE) subscribes (docs/kis/endpoints.md §C0, §C4); its frames are decoded
# alike (codec.TRADE_VENUES says which venue a frame came from).
VENUE_TRADE_TR = {"krx": "H0STCNT0", "nxt": "H0NXCNT0", "unified": "H0UNCNT0"}


def subscribe_message(
    approval_key: str, tr_id: str, tr_key: str, register: bool = True, custtype: str = "P"
) -> str:
    return json.dumps(
        {
            "header": {
                "approval_key": approval_key,
                "custtype": custtype,
                "tr_type": "1" if register else "2",
                "content-type": "utf-8",
            },
            "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}},
        },
        separators=(",", ":"),
    )


@dataclass(slots=True)
class Reply:
    """Text to send back on the same socket (the PINGPONG echo)."""

    text: str


@dataclass(slots=True)
class Acked:
    tr_id: str
    tr_key: str
    msg_cd: str


@dataclass(slots=True)
class Refused:
    """A subscription-level refusal (rt_cd 1), e.g. OPSP0008 MAX SUBSCRIBE OVER or OPSP0011."""

    tr_id: str
    tr_key: str
    msg_cd: str
    msg1: str


@dataclass(slots=True)
class SessionError:
    """A session/parse-level error (rt_cd 9), e.g. OPSP8996 ALREADY IN USE appkey."""

    msg_cd: str
    msg1: str


@dataclass(slots=True)
class Heartbeat:
    datetime: str


@dataclass(slots=True)
class Malformed:
    """A message that is not KIS (codec.DecodeError), or a data frame with records lost (Frame.error)."""

    reason: str


# A data frame is its own outcome (codec.Frame): no wrapper object per frame on the hot path.
Outcome = Reply | Acked | Refused | SessionError | codec.Frame | Heartbeat | Malformed


@dataclass
class ClientSession:
    desired: list[tuple[str, str]]
    custtype: str = "P"
    acked: dict[tuple[str, str], str] = field(default_factory=dict)  # -> msg_cd that acked it
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # tr_id -> (key, iv)

    def subscribe_messages(self, approval_key: str) -> list[str]:
        return [
            subscribe_message(approval_key, tr_id, tr_key, True, self.custtype)
            for tr_id, tr_key in self.desired
            if (tr_id, tr_key) not in self.acked
        ]

    def receive(self, text: str) -> list[Outcome]:
        """Never raises: whatever arrives, a bad message is a `Malformed` outcome the worker counts."""
        event = codec.decode(text, self.keys)
        if isinstance(event, codec.Frame):
            return [event] if event.error is None else [event, Malformed(event.error)]
        if isinstance(event, codec.PingPong):
            # Echo the exact text back as a text frame (python-kis, the 2025 official sample).
            return [Heartbeat(event.datetime), Reply(event.text)]
        if isinstance(event, codec.DecodeError):
            return [Malformed(event.reason)]
        return [self._control(event)]

    def _control(self, c: codec.Control) -> Outcome:
        sub = (c.tr_id, c.tr_key)
        if c.msg_cd in SUBSCRIBED_CODES:
            self.acked[sub] = c.msg_cd
            if c.key and c.iv:
                self.keys[c.tr_id] = (c.key, c.iv)
            return Acked(c.tr_id, c.tr_key, c.msg_cd)
        if c.msg_cd == "OPSP0001":
            self.acked.pop(sub, None)
            return Acked(c.tr_id, c.tr_key, c.msg_cd)
        if c.rt_cd == "9" or c.tr_id in ("(null)", ""):
            return SessionError(c.msg_cd, c.msg1)
        return Refused(c.tr_id, c.tr_key, c.msg_cd, c.msg1)

    @property
    def subscriptions(self) -> int:
        return len(self.acked)

    @staticmethod
    def for_symbols(symbols: Iterable[str], tr_ids: Iterable[str] = ("H0STCNT0",)) -> ClientSession:
        return ClientSession([(tr, s) for tr in tr_ids for s in symbols])
