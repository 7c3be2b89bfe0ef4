"""The scale checkers on hand-made ledgers, in the plain suite (tox -e scale runs them on real ones): each
must flag the history that breaks its promise, or a green `tox -e scale` would mean nothing."""

from __future__ import annotations

from typing import Any

from scale import checkers


def opens(*ts: float) -> list[dict[str, Any]]:
    return [{"kind": "session-open", "t": t, "session": i} for i, t in enumerate(ts, 1)]


def test_a_failover_with_a_refused_try_and_a_good_one_passes() -> None:
    ledger = opens(0.5, 10.2, 16.0, 16.5, 30.1) + [{"kind": "data", "t": 11.0}]
    problems, counts = checkers.handshakes_per_failover(
        ledger, [("kill", 10.0), ("stop", 15.0), ("drop", 30.0)]
    )
    assert problems == [] and counts == [1, 2, 1]


def test_a_reconnect_storm_after_a_failover_is_flagged() -> None:
    ledger = opens(10.2, 11.0, 11.5, 12.0, 20.5)
    problems, counts = checkers.handshakes_per_failover(ledger, [("stop", 10.0), ("term", 20.0)])
    assert counts == [4, 1]
    assert problems == ["stop at 10.0: 4 handshakes before the next op (limit 2)"]


def test_handshakes_long_after_the_last_op_still_count() -> None:
    problems, counts = checkers.handshakes_per_failover(opens(5.0, 50.0, 90.0), [("partition", 1.0)])
    assert counts == [3] and len(problems) == 1


def test_handshakes_before_the_first_op_belong_to_no_failover() -> None:
    problems, counts = checkers.handshakes_per_failover(opens(0.1, 0.2, 0.3, 9.0), [("kill", 5.0)])
    assert problems == [] and counts == [1]


def test_four_handshakes_in_ten_seconds_are_a_storm_even_between_two_ops() -> None:
    assert checkers.no_storm(opens(1.0, 4.0, 7.0, 10.9)) == ["4 handshakes within 10.0 s from 1.0 (limit 3)"]


def test_handshakes_spread_past_the_lockout_window_are_no_storm() -> None:
    assert checkers.no_storm(opens(1.0, 4.0, 7.0, 11.0, 14.0, 17.0, 21.0)) == []
