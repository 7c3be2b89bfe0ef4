"""What a connection's events do to the gateway's state: the session's outcomes (frames, acks, refusals,
heartbeats, malformed texts) and the connection's opening and closing, turned into cache updates, metrics,
stage reaches and log lines. No I/O and no clock of its own: `now` comes in, the replies to send go out.

The worker (`gateway/worker.py`) owns the socket and the waiting; this module owns the bookkeeping, so the
state-machine tests drive it with `ClientSession` and `ConnectionPolicy` and no socket at all.

Nothing one received text does can escape `receive`: whatever its handling raises becomes a counted
malformed event (F10: an exception swallowed or escaping a loop freezes quotes while HTTP looks healthy).
"""

from __future__ import annotations

import logging

from gateway.cache import QuoteCache
from gateway.codec import TRADE_VENUES, Frame
from gateway.metrics import Metrics
from gateway.policy import ConnectionPolicy
from gateway.redact import StageLog
from gateway.session import Acked, ClientSession, Heartbeat, Malformed, Outcome, Refused, Reply, SessionError


class Ingest:
    def __init__(self, cache: QuoteCache, metrics: Metrics, log: StageLog, policy: ConnectionPolicy) -> None:
        self.cache, self.metrics, self.log, self.policy = cache, metrics, log, policy

    def opened(self, now: float, url: str) -> None:
        m = self.metrics
        if m.ws_connects:
            m.ws_reconnects += 1
        m.ws_connects += 1
        m.ws_connected = True
        m.reach("connected", now)
        self.log.event("ws_connect", url=url, attempt=m.ws_connects)
        self.policy.on_open(now)

    def closed(self, code: int | None, reason: str = "") -> bool:
        """The connection is gone; returns whether it was healthy."""
        self.metrics.ws_connected = False
        self.metrics.ws_subscriptions = 0
        report = self.policy.on_closed(code)
        self.log.event("ws_close", code=code, reason=reason, healthy=report.healthy, level=logging.WARNING)
        if report.last_error is not None:
            self.metrics.last_error = report.last_error
        return report.healthy

    def receive(self, session: ClientSession, text: str, now: float) -> list[str]:
        """Handle one received text; returns what to send back. Never raises."""
        self.metrics.ws_last_message_at = now
        self.policy.on_received(now)
        replies: list[str] = []
        try:
            for out in session.receive(text):
                if type(out) is Frame:
                    self._frame(out, now)
                elif isinstance(out, Reply):
                    replies.append(out.text)
                elif isinstance(out, Heartbeat):
                    self.metrics.ws_pingpongs += 1
                elif isinstance(out, Malformed):
                    self.malformed(out.reason)
                else:
                    self._control(session, out, now)
        except Exception as e:  # noqa: BLE001 - one bad text must not end the receive loop (F10)
            self.malformed(f"handling failed: {type(e).__name__}: {e}")
        return replies

    def _control(self, session: ClientSession, out: Outcome, now: float) -> None:
        if isinstance(out, Acked):
            self.metrics.ws_subscriptions = session.subscriptions
            if self.policy.on_acked(out.msg_cd):
                first = self.metrics.reach("subscribed", now)
                self.log.event(
                    "ws_subscribe",
                    tr_id=out.tr_id,
                    tr_key=out.tr_key,
                    msg_cd=out.msg_cd,
                    acked=session.subscriptions,
                    first=first,
                )
        elif isinstance(out, Refused):
            self.metrics.ws_refusals[out.msg_cd] += 1
            self.error(f"{out.msg_cd} {out.msg1} ({out.tr_id} {out.tr_key})")
            self.policy.on_refused(out.msg_cd)
        elif isinstance(out, SessionError):
            self.metrics.ws_refusals[out.msg_cd] += 1
            self.error(f"{out.msg_cd} {out.msg1}")
            self.policy.on_session_error(out.msg_cd)

    def _frame(self, frame: Frame, now: float) -> None:
        m = self.metrics
        m.ws_messages += 1
        m.ws_records += frame.count
        if m.reach("first_message", now):
            self.log.event("ws_first_message", tr_id=frame.tr_id, records=frame.count)
        venue = TRADE_VENUES.get(frame.tr_id)
        if venue is None:  # books, notices: not quotes
            return
        fields, cache = frame.fields, self.cache
        if frame.count == 1:  # the common case: no loop, no `or` chain
            cached = cache.update_from_h0stcnt0(fields, 0, now, venue)
        else:
            width, cached = frame.width, False
            for i in range(frame.count):
                cached = cache.update_from_h0stcnt0(fields, i * width, now, venue) or cached
        if cached and m.reach("cached", now):
            self.log.event("ws_cached", symbol=fields[0])

    def malformed(self, reason: str) -> None:
        self.metrics.ws_malformed += 1
        self.log.event("ws_malformed", reason=reason, level=logging.WARNING)

    def error(self, text: str) -> None:
        """Record a failure: masked before it reaches metrics, the policy or the log."""
        masked = self.log.redact(text)
        self.metrics.last_error = masked
        self.policy.on_error(masked)
        self.log.event("ws_error", error=masked, level=logging.WARNING)
