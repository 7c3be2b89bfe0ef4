"""Faults through the sans-I/O exchange (no sockets): scenario files checked when loaded (issue #12),
parameters kept apart from per-run state, and the data pipeline on typed frames."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import trade
from fakekis import faults
from fakekis.exchange.actions import Data, Raw, Reply
from fakekis.exchange.auth import Registry
from fakekis.exchange.sessions import Exchange, Session
from fakekis.wire import frames, layouts
from gateway.session import subscribe_message

# -- scenario files are checked when loaded ----------------------------------------------------


@pytest.mark.parametrize(
    "fault, key, value, allowed",
    [
        ("malformed", "every", "0", "a whole number from 1 to"),  # every: 0 stopped the replay
        ("max-subscribe", "limit", "'x'", "a whole number from 0 to"),  # 'x' gave 1011 on every subscribe
        ("burst", "size", "0", "a whole number from 1 to 999"),  # size 0 looped forever
        ("burst", "size", "1000", "a whole number from 1 to 999"),  # a 4-digit count breaks the header
        ("drop", "after_s", ".nan", "a number of seconds from 0 to"),  # NaN froze the loop
        ("drop", "after_s", ".inf", "a number of seconds from 0 to"),
        ("half-open", "after_s", "-1", "a number of seconds from 0 to"),
        ("pingpong-timeout", "timeout_s", "0", "a number of seconds from more than 0"),
        ("reconnect-lockout", "window_s", "0", "a number of seconds from more than 0"),
        ("session-in-use", "for_s", "true", "a number of seconds"),  # a bool is not a number
        ("malformed", "mode", "sideways", "one of truncate, count, garbage"),
        ("drop", "code", "1006", "a close code"),  # 1006 is never sent on the wire
        ("approval-rejected", "times", "1.5", "a whole number"),
        ("field-drift", "value", "'a^b'", "without '^'"),
        ("error-ack", "tr_key", "[1, 2]", "a string of at most 16"),
    ],
)
def test_a_bad_parameter_is_one_line_naming_file_line_key_and_allowed(
    tmp_path: Path, fault: str, key: str, value: str, allowed: str
) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: bad\nfaults:\n  - market-closed\n  - fault: {fault}\n    {key}: {value}\n")
    with pytest.raises(faults.ScenarioError) as err:
        faults.load(str(spec))
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"{spec}:5: fault {fault!r}: {key}: ") and allowed in line, line


def test_unknown_keys_are_refused_with_the_allowed_ones(tmp_path: Path) -> None:
    spec = tmp_path / "s.json"
    spec.write_text('{"name": "x",\n "falts": []}')
    with pytest.raises(
        faults.ScenarioError, match=rf"^{spec}:2: unknown key 'falts' \(allowed: name, faults\)$"
    ):
        faults.load(str(spec))
    spec.write_text('{"faults": [\n {"fault": "drop",\n  "after": 2}]}')
    with pytest.raises(
        faults.ScenarioError,
        match=rf"^{spec}:3: fault 'drop': unknown parameter 'after' \(allowed: after_s, code, connections\)$",
    ):
        faults.load(str(spec))
    for doc, needle in [
        ("faults:\n  - fault: [drop]\n", ":2: fault #1: unknown fault"),  # unhashable: was a TypeError
        ("name: [1]\nfaults: []\n", ":1: name: [1] is not allowed"),
        ("faults: 3\n", "expected a list of faults"),
        ("faults: [\n", "invalid YAML"),
    ]:
        spec.write_text(doc)
        with pytest.raises(faults.ScenarioError, match=re.escape(needle)):
            faults.load(str(spec))


def test_python_construction_is_checked_too() -> None:
    with pytest.raises(faults.ScenarioError, match="every: 0 is not allowed"):
        faults.Malformed(every=0)
    with pytest.raises(faults.ScenarioError, match="after_s: nan"):
        faults.DropAfter(after_s=math.nan)
    assert faults.DropAfter(after_s=3, code=1001).params() == {"after_s": 3, "code": 1001, "connections": 1}


def test_cli_refuses_a_bad_scenario_in_one_line_exit_2(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("faults:\n  - fault: malformed\n    every: 0\n")
    out = subprocess.run(
        [sys.executable, "-m", "fakekis", "serve", "--scenario", str(spec)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        f"fakekis serve: error: {spec}:3: fault 'malformed': every: 0 is not allowed "
        "(allowed: a whole number from 1 to 1000000)"
    ]


# -- parameters versus per-run state -----------------------------------------------------------


def test_a_run_has_its_own_state_and_describe_stays_true() -> None:
    scenario = faults.Scenario([faults.TokenThrottle(times=1), faults.DropAfter(after_s=1)])
    first, second = scenario.run(), scenario.run()
    assert first.rest("token", 0.0) is not None and first.rest("token", 0.0) is None
    assert second.rest("token", 0.0) is not None  # a fresh run starts over
    assert scenario.describe()[0]["times"] == 1  # the parameter did not count down
    with pytest.raises(AttributeError):
        faults.TokenThrottle().times = 5  # type: ignore[misc]  # frozen


# -- through the exchange ----------------------------------------------------------------------


def _exchange(*fault_list: faults.Fault[Any]) -> tuple[Exchange, Session]:
    reg = Registry("mock")
    key = str(
        reg.issue_approval({"grant_type": "client_credentials", "appkey": "A" * 36, "secretkey": "s" * 180})[
            1
        ]["approval_key"]
    )
    ex = Exchange(reg, scenario=faults.Scenario(list(fault_list)))
    s = ex.open(0.0)
    for code in ("005930", "000660"):
        s.receive(subscribe_message(key, "H0STCNT0", code))
    return ex, s


def _frame(n: int = 1, code: str = "005930") -> Data:
    return Data.of("H0STCNT0", [trade(code, "100000", 71_000, 70_000, 1_000 + i) for i in range(n)])


def test_already_subscribed_rewrites_the_ack_by_its_msg_cd() -> None:
    ex, first = _exchange(faults.AlreadySubscribedAfterReconnect())
    ex.closed(first)
    reg_key = next(iter(ex.registry.approvals))
    again = ex.open(1.0).receive(subscribe_message(reg_key, "H0STCNT0", "005930"))
    assert [a.msg_cd for a in again if isinstance(a, Reply)] == ["OPSP0002"]
    assert ex.stats.acks["OPSP0002"] == 1


def test_field_drift_and_burst_compose_on_typed_frames() -> None:
    ex, s = _exchange(faults.FieldDrift(), faults.BurstBatching(size=3))
    out = [a for _ in range(4) for _, a in ex.deliver(_frame(), "005930", 0.0)]
    assert len(out) == 1 and isinstance(out[0], Data) and out[0].count == 3
    recs = out[0].records()
    drifted = layouts.width_no_era_has("H0STCNT0", len(_frame().records()[0]) + 1)  # type: ignore[index]
    assert drifted not in layouts.widths("H0STCNT0")
    assert recs is not None and [len(r) for r in recs] == [drifted] * 3 and recs[0][-1] == "2"


def test_reroute_and_market_closed() -> None:
    ex, s = _exchange(faults.KrxSilentNxtTrades())
    assert ex.deliver(_frame(), "005930", 0.0) == []  # nobody registered the NXT/unified TRs
    ex, s = _exchange(faults.MarketClosed())
    assert ex.deliver(_frame(), "005930", 0.0) == []
    ex, s = _exchange()
    assert ex.deliver(_frame(), "005930", 0.0) == [(s, _frame())]


def test_byte_level_faults_emit_raw_with_the_declared_count() -> None:
    ex, s = _exchange(faults.Malformed(every=2, mode="count"))
    out = [a for _ in range(2) for _, a in ex.deliver(_frame(2), "005930", 0.0)]
    assert isinstance(out[0], Data) and isinstance(out[1], Raw) and out[1].count == 3
    assert frames.split_frame(out[1].data.decode())[2] == "003"  # type: ignore[index]
    ex, s = _exchange(faults.InvalidUtf8(nth=1))
    ((_, raw),) = ex.deliver(_frame(), "005930", 0.0)
    assert isinstance(raw, Raw) and b"\xb0\xa1\xff" in raw.data and raw.count == 1


def test_half_open_silences_the_session_through_the_exchange() -> None:
    ex, s = _exchange(faults.HalfOpen(after_s=5))
    assert ex.deadline(s) == 5.0 and not s.silenced
    assert ex.due(s, 5.0) == [] and s.silenced  # the Silence action is the exchange's to apply
    assert ex.deliver(_frame(), "005930", 6.0) == []
    assert ex.deadline(s) is None


def test_trading_faults_answer_orders_only_and_count_per_run() -> None:
    from fakekis.faults.trading import notice_delay, order_delay

    scenario = faults.Scenario(
        [
            faults.OrderReject(reason="tick", times=1),
            faults.AcceptanceDelay(after_s=3.0),
            faults.NoticeLost(every=3),
        ]
    )
    run = scenario.run()
    assert run.rest("price", 0.0) is None  # quotations are untouched
    assert run.rest("order:live", 0.0) == (
        200,
        {"rt_cd": "7", "msg_cd": "APBK0506", "msg1": "주식주문호가단위 오류입니다."},
    )
    assert run.rest("order:mock", 0.0) is None  # times=1 is spent
    assert order_delay(run, 0.0) == 3.0
    assert [notice_delay(run, 0.0) for _ in range(6)] == [0.0, 0.0, None, 0.0, 0.0, None]
    assert scenario.run().rest("order:mock", 0.0) == (
        200,
        {"rt_cd": "1", "msg_cd": "40030000", "msg1": "모의투자 주문처리가 안되었습니다(호가단위 오류)"},
    )  # a fresh run, fresh counts
    assert order_delay(faults.Scenario().run(), 0.0) == 0.0


# -- network faults: the plan for each outgoing message (faults/network.py) --------------------


def _plans(fault: faults.Fault, sizes: list[int], step: float = 0.0) -> list[faults.Wire]:
    """The plans for messages of these sizes, sent `step` seconds apart from 0 on one socket."""
    run = faults.Scenario([fault]).run()
    out = []
    for i, size in enumerate(sizes):
        plan = run.wire("ws", "session-1", size, i * step)
        assert plan is not None
        out.append(plan)
    return out


def test_latency_with_jitter_is_seeded_bounded_and_keeps_order() -> None:
    fault = faults.Latency(latency_s=1.0, jitter_s=0.5, seed=7)
    delays = [p.at - 10 * i for i, p in enumerate(_plans(fault, [10] * 50, step=10))]
    assert delays == [p.at - 10 * i for i, p in enumerate(_plans(fault, [10] * 50, step=10))]  # same seed
    other = faults.Latency(latency_s=1.0, jitter_s=0.5, seed=8)
    assert delays != [p.at - 10 * i for i, p in enumerate(_plans(other, [10] * 50, step=10))]
    assert all(0.5 <= d <= 1.5 for d in delays) and len({round(d, 6) for d in delays}) > 40
    bunched = [p.at for p in _plans(fault, [10] * 50)]  # all sent at once: jitter never reorders them
    assert bunched == sorted(bunched)


def test_latency_applies_only_to_its_channel() -> None:
    run = faults.Scenario([faults.Latency(latency_s=1.0, on="rest")]).run()
    assert run.wire("ws", "s", 10, 0.0) is None
    plan = run.wire("rest", "/oauth2/tokenP", 10, 5.0)
    assert plan is not None and plan.at == 6.0


def test_bandwidth_paces_bytes_on_one_link() -> None:
    ats = [p.at for p in _plans(faults.Bandwidth(bytes_per_s=1000), [1000, 500, 2000])]
    assert ats == [1.0, 1.5, 3.5]


def test_slow_rest_delays_matching_paths_only() -> None:
    run = faults.Scenario([faults.SlowRest(delay_s=3.0, path="tokenP")]).run()
    assert run.wire("rest", "/uapi/domestic-stock/v1/quotations/inquire-price", 10, 0.0) is None
    assert run.wire("ws", "tokenP", 10, 0.0) is None
    plan = run.wire("rest", "/oauth2/tokenP", 10, 0.0)
    assert plan is not None and plan.at == 3.0


def test_timeout_holds_rest_until_removed_or_for_close_after() -> None:
    forever = faults.Scenario([faults.Timeout()]).run().wire("rest", "/x", 1, 10.0)
    assert forever is not None and forever.hold_until == float("inf")
    bounded = faults.Scenario([faults.Timeout(close_after_s=5)]).run().wire("rest", "/x", 1, 10.0)
    assert bounded is not None and bounded.hold_until == 15.0
    assert faults.Scenario([faults.Timeout(on="ws")]).run().wire("rest", "/x", 1, 10.0) is None


def test_slicer_plan_names_the_piece_size() -> None:
    (plan,) = _plans(faults.Slicer(size=8, delay_s=0.25), [100])
    assert (plan.slice_size, plan.slice_gap, plan.at) == (8, 0.25, 0.0)


def test_a_running_scenario_adds_and_removes_faults_with_fresh_state() -> None:
    run = faults.Scenario([faults.DropAfter()]).run()
    assert [x["id"] for x in run.listing()] == [1]
    new = run.add(faults.TokenThrottle(times=1))
    assert new == 2 and [x["fault"] for x in run.listing()] == ["drop", "token-throttle"]
    assert run.rest("token", 0.0) is not None and run.rest("token", 0.0) is None  # its own counter
    assert run.remove(99) == 0 and run.remove(1) == 1
    assert [x["id"] for x in run.listing()] == [2]
    assert run.add(faults.TokenThrottle(times=1)) == 3  # ids are never reused
    assert run.rest("token", 0.0) is not None  # the new one starts fresh
    assert run.remove() == 2 and not run
