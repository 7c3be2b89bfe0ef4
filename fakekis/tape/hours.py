"""Which session each venue is in at a KST wall time, as fakekis's market-day tapes play it.

KRX (docs/kis/protocol.md §6): the opening call auction 08:30–09:00, continuous trading 09:00–15:20, the
closing call auction 15:20–15:30. NXT (docs/kis/endpoints.md §D3, [reported]): pre-market 08:00–08:50,
main market 09:00–15:20, after-market 15:30–20:00; no NXT trading in the ten minutes before KRX's open nor
during KRX's closing auction. Bounds are [from, to). Holidays are not this module's business: a tape is
generated for the day it is asked for.

The KRX after-market of 2026-09-14 (16:00–20:00 on the regular TRs, reported) is not played: a KRX
subscriber sees nothing after 15:30, as before it.
"""

from __future__ import annotations

from datetime import time

Window = tuple[time, time]

KRX: dict[str, Window] = {
    "open-auction": (time(8, 30), time(9, 0)),
    "continuous": (time(9, 0), time(15, 20)),
    "close-auction": (time(15, 20), time(15, 30)),
}
NXT: dict[str, Window] = {
    "pre": (time(8, 0), time(8, 50)),
    "main": (time(9, 0), time(15, 20)),
    "after": (time(15, 30), time(20, 0)),
}
AUCTIONS = ("open-auction", "close-auction")
# MARKET_CLS_CODE (docs/kis/protocol.md §5.1): 1 pre, 2 regular, 3 after-market, 5 closing.
MARKET_CLS = {"pre": "1", "main": "2", "continuous": "2", "after": "3", "close-auction": "5"}


def _phase(table: dict[str, Window], at: time) -> str | None:
    return next((name for name, (a, b) in table.items() if a <= at < b), None)


def krx_phase(at: time) -> str | None:
    """`open-auction`, `continuous`, `close-auction`, or None (KRX quiet)."""
    return _phase(KRX, at)


def nxt_phase(at: time) -> str | None:
    """`pre`, `main`, `after`, or None (NXT quiet)."""
    return _phase(NXT, at)
