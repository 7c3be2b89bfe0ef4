"""The shard planner: <= 41 registrations per appkey (each TR counts), a symbol's TRs on one appkey,
stability when symbols are added or appkeys removed, REST overflow by priority, and determinism."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.coord.plan import CAP, REST, Want, loads, plan

TRS = [("H0STCNT0",), ("H0STCNT0", "H0STASP0")]
wants = st.lists(
    st.builds(
        Want,
        symbol=st.integers(0, 999).map(lambda i: f"{i:06d}"),
        trs=st.sampled_from(TRS),
        priority=st.integers(0, 3),
    ),
    max_size=160,
    unique_by=lambda w: w.symbol,
)
keys = st.lists(st.sampled_from([f"k{i}" for i in range(6)]), min_size=0, max_size=5, unique=True)


def _check(p: dict[str, str], ws: list[Want], ks: list[str]) -> None:
    assert set(p) == {w.symbol for w in ws}
    assert all(v == REST or v in ks for v in p.values())
    assert all(n <= CAP for n in loads(p, ws).values())
    free = {k: CAP - loads(p, ws).get(k, 0) for k in ks}
    for w in ws:  # spare capacity is used before REST
        if p[w.symbol] == REST:
            assert all(f < w.weight for f in free.values()), f"{w.symbol} on REST while an appkey has room"


@settings(max_examples=200, deadline=None)
@given(ws=wants, ks=keys)
def test_every_plan_fits_the_cap_and_uses_spare_room_first(ws: list[Want], ks: list[str]) -> None:
    _check(plan(ws, ks), ws, ks)


@settings(max_examples=200, deadline=None)
@given(ws=wants, ks=keys, seed=st.integers(0, 1000))
def test_the_plan_does_not_depend_on_input_order(ws: list[Want], ks: list[str], seed: int) -> None:
    shuffled, sk = ws[:], ks[:]
    random.Random(seed).shuffle(shuffled)
    random.Random(seed + 1).shuffle(sk)
    assert plan(ws, ks) == plan(shuffled, sk)


@settings(max_examples=200, deadline=None)
@given(ws=wants, ks=keys, extra=st.integers(1000, 1999), trs=st.sampled_from(TRS), prio=st.integers(0, 3))
def test_adding_a_symbol_moves_no_placed_symbol(
    ws: list[Want], ks: list[str], extra: int, trs: tuple[str, ...], prio: int
) -> None:
    before = plan(ws, ks)
    new = Want(f"{extra:06d}", trs, prio)
    after = plan([*ws, new], ks, before)
    for s, where in before.items():
        if where != REST:
            assert after[s] == where, f"{s} moved from {where} to {after[s]}"
    _check(after, [*ws, new], ks)


@settings(max_examples=200, deadline=None)
@given(ws=wants, ks=keys.filter(lambda k: len(k) >= 2), pick=st.integers(0, 10))
def test_removing_an_appkey_moves_only_its_own_symbols(ws: list[Want], ks: list[str], pick: int) -> None:
    before = plan(ws, ks)
    gone = ks[pick % len(ks)]
    rest_keys = [k for k in ks if k != gone]
    after = plan(ws, rest_keys, before)
    for s, where in before.items():
        if where not in (gone, REST):
            assert after[s] == where
    _check(after, ws, rest_keys)


@settings(max_examples=200, deadline=None)
@given(ws=wants, ks=keys)
def test_overflow_goes_to_rest_by_priority(ws: list[Want], ks: list[str]) -> None:
    """With one TR per symbol and no previous plan, no REST symbol outranks a placed one."""
    ws = [Want(w.symbol, ("H0STCNT0",), w.priority) for w in ws]
    p = plan(ws, ks)
    placed = [w.priority for w in ws if p[w.symbol] != REST]
    rested = [w.priority for w in ws if p[w.symbol] == REST]
    if placed and rested:
        assert min(placed) >= max(rested)


def test_a_symbols_trs_stay_together_and_count_each() -> None:
    ws = [Want(f"{i:06d}", ("H0STCNT0", "H0STASP0")) for i in range(21)]
    p = plan(ws, ["a"])
    assert list(p.values()).count(REST) == 1  # 20 x 2 = 40 fit, the 21st would make 42
    assert loads(p, ws) == {"a": 40}


def test_100_symbols_over_3_appkeys_and_130_overflowing() -> None:
    ws = [Want(f"{i:06d}", priority=i % 5) for i in range(100)]
    assert sorted(loads(plan(ws, ["a", "b", "c"]), ws).values()) == [33, 33, 34]
    ws130 = [Want(f"{i:06d}", priority=i % 5) for i in range(130)]
    p = plan(ws130, ["a", "b", "c"])
    assert list(p.values()).count(REST) == 7
    assert {w.priority for w in ws130 if p[w.symbol] == REST} == {0}
