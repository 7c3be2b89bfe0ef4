"""One spec for both REST limiters: today's in-process `Pacer` (gateway/rest.py) and the shared GCRA
(gateway/coord/gcra.py, whose arithmetic the Redis script repeats). Calls arrive at times drawn by
Hypothesis on a manual clock; each is granted a slot (now + wait) or refused."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.coord.gcra import Gcra, interval_us, reserve
from gateway.rest import Pacer, RestError


class StepClock:
    """A clock the test sets; `sleep_until` notes the slot and returns at once (no event loop needed)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept_to: float | None = None

    def now(self) -> float:
        return self.t

    async def sleep_until(self, deadline: float) -> None:
        self.slept_to = deadline

    async def sleep_until_precise(self, deadline: float) -> None:
        self.slept_to = deadline

    async def follow(self) -> None:  # pragma: no cover - not used
        return None


def _drive(coro: object) -> None:
    try:
        coro.send(None)  # type: ignore[attr-defined]
    except StopIteration:
        return
    raise AssertionError("the limiter awaited something other than the clock")


def pacer_grants(rps: float, max_wait: float, calls: list[float]) -> list[float | None]:
    clock = StepClock()
    p = Pacer(rps, clock, max_wait)  # type: ignore[arg-type]
    out: list[float | None] = []
    for t in calls:
        clock.t, clock.slept_to = t, None
        try:
            _drive(p.acquire())
        except RestError as e:
            assert e.code == "budget"
            out.append(None)
            continue
        out.append(t if clock.slept_to is None else clock.slept_to)
    return out


def gcra_grants(rps: float, max_wait: float, calls: list[float]) -> list[float | None]:
    g = Gcra(rps, max_wait)
    out: list[float | None] = []
    for t in calls:
        w = g.acquire(t)
        out.append(None if w is None else t + w)
    return out


LIMITERS = {"pacer": pacer_grants, "gcra": gcra_grants}
EPS = 1e-6


def _calls(draw_gaps: list[float]) -> list[float]:
    t, out = 0.0, []
    for gap in draw_gaps:
        t += gap
        out.append(round(t, 6))
    return out


gaps = st.lists(st.sampled_from([0.0, 0.0, 0.0, 0.01, 0.05, 0.3, 1.0, 2.5]), min_size=1, max_size=120)


@pytest.mark.parametrize("kind", LIMITERS)
@settings(max_examples=150, deadline=None)
@given(rps=st.sampled_from([1.0, 2.0, 5.0, 18.0]), max_wait=st.sampled_from([0.5, 2.0]), g=gaps)
def test_integer_rates_never_exceed_the_budget_in_any_second(
    kind: str, rps: float, max_wait: float, g: list[float]
) -> None:
    grants = [x for x in LIMITERS[kind](rps, max_wait, _calls(g)) if x is not None]
    for i, start in enumerate(grants):
        inside = sum(1 for x in grants[i:] if x < start + 1.0 - EPS)
        assert inside <= rps, f"{inside} grants within 1 s of {start}"


@pytest.mark.parametrize("kind", LIMITERS)
@settings(max_examples=150, deadline=None)
@given(rps=st.sampled_from([0.5, 1.0, 2.5, 18.0]), max_wait=st.sampled_from([0.0, 0.5, 2.0]), g=gaps)
def test_grants_are_ordered_never_early_and_never_wait_past_max_wait(
    kind: str, rps: float, max_wait: float, g: list[float]
) -> None:
    calls = _calls(g)
    grants = LIMITERS[kind](rps, max_wait, calls)
    last = -math.inf
    for t, x in zip(calls, grants, strict=True):
        if x is None:
            continue
        assert t - EPS <= x <= t + max_wait + EPS
        assert x >= last - EPS, "a later call was granted an earlier slot"
        last = x


@pytest.mark.parametrize("kind", LIMITERS)
@settings(max_examples=150, deadline=None)
@given(rps=st.sampled_from([0.5, 1.0, 2.5, 18.0]), g=gaps)
def test_a_call_after_a_quiet_window_goes_at_once(kind: str, rps: float, g: list[float]) -> None:
    calls = _calls(g)
    grants = LIMITERS[kind](rps, 2.0, calls)
    window = max(1.0, 1.0 / rps) + EPS
    last = -math.inf
    for t, x in zip(calls, grants, strict=True):
        if t >= last + window:
            assert x == pytest.approx(t), "an idle limiter made a call wait"
        if x is not None:
            last = max(last, x)


@pytest.mark.parametrize("kind", LIMITERS)
@pytest.mark.parametrize("rps", [1.0, 2.5, 18.0])
def test_a_saturating_caller_gets_the_rate(kind: str, rps: float) -> None:
    """Not too careful either: back-to-back callers for 20 s get at least rps * 20 - burst grants."""
    calls = [i * 0.001 for i in range(20_000)]
    grants = [x for x in LIMITERS[kind](rps, 2.0, calls) if x is not None and x < 20.0]
    assert len(grants) >= rps * 20 - max(1, int(rps)) - 1


def test_refusals_match_the_max_wait_rule_exactly() -> None:
    assert reserve(None, 0, interval_us(2.0), 0).wait_us == 0
    g = reserve(500_000, 0, 500_000, 499_999)
    assert g.wait_us == -1 and g.tat_us == 500_000  # refused: nothing consumed
    assert reserve(500_000, 0, 500_000, 500_000).wait_us == 500_000


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_a_rate_that_is_not_positive_and_finite_is_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        interval_us(bad)
