"""Jepsen-style checkers over fakekis's ledger (`GET /__fakekis/history`) and the Stream consumer's log
(docs/scaling.md, "Checkers"). Pure functions: histories in, a list of problems out (empty = passed).

Consumer log entries: `{"run": n, "id": stream id, "k": kind, "e": epoch, "r": ms, "symbol", "acml_vol"}`;
`run` counts Redis runs (a restart without persistence starts a new stream and new epochs)."""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections import Counter, defaultdict
from typing import Any

Entry = dict[str, Any]


def no_dual_session(ledger: list[Entry]) -> list[str]:
    """Per appkey, the intervals [owner registered, closed) never overlap."""
    opened: dict[int, tuple[str, float]] = {}
    spans: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    end = max((e["t"] for e in ledger), default=0.0)
    for e in ledger:
        if e["kind"] == "session-owner":
            opened[e["session"]] = (e["appkey"], e["t"])
        elif e["kind"] == "session-close" and e["session"] in opened:
            appkey, t0 = opened.pop(e["session"])
            spans[appkey].append((t0, e["t"], e["session"]))
    for s, (appkey, t0) in opened.items():
        spans[appkey].append((t0, end + 1, s))
    problems = []
    for appkey, xs in spans.items():
        xs.sort()
        for a, b in itertools.pairwise(xs):
            if b[0] < a[1]:
                problems.append(
                    f"{appkey}: session {b[2]} registered at {b[0]} while {a[2]} lived until {a[1]}"
                )
    return problems


def fenced(log: list[Entry]) -> list[str]:
    """Within one Redis run, epochs never go down along the stream."""
    problems = []
    for run, xs in itertools.groupby(log, key=lambda e: e["run"]):
        top = 0
        for e in xs:
            if e["e"] < top:
                problems.append(f"run {run}: entry {e['id']} from epoch {e['e']} after epoch {top}")
            top = max(top, e["e"])
    return problems


def gaps(log: list[Entry], slack_s: float) -> list[tuple[float, float]]:
    """Declared gaps in seconds: from the entry before each `gap-start` (the last thing relayed before it)
    to the next `gap-end`, widened by `slack_s` for the replicas' view of the clock lagging fakekis's."""
    out: list[tuple[float, float]] = []
    prev_r: float | None = None
    start: float | None = None
    for e in log:
        r = e["r"] / 1000
        if e["k"] == "gap-start" and start is None:
            start = prev_r if prev_r is not None else 0.0
        elif e["k"] == "gap-end" and start is not None:
            out.append((start - slack_s, r + slack_s))
            start = None
        prev_r = r
    if start is not None:
        out.append((start - slack_s, float("inf")))
    return out


def no_lost_ticks(
    ledger: list[Entry], log: list[Entry], until: float, slack_s: float = 1.0
) -> tuple[list[str], dict[str, int]]:
    """Every H0STCNT0 record fakekis sent to a registered owner before `until` is in the stream, unless it
    was emitted inside a declared gap; no record is in the stream twice; nothing unexpected."""
    sent = {
        (e["symbol"], e["acml_vol"]): e["t"]
        for e in ledger
        if e["kind"] == "data" and e.get("acml_vol") is not None
    }
    got = Counter((e["symbol"], e["acml_vol"]) for e in log if e["k"] == "data")
    declared = gaps(log, slack_s)
    lost = [
        k
        for k, t in sent.items()
        if t <= until and k not in got and not any(a <= t <= b for a, b in declared)
    ]
    in_gaps = sum(1 for k, t in sent.items() if k not in got and any(a <= t <= b for a, b in declared))
    dups = sum(n - 1 for n in got.values() if n > 1)
    unexpected = [k for k in got if k not in sent]
    lost.sort(key=lambda k: sent[k])
    problems = (
        [f"lost outside gaps: {[(k, sent[k]) for k in lost[:6]]} ({len(lost)}); gaps {declared}"]
        if lost
        else []
    )
    if dups:
        problems.append(f"{dups} records relayed twice")
    if unexpected:
        problems.append(f"records fakekis never sent: {unexpected[:5]}")
    return problems, {"sent": len(sent), "relayed": len(got), "lost_in_gaps": in_gaps, "gaps": len(declared)}


def token_rate(ledger: list[Entry]) -> list[str]:
    """Per appkey, successful tokenP calls are >= 60 s apart, and none was refused with EGW00133."""
    by: dict[str, list[float]] = defaultdict(list)
    problems = []
    for e in ledger:
        if e["kind"] == "oauth" and e["call"] == "token":
            if e["code"] == "EGW00133":
                problems.append(f"{e['appkey']}: EGW00133 at {e['t']}")
            elif e["status"] == 200:
                by[e["appkey"]].append(e["t"])
    for appkey, ts in by.items():
        for a, b in itertools.pairwise(sorted(ts)):
            if b - a < 60:
                problems.append(f"{appkey}: tokenP at {a} and {b}")
    return problems


def rest_budget(ledger: list[Entry], budget: int) -> list[str]:
    per: Counter[tuple[str, int]] = Counter()
    problems = []
    for e in ledger:
        if e["kind"] == "rest":
            if e["code"] == "EGW00201":
                problems.append(f"{e['appkey']}: EGW00201 at {e['t']}")
            per[(e["appkey"], e["second"])] += 1
    problems += [
        f"{k[0]}: {n} REST calls in second {k[1]} (budget {budget})" for k, n in per.items() if n > budget
    ]
    return problems


def handshakes(ledger: list[Entry]) -> dict[str, int]:
    opens = sum(1 for e in ledger if e["kind"] == "session-open")
    owners = sum(1 for e in ledger if e["kind"] == "session-owner")
    refused = sum(1 for e in ledger if e["kind"] == "ack" and e["code"] == "OPSP8996")
    return {"session_opens": opens, "owners": owners, "opsp8996": refused}


def handshakes_per_failover(
    ledger: list[Entry], failovers: list[tuple[str, float]], limit: int = 2
) -> tuple[list[str], list[int]]:
    """WebSocket handshakes at fakekis (`session-open`) after each nemesis op, `(op, clock time)` in order, up
    to the next op (the last one: to the end of the ledger) are <= `limit`: a failover may cost a refused
    attempt and a good one, never a storm (F13). The harness runs one appkey, so every handshake is its.
    Returns the problems and the count per failover."""
    opens = sorted(e["t"] for e in ledger if e["kind"] == "session-open")
    counts, problems = [], []
    for i, (op, t0) in enumerate(failovers):
        t1 = failovers[i + 1][1] if i + 1 < len(failovers) else float("inf")
        n = sum(1 for t in opens if t0 <= t < t1)
        counts.append(n)
        if n > limit:
            problems.append(f"{op} at {t0}: {n} handshakes before the next op (limit {limit})")
    return problems, counts


def no_storm(ledger: list[Entry], max_connects: int = 3, window_s: float = 10.0) -> list[str]:
    """No window of `window_s` clock seconds holds more than `max_connects` WebSocket handshakes: the
    defaults are fakekis's reconnect-lockout fault (F13), so a gateway that passes never gets an appkey
    locked out by KIS's storm rule, whatever the nemesis did (a zombie's OPSP8996 included)."""
    opens = sorted(e["t"] for e in ledger if e["kind"] == "session-open")
    problems = []
    for i, t in enumerate(opens):
        j = bisect_left(opens, t + window_s)
        if j - i > max_connects:
            problems.append(f"{j - i} handshakes within {window_s} s from {t} (limit {max_connects})")
            break
    return problems
