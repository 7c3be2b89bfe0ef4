"""Metrics that tell the truth about each boundary between "worker started" and "served from WS".

The six stages are the boundaries where a quote service silently falls back to REST; each one
records when it was first and last reached, so `/v1/metrics/quote` shows which one never was.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kisclock import iso_ms

STAGES = ("worker_started", "connected", "subscribed", "first_message", "cached", "served_ws")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso_ms(ts)


@dataclass
class Metrics:
    ws_connected: bool = False
    ws_messages: int = 0  # data frames ingested
    ws_records: int = 0  # trade/book records in them
    ws_subscriptions: int = 0  # acked on the current connection
    ws_reconnects: int = 0
    ws_connects: int = 0
    ws_pingpongs: int = 0
    ws_malformed: int = 0
    ws_refusals: Counter[str] = field(default_factory=Counter)
    worker_restarts: int = 0
    rest_calls: int = 0
    rest_errors: Counter[str] = field(default_factory=Counter)
    token_issuances: int = 0
    last_error: str | None = None
    ws_next_attempt_at: float | None = None  # set while the worker waits out its backoff
    ws_last_message_at: float | None = None  # any text at all, PINGPONG included (F10: quotes frozen)
    worker_running: bool = False  # the supervisor's view of the worker task
    source_counts: Counter[str] = field(default_factory=Counter)
    source_venues: dict[str, Counter[str]] = field(default_factory=dict)  # source -> venue -> quotes
    first: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    # scale-out (gateway/coord): mode, role, epoch, relay lag, resyncs...; shown only when not empty
    coord: dict[str, Any] = field(default_factory=dict)
    # KIS_CREDENTIALS_FILE: one Metrics per appkey session, by appkey id (gateway/coord/shards.py); this one
    # then keeps what the API itself counts (sources served), and `total()` folds the sessions in
    parts: dict[str, Metrics] = field(default_factory=dict)

    _SUMMED = (
        "ws_messages",
        "ws_records",
        "ws_subscriptions",
        "ws_reconnects",
        "ws_connects",
        "ws_pingpongs",
        "ws_malformed",
        "worker_restarts",
        "rest_calls",
        "token_issuances",
    )

    def total(self) -> Metrics:
        """Every appkey session folded into one view: counters summed; connected and running only when
        every session is; the oldest last message (a silent session must show, F10); each stage's first
        time the earliest and last time the latest. Without parts, this object itself."""
        if not self.parts:
            return self
        parts = list(self.parts.values())
        out = Metrics(
            ws_connected=all(p.ws_connected for p in parts),
            worker_running=all(p.worker_running for p in parts),
            last_error=self.last_error or next((p.last_error for p in reversed(parts) if p.last_error), None),
            coord=self.coord,
        )
        for name in self._SUMMED:
            setattr(out, name, getattr(self, name) + sum(getattr(p, name) for p in parts))
        for m in (self, *parts):
            out.ws_refusals.update(m.ws_refusals)
            out.rest_errors.update(m.rest_errors)
            out.source_counts.update(m.source_counts)
            for src, venues in m.source_venues.items():
                out.source_venues.setdefault(src, Counter()).update(venues)
            for stage, at in m.first.items():
                out.first[stage] = min(at, out.first.get(stage, at))
            for stage, at in m.last.items():
                out.last[stage] = max(at, out.last.get(stage, at))
        waits = [p.ws_next_attempt_at for p in parts if p.ws_next_attempt_at is not None]
        out.ws_next_attempt_at = min(waits) if waits else None
        seen = [p.ws_last_message_at for p in parts]
        out.ws_last_message_at = None if None in seen else min(x for x in seen if x is not None)
        return out

    def count_served(self, source: str, venue: str) -> None:
        """A quote answered from `source` (kis-ws / kis-rest), its data from `venue` (krx / nxt / unified)."""
        self.source_counts[source] += 1
        self.source_venues.setdefault(source, Counter())[venue] += 1

    def reach(self, stage: str, now: float) -> bool:
        """Mark a stage reached; True the first time (the caller logs that once)."""
        self.last[stage] = now
        if stage in self.first:
            return False
        self.first[stage] = now
        return True

    def last_message_age(self, now: float) -> float | None:
        """Seconds since the last text from KIS, computed when asked: it keeps growing when the worker is
        dead or blocked, which a value the worker updates itself would not (F10)."""
        at = self.ws_last_message_at
        return None if at is None else round(max(0.0, now - at), 3)

    def as_dict(self, now: float | None = None) -> dict[str, object]:
        """`now` (the gateway clock) adds `ws_last_message_age_s`. With parts: the folded view, plus one
        block per appkey id (`appkeys`)."""
        if self.parts:
            out = self.total()._fields(now)
            out["appkeys"] = {ident: p._session(now) for ident, p in self.parts.items()}
            return out
        return self._fields(now)

    def _session(self, now: float | None) -> dict[str, object]:
        """One appkey session's block: its connection, acks, refusals and coordination role."""
        return {
            "ws_connected": self.ws_connected,
            "ws_subscriptions": self.ws_subscriptions,
            "ws_connects": self.ws_connects,
            "ws_messages": self.ws_messages,
            "ws_refusals": dict(self.ws_refusals),
            "ws_last_message_age_s": None if now is None else self.last_message_age(now),
            "worker_running": self.worker_running,
            "rest_calls": self.rest_calls,
            "last_error": self.last_error,
            **({"coord": dict(self.coord)} if self.coord else {}),
        }

    def _fields(self, now: float | None) -> dict[str, object]:
        out: dict[str, object] = {
            "ws_connected": self.ws_connected,
            "ws_messages": self.ws_messages,
            "ws_records": self.ws_records,
            "ws_subscriptions": self.ws_subscriptions,
            "ws_reconnects": self.ws_reconnects,
            "ws_connects": self.ws_connects,
            "ws_pingpongs": self.ws_pingpongs,
            "ws_malformed": self.ws_malformed,
            "ws_refusals": dict(self.ws_refusals),
            "worker_restarts": self.worker_restarts,
            "rest_calls": self.rest_calls,
            "rest_errors": dict(self.rest_errors),
            "token_issuances": self.token_issuances,
            "last_error": self.last_error,
            "ws_next_attempt_at": _iso(self.ws_next_attempt_at),
            "ws_last_message_at": _iso(self.ws_last_message_at),
            "ws_last_message_age_s": None if now is None else self.last_message_age(now),
            "worker_running": self.worker_running,
            "source_counts": {
                "kis-ws": self.source_counts["kis-ws"],
                "kis-rest": self.source_counts["kis-rest"],
            },
            "source_venues": {src: dict(v) for src, v in self.source_venues.items()},
            "stages": {
                s: {
                    "reached": s in self.first,
                    "first_at": _iso(self.first.get(s)),
                    "last_at": _iso(self.last.get(s)),
                }
                for s in STAGES
            },
        }
        if self.coord:
            out["coord"] = dict(self.coord)
        return out
