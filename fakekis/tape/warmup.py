"""What `serve --from T` reads to start REST where a replay from the top would be at T: the index's market
checkpoints up to the block that holds T, and the data frames from that checkpoint to T (`t < T`). The
exchange restores the checkpoints and folds the frames (exchange/warm.py); this reads, it decides nothing.

A tape whose index was written without market state (an older index) is read from the top instead: the
same answers, slower; `fakekis index` adds the state.

Pure: files in, values out.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from fakekis.tape.format import TapeFrame
from fakekis.tape.source import ListSource
from fakekis.tape.stream import Tape


@dataclass
class WarmStart:
    states: list[str]  # the market checkpoints' texts, oldest first (empty: start from nothing)
    frames: Iterator[TapeFrame]  # then these, in tape order, all before T
    from_top: bool  # True when the frames start at the top of the tape
    indexed_state: bool  # False: the tape's index carries no market state (read from the top)


def warm_start(source: Tape | ListSource, start: float) -> WarmStart:
    if isinstance(source, ListSource) or source.index is None:
        frames = source.frames(0.0, math.inf, None) if isinstance(source, ListSource) else source.frames()
        return WarmStart([], _before(iter(frames), start), True, False)
    idx = source.index
    if idx.market is None:
        return WarmStart([], _before(source.frames(), start), True, False)
    block, states = idx.market_for(idx.block_for(start))
    frames = source.frames(0.0, math.inf, block=block) if block else source.frames()
    return WarmStart(states, _before(frames, start), not block, True)


def _before(frames: Iterator[TapeFrame], start: float) -> Iterator[TapeFrame]:
    for f in frames:
        if f.t >= start:
            return
        yield f
