"""A loaded `Recording` seen as a frame source: what `stream.Tape` offers the player and REST (`frames`,
`first_trades`, `warmup`, `frame_count`), from the list already in memory. Small tapes and tests.
"""

from __future__ import annotations

from collections.abc import Collection

from fakekis.tape.format import Recording, TapeFrame


class ListSource:
    def __init__(self, rec: Recording) -> None:
        self.list = rec.data_frames()

    def frame_count(self) -> int:
        return len(self.list)

    def first_trades(self) -> dict[str, TapeFrame]:
        out: dict[str, TapeFrame] = {}
        for f in self.list:
            if f.tr_id == "H0STCNT0":
                out.setdefault(f.tr_key, f)
        return out

    def warmup(self, start: float) -> list[TapeFrame]:
        return [f for f in self.list if f.t < start and f.tr_id == "H0STCNT0"]

    def frames(self, start: float, until: float, symbols: Collection[str] | None) -> list[TapeFrame]:
        if start <= 0 and until == float("inf") and symbols is None:
            return self.list
        return [f for f in self.list if start <= f.t <= until and (symbols is None or f.tr_key in symbols)]
