"""Synthetic records in the layout of a given day (fakekis/wire/layouts.py).

The generator (fakekis/tape/synth.py) builds every record in the oldest layout (46-field trades,
59-field books); `EraWriter` appends the fields later eras added, with values a real frame of that
day would carry:

- `MARKET_CLS_CODE` (47th trade field, 63rd book field): `2`, the regular session. The generator
  writes regular-session records only (`NEW_MKOP_CLS_CODE` `20`, `HOUR_CLS_CODE` `0`), and `2` is
  what every capture carries (docs/kis/real-frames.md item 1).
- `KMID_PRC`: (best ask + best bid) / 2, as in every 62-field capture (e.g. 66000/65900 -> 65950);
  rounded down when the sum is odd (the captures have no odd case).
- `KMID_TOTAL_RSQN`, `KMID_CLS_CODE`: resting quantity at the mid price and its code. Captures show
  `0^0` (nothing resting) and `4927^2`, `4^1`; the codes' meaning is undocumented, so half the books
  have nothing resting and the rest a quantity with `1` or `2`.

The random draws come from a stream of their own, so a seed gives the same trades and books (the
first 46/59 fields) in every era: only the appended fields differ.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date

from fakekis.wire import layouts

_SALT = 0x4B4D4944  # "KMID": keeps this stream apart from the generator's


class EraWriter:
    """Extends base-layout records to the layouts in force on `day`."""

    def __init__(self, day: date, seed: int) -> None:
        self.day = day
        self.trades = layouts.layout("H0STCNT0", day)
        self.books = layouts.layout("H0STASP0", day)
        self._rng = random.Random(seed ^ _SALT)

    def widths(self, books: bool = True) -> dict[str, int]:
        out = {"H0STCNT0": self.trades.width}
        if books:
            out["H0STASP0"] = self.books.width
        return out

    def trade(self, record: list[str]) -> list[str]:
        return self._extend(record, self.trades, {layouts.MARKET_CLS_CODE: lambda r: "2"})

    def book(self, record: list[str]) -> list[str]:
        resting = self._rng.random() < 0.5
        qty = str(self._rng.randint(1, 5_000)) if resting else "0"
        code = self._rng.choice("12") if resting else "0"
        return self._extend(
            record,
            self.books,
            {
                "KMID_PRC": lambda r: str((int(r[3]) + int(r[13])) // 2),  # ASKP1, BIDP1
                "KMID_TOTAL_RSQN": lambda r: qty,
                "KMID_CLS_CODE": lambda r: code,
                layouts.MARKET_CLS_CODE: lambda r: "2",
            },
        )

    @staticmethod
    def _extend(
        record: list[str], lay: layouts.Layout, fill: dict[str, Callable[[list[str]], str]]
    ) -> list[str]:
        base = layouts.eras(lay.tr_id)[0].width
        if len(record) != base:
            raise ValueError(f"{lay.tr_id}: expected a {base}-field base record, got {len(record)}")
        return record + [fill[name](record) for name in lay.names[base:]]
