"""The shared token's issuance gate: any interleaving of replicas claiming, failing and storing tokens on
a manual clock issues at most one tokenP per appkey per 61 s, and a refused token is dropped only if it
is still the stored one."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.coord.tokengate import GATE_S, REFRESH_MARGIN, Issue, TokenTable, Use, Wait, decide

steps = st.lists(
    st.tuples(st.floats(0, 90), st.sampled_from(["claim", "issued", "failed", "rejected"])),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(steps=steps)
def test_at_most_one_issuance_per_gate_window(steps: list[tuple[float, str]]) -> None:
    table, now, issued_at, pending, n = TokenTable(), 0.0, [], False, 0
    for gap, op in steps:
        now += gap
        if op == "claim":
            d = table.claim("k", now)
            if isinstance(d, Issue):
                issued_at.append(now)
                pending = True
        elif op == "issued" and pending:
            n += 1
            table.store("k", f"tok{n}", now + 86_400)
            pending = False
        elif op == "failed":
            pending = False
        elif op == "rejected" and "k" in table.tokens:
            table.drop("k", table.tokens["k"][0])
    for a, b in itertools.pairwise(issued_at):
        assert b - a >= GATE_S


def test_decisions() -> None:
    assert decide(0.0, ("t", 1000.0), None) == Use("t", 1000.0)
    assert decide(500.0, ("t", 1000.0), None) == Issue()  # less than the margin left
    assert decide(500.0, ("t", 1000.0), 450.0) == Wait(450.0 + GATE_S)
    assert decide(0.0, None, -GATE_S) == Issue()
    assert REFRESH_MARGIN == 600.0


def test_compare_and_delete_keeps_a_fresher_token() -> None:
    t = TokenTable()
    t.store("k", "old", 100.0)
    t.store("k", "new", 200.0)
    assert not t.drop("k", "old") and t.tokens["k"] == ("new", 200.0)
    assert t.drop("k", "new") and "k" not in t.tokens
