"""When to reconnect, how long to wait, when a connection is dead: the gateway's connection rules, sans-I/O.

`ConnectionPolicy` takes events in (an attempt begins, a connection opens, a text arrives, an ack, a
refusal, a session error, a close) and gives decisions out (fetch a fresh approval key or not, the next
deadline and why it fired, what a close means, how long to wait before the next attempt). It reads no
clock and touches no socket: `gateway/worker.py` feeds it the injected clock's `now`, and the Hypothesis
state machine in `tests/test_ws_state_machine.py` drives it with a manual clock and no sockets at all.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Server-side refusals that mean "stop hammering": another process holds the appkey (F2).
HOLD_OFF_CODES = frozenset({"OPSP8996"})
HOLD_OFF_FAILURES = 5  # with the defaults: the next attempt waits 15-30 s, not a second
APPROVAL_REFUSED = "OPSP0011"  # the approval key was not accepted
UNSUBSCRIBED = "OPSP0001"  # an unsubscribe ack: it says nothing about health
NORMAL_CLOSE = 1000


@dataclass(frozen=True, slots=True)
class CloseReport:
    """What one connection's close means. `last_error` is None for a normal close (1000): keep what was
    there; otherwise the server's last stated cause, if any, followed by the code."""

    code: int | None
    healthy: bool
    last_error: str | None


class ConnectionPolicy:
    def __init__(
        self,
        idle_timeout_s: float = 60.0,
        ack_timeout_s: float = 10.0,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self.idle_timeout_s, self.ack_timeout_s = idle_timeout_s, ack_timeout_s
        self.backoff_base_s, self.backoff_cap_s = backoff_base_s, backoff_cap_s
        self.rng = rng or random.Random()
        self.failures = 0  # consecutive attempts that never became healthy (no ack)
        self.approval_refusals = 0  # OPSP0011 in a row
        self.want_fresh_approval = False
        self.hold_off = False  # the server refused the session: the next wait has a high floor
        self.healthy = False  # the current (or last) connection had a subscription acked
        self.open = False
        self.opened_at = 0.0
        self.last_rx = 0.0
        self.conn_error: str | None = None  # what the server last said was wrong, on this connection

    # -- attempts ------------------------------------------------------------------------------------
    def begin_attempt(self) -> bool:
        """An attempt starts; True if it must fetch a fresh approval key (after an OPSP0011), until one
        was fetched (`on_approval`): a failed fetch does not use the refresh up."""
        self.healthy = False
        return self.want_fresh_approval

    def on_approval(self) -> None:
        self.want_fresh_approval = False

    def end_attempt(self, healthy: bool) -> float:
        """The attempt is over (`healthy`: it got a subscription acked); returns the seconds to wait."""
        if self.hold_off:  # the server refused the session: stop hammering it
            self.failures = max(self.failures + 1, HOLD_OFF_FAILURES)
            self.hold_off = False
        else:
            self.failures = 0 if healthy else self.failures + 1
        return self.backoff()

    def backoff(self) -> float:
        """Equal jitter: half of min(cap, base * 2^failures) plus a random half, so reconnects spread out
        but never come faster than the floor (a storm of reconnects can get an appkey blocked, F13)."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** min(self.failures, 16))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    # -- one connection ------------------------------------------------------------------------------
    def on_open(self, now: float) -> None:
        self.open, self.healthy, self.conn_error = True, False, None
        self.opened_at = self.last_rx = now

    def on_received(self, now: float) -> None:
        """Any text at all (PINGPONG included) proves the socket alive."""
        self.last_rx = now

    def on_acked(self, msg_cd: str) -> bool:
        """True if this ack makes the connection healthy (a subscription, not an OPSP0001 unsubscribe):
        the failure streak and the approval refusals are over."""
        if msg_cd == UNSUBSCRIBED:
            return False
        self.healthy = True
        self.failures = 0
        self.approval_refusals = 0
        return True

    def on_refused(self, msg_cd: str) -> None:
        if msg_cd == APPROVAL_REFUSED:
            # One fresh approval key (it may have expired or come from the other environment);
            # refused again, the key is not the problem: back off.
            self.approval_refusals += 1
            self.want_fresh_approval = True
            if self.approval_refusals > 1:
                self.hold_off = True

    def on_session_error(self, msg_cd: str) -> None:
        if msg_cd in HOLD_OFF_CODES:
            self.hold_off = True

    def on_error(self, text: str) -> None:
        """The cause the server (or we) gave on this connection; quoted when it closes."""
        self.conn_error = text

    def next_deadline(self, now: float) -> float | None:
        """When `on_deadline` must next be asked; None with no open connection. Never before `now`:
        a deadline already passed is due at once."""
        if not self.open:
            return None
        due = self.last_rx + self.idle_timeout_s
        if not self.healthy:
            due = min(due, self.opened_at + self.ack_timeout_s)
        return max(due, now)

    def on_deadline(self, now: float) -> str | None:
        """Two ways a connection is dead though the socket looks open: no message at all (PINGPONG
        included) for `idle_timeout_s` (F1 half-open), or no ack for any subscription within
        `ack_timeout_s` of opening (requests swallowed). Returns why to abort, or None."""
        if not self.open:
            return None
        if now >= self.last_rx + self.idle_timeout_s:
            return f"no message for {self.idle_timeout_s:g}s; reconnecting"
        if not self.healthy and now >= self.opened_at + self.ack_timeout_s:
            return f"no subscribe ack within {self.ack_timeout_s:g}s; reconnecting"
        return None

    def on_closed(self, code: int | None) -> CloseReport:
        """`code` None: the socket library had none to give (it is reported as such)."""
        self.open = False
        if code == NORMAL_CLOSE:
            return CloseReport(code, self.healthy, None)
        cause = self.conn_error
        text = f"{cause} (then closed with code {code})" if cause else f"websocket closed with code {code}"
        return CloseReport(code, self.healthy, text)


def close_code(sent: int | None, rcvd: int | None, rcvd_then_sent: bool | None) -> int:
    """The code that says why a connection closed: our own close (e.g. 1007 for invalid UTF-8) says more
    than the peer's echo of it; no close frame at all is 1006."""
    ours = sent is not None and (rcvd is None or not rcvd_then_sent)
    if ours and sent is not None:
        return sent
    return rcvd if rcvd is not None else 1006
