"""Which appkey carries which symbol: a pure, deterministic planner (docs/scaling.md, "Sharding").

KIS allows 41 registrations per session, and each (tr_id, symbol) pair counts (docs/kis/protocol.md, F4), so
a symbol with H0STCNT0 and H0STASP0 weighs 2. A symbol's TRs stay on one appkey. Rules, in order:
1. keep every previous placement whose appkey still exists and still has room;
2. place the rest by priority (highest first, then symbol) on the appkey with the most free registrations,
   ties broken by a rendezvous hash of (symbol, appkey), so no state is needed to reproduce a plan;
3. what fits nowhere goes to the REST tier, `REST`.

So adding one symbol moves no placed symbol, removing an appkey moves only that appkey's symbols, and a
symbol goes to REST only when no appkey has room for it. Inputs in any order give the same plan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CAP = 41
REST = "rest"


@dataclass(frozen=True, slots=True)
class Want:
    symbol: str
    trs: tuple[str, ...] = ("H0STCNT0",)
    priority: int = 0

    @property
    def weight(self) -> int:
        return len(set(self.trs))


def _score(symbol: str, appkey: str) -> bytes:
    return hashlib.sha256(f"{symbol}\0{appkey}".encode()).digest()


def plan(
    desired: Iterable[Want],
    appkeys: Iterable[str],
    previous: Mapping[str, str] | None = None,
    cap: int = CAP,
) -> dict[str, str]:
    """symbol -> appkey id (or `REST`). `appkeys` are opaque ids (the hashed ones, never raw appkeys)."""
    wants = {w.symbol: w for w in desired}
    keys = sorted(set(appkeys))
    free = dict.fromkeys(keys, cap)
    order = sorted(wants.values(), key=lambda w: (-w.priority, w.symbol))
    out: dict[str, str] = {}
    for w in order:  # 1. keep what still fits where it was
        where = (previous or {}).get(w.symbol)
        if where in free and free[where] >= w.weight:
            free[where] -= w.weight
            out[w.symbol] = where
    for w in order:  # 2. place the rest; 3. overflow
        if w.symbol in out:
            continue
        fits = [k for k in keys if free[k] >= w.weight]
        if not fits:
            out[w.symbol] = REST
            continue
        best = max(fits, key=lambda k: (free[k], _score(w.symbol, k)))
        free[best] -= w.weight
        out[w.symbol] = best
    return out


def loads(placed: Mapping[str, str], wants: Iterable[Want]) -> dict[str, int]:
    """Registrations per appkey in a plan."""
    weight = {w.symbol: w.weight for w in wants}
    total: dict[str, int] = {}
    for symbol, where in placed.items():
        if where != REST:
            total[where] = total.get(where, 0) + weight[symbol]
    return total
