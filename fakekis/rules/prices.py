"""KRX price rules as pure functions: the tick size (호가단위) and the daily price limits (상/하한가).

The synthetic generator keeps its prices on these ticks and inside these limits, and the exchange's market state
reports them in inquire-price (`aspr_unit`, `stck_mxpr`, `stck_llam`); orders will be checked against them.
"""

from __future__ import annotations

_TICKS = ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100), (500_000, 500))


def tick_size(price: int) -> int:
    """KRX tick size (호가단위) for stocks since 2023."""
    for bound, tick in _TICKS:
        if price < bound:
            return tick
    return 1_000


def limit_prices(prev_close: int) -> tuple[int, int]:
    up, down = prev_close * 13 // 10, -(-prev_close * 7 // 10)
    return up - up % tick_size(up), down + (-down % tick_size(down))
