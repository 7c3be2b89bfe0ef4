"""The gateway's connection rules, sans-I/O: backoff, hold-off, approval refusals, health, deadlines and
close codes, driven with a plain float clock and a seeded Random (no sockets, no event loop)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.policy import HOLD_OFF_FAILURES, ConnectionPolicy, close_code

pytestmark = pytest.mark.ws  # the WebSocket connection's rules: `pytest -k ws` runs them


def _policy(seed: int = 0, **kw: float) -> ConnectionPolicy:
    return ConnectionPolicy(rng=random.Random(seed), **kw)


# -- backoff -----------------------------------------------------------------------------------------


@given(
    failures=st.integers(0, 200),
    base=st.floats(0.01, 10),
    cap=st.floats(0.01, 600),
    seed=st.integers(0, 2**32),
)
def test_backoff_stays_in_the_equal_jitter_band(failures: int, base: float, cap: float, seed: int) -> None:
    p = _policy(seed, backoff_base_s=base, backoff_cap_s=cap)
    p.failures = failures
    ceiling = min(cap, base * 2.0 ** min(failures, 16))
    delay = p.backoff()
    assert ceiling / 2 <= delay <= ceiling  # a floor (never a storm, F13) and a cap


def test_backoff_grows_with_failures_and_is_jittered() -> None:
    p = _policy(1)
    delays = [p.end_attempt(healthy=False) for _ in range(10)]
    assert p.failures == 10
    assert delays[0] >= 1.0 and max(delays[5:]) >= 15.0  # 2 s band first, the 30 s cap's band later
    assert len(set(delays)) == len(delays)


def test_a_healthy_attempt_resets_the_streak() -> None:
    p = _policy()
    for _ in range(4):
        p.end_attempt(healthy=False)
    assert p.end_attempt(healthy=True) <= 1.0 and p.failures == 0


# -- hold-off (F2) and approval refusals (F8) ---------------------------------------------------------


def test_already_in_use_holds_off_once() -> None:
    p = _policy()
    p.begin_attempt()
    p.on_session_error("OPSP8996")
    delay = p.end_attempt(healthy=False)
    assert p.failures == HOLD_OFF_FAILURES and delay >= 15.0  # half of the 30 s cap, not a second
    p.begin_attempt()
    p.end_attempt(healthy=False)
    assert p.failures == HOLD_OFF_FAILURES + 1  # the hold-off does not stick to later attempts


def test_other_session_errors_do_not_hold_off() -> None:
    p = _policy()
    p.on_session_error("OPSP9999")
    p.end_attempt(healthy=False)
    assert p.failures == 1


def test_hold_off_keeps_a_longer_streak() -> None:
    p = _policy()
    p.failures = 9
    p.on_session_error("OPSP8996")
    p.end_attempt(healthy=False)
    assert p.failures == 10


def test_approval_refusal_asks_for_a_fresh_key_once_then_holds_off() -> None:
    p = _policy()
    assert p.begin_attempt() is False
    p.on_refused("OPSP0011")
    p.end_attempt(healthy=False)
    assert p.failures == 1  # the first refusal: try a fresh key soon, no hold-off
    assert p.begin_attempt() is True  # ... the next attempt fetches it
    p.on_approval()
    p.on_refused("OPSP0011")
    p.end_attempt(healthy=False)
    assert p.failures == HOLD_OFF_FAILURES  # refused again: the key is not the problem
    assert p.begin_attempt() is True
    p.on_approval()
    assert p.begin_attempt() is False  # one fresh key per refusal


def test_a_failed_approval_fetch_does_not_use_up_the_refresh() -> None:
    p = _policy()
    p.on_refused("OPSP0011")
    p.end_attempt(healthy=False)
    assert p.begin_attempt() is True
    p.end_attempt(healthy=False)  # the approval REST call failed: no on_approval
    assert p.begin_attempt() is True


def test_an_ack_between_refusals_starts_the_count_again() -> None:
    p = _policy()
    p.on_refused("OPSP0011")
    p.end_attempt(healthy=False)
    p.begin_attempt()
    p.on_open(0.0)
    assert p.on_acked("OPSP0000")
    p.on_refused("OPSP0011")
    p.end_attempt(healthy=True)
    assert p.failures == 0  # one refusal after a healthy connection is not a hold-off


def test_other_refusals_neither_refresh_nor_hold_off() -> None:
    p = _policy()
    p.on_refused("OPSP0008")
    p.end_attempt(healthy=False)
    assert p.failures == 1 and p.begin_attempt() is False


# -- health ------------------------------------------------------------------------------------------


@given(failures=st.integers(0, 100), code=st.sampled_from(["OPSP0000", "OPSP0002"]))
def test_a_subscription_ack_makes_the_connection_healthy(failures: int, code: str) -> None:
    p = _policy()
    p.failures, p.approval_refusals = failures, 1
    p.begin_attempt()
    p.on_open(0.0)
    assert p.on_acked(code) and p.healthy
    assert p.failures == 0 and p.approval_refusals == 0
    assert p.on_closed(1006).healthy


def test_an_unsubscribe_ack_is_not_health() -> None:
    p = _policy()
    p.failures = 3
    p.begin_attempt()
    p.on_open(0.0)
    assert not p.on_acked("OPSP0001") and not p.healthy and p.failures == 3
    assert not p.on_closed(1000).healthy


def test_health_is_per_connection() -> None:
    p = _policy()
    p.begin_attempt()
    p.on_open(0.0)
    p.on_acked("OPSP0000")
    p.on_closed(1006)
    p.begin_attempt()
    assert not p.healthy  # a new attempt starts unhealthy, even if the open fails


# -- deadlines (F1 half-open, swallowed subscribes) -----------------------------------------------------


def test_idle_deadline_moves_with_every_text() -> None:
    p = _policy(idle_timeout_s=20, ack_timeout_s=5)
    assert p.next_deadline(100.0) is None  # nothing open, nothing to watch
    p.on_open(100.0)
    assert p.next_deadline(100.0) == 105.0  # the ack deadline comes first
    p.on_acked("OPSP0000")
    assert p.next_deadline(100.0) == 120.0
    p.on_received(110.0)
    assert p.next_deadline(110.0) == 130.0
    assert p.on_deadline(129.999) is None
    assert p.on_deadline(130.0) == "no message for 20s; reconnecting"


def test_ack_deadline() -> None:
    p = _policy(idle_timeout_s=20, ack_timeout_s=5)
    p.on_open(0.0)
    p.on_received(4.0)  # a PINGPONG is not an ack
    assert p.on_deadline(4.999) is None
    assert p.on_deadline(5.0) == "no subscribe ack within 5s; reconnecting"


def test_a_closed_connection_has_no_deadline() -> None:
    p = _policy()
    p.on_open(0.0)
    p.on_closed(1006)
    assert p.next_deadline(1_000.0) is None and p.on_deadline(1_000.0) is None


_events = st.lists(
    st.tuples(
        st.sampled_from(["open", "rx", "ack", "unsub", "close", "advance"]),
        st.floats(0, 100, allow_nan=False),
    ),
    max_size=40,
)


@given(events=_events, idle=st.floats(0.1, 120), ack=st.floats(0.1, 60))
def test_deadlines_are_never_in_the_past_and_fire_only_when_due(
    events: list[tuple[str, float]], idle: float, ack: float
) -> None:
    p, now = _policy(idle_timeout_s=idle, ack_timeout_s=ack), 1_000.0
    for kind, dt in events:
        if kind == "open":
            p.begin_attempt()
            p.on_open(now)
        elif kind == "rx" and p.open:
            p.on_received(now)
        elif kind in ("ack", "unsub") and p.open:
            p.on_acked("OPSP0000" if kind == "ack" else "OPSP0001")
        elif kind == "close" and p.open:
            p.on_closed(1006)
        elif kind == "advance":
            now += dt
        due = p.next_deadline(now)
        assert (due is None) == (not p.open)
        if due is None:
            continue
        assert due >= now
        fired = p.on_deadline(now)
        assert (fired is not None) == (due == now)  # fires exactly when the deadline has come
        if fired is None:
            assert p.on_deadline(due) is not None  # ... and does fire at it


# -- close codes --------------------------------------------------------------------------------------


def test_a_normal_close_keeps_last_error() -> None:
    p = _policy()
    p.on_open(0.0)
    p.on_error("OPSP0008 MAX SUBSCRIBE OVER")
    assert p.on_closed(1000).last_error is None


def test_an_abnormal_close_quotes_the_cause_of_this_connection_only() -> None:
    p = _policy()
    p.on_open(0.0)
    p.on_error("OPSP8996 ALREADY IN USE appkey")
    assert p.on_closed(1006).last_error == "OPSP8996 ALREADY IN USE appkey (then closed with code 1006)"
    p.on_open(10.0)
    assert p.on_closed(1011).last_error == "websocket closed with code 1011"


def test_close_code_prefers_our_own_close_over_the_echo() -> None:
    assert close_code(1007, None, None) == 1007  # we closed, nothing came back
    assert close_code(1007, 1007, False) == 1007  # we closed first, the peer echoed
    assert close_code(1000, 1001, True) == 1001  # the peer closed first, we echoed
    assert close_code(None, 1001, None) == 1001
    assert close_code(None, None, None) == 1006  # no close frame at all
