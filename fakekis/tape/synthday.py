"""`synth.generate` as a stream, byte for byte: the same seed and arguments give the same session.json and
the same ws lines, but the lines are made as they are written, so a full day of 41 symbols (millions of
frames) never sits in a list. `fakekis generate` (without `--venues`) writes through this, and
`synth.generate` lists it.

How the same random numbers come out in the same order without holding the events: the list generator drew
every event time from one `random.Random`, stream after stream (each symbol's trades, then its books,
then the pings), sorted them, and drew the batch sizes from the same generator in time order. Here a first
pass draws the times the same way but keeps only each stream's starting state and first order number;
then each stream is drawn again lazily from its state, `heapq.merge` puts them in the order the sort
gave (time, then draw order), and the batch sizes come from the generator where the first pass left it.
Time: the times are drawn twice. Memory: one state per stream.

KRX hours only: regular-session trades and books (and PINGPONG); NXT pre/after-market sessions are a venue
option of `synth` (docs/recordings.md says what is there).

Pure: values in, lines out.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from fakekis.tape import synth
from fakekis.tape.eras import EraWriter
from fakekis.tape.format import WsLine
from fakekis.wire import frames
from kisclock import KST

BOOK_RATE = 0.7  # book frames per second per symbol (after a first one within 1.5 s)

_Event = tuple[float, int, str, str]  # (t, draw order, kind, code): the list generator's sort key first


def generate(
    start: datetime,
    minutes: float = 10.0,
    symbols: tuple[synth.SymbolSpec, ...] = synth.DEFAULT_SYMBOLS,
    seed: int = 0,
    books: bool = True,
    env: str = "mock",
    ping_every: float = 20.0,
    batch_probability: float = 0.12,
    layout_day: date | None = None,
) -> tuple[dict[str, object], Iterator[WsLine]]:
    """session.json and a lazy iterator of ws lines (the arguments are `synth.generate`'s)."""
    if start.tzinfo is None:
        raise ValueError("start must carry a UTC offset")
    if not 0 < minutes <= synth.MAX_MINUTES:  # False for NaN too
        raise ValueError(f"minutes must be more than 0 and at most {synth.MAX_MINUTES} (got {minutes!r})")
    if not symbols:
        raise ValueError("at least one symbol")
    era = EraWriter(layout_day or start.astimezone(KST).date(), seed)
    subs = [("H0STCNT0", s.code) for s in symbols] + (
        [("H0STASP0", s.code) for s in symbols] if books else []
    )
    session = synth.session_header(
        env,
        start,
        subs,
        {"tool": "fakekis generate", "seed": seed, "minutes": minutes, "books": books},
        era.widths(books),
        era.day,
        "Synthetic session from fakekis's seeded generator; field invariants of docs/kis/protocol.md §5.1 "
        "hold. Record layouts of ",
    )
    return session, _lines(
        start, minutes * 60.0, symbols, seed, books, subs, ping_every, batch_probability, era
    )


def _lines(
    start: datetime,
    duration: float,
    symbols: tuple[synth.SymbolSpec, ...],
    seed: int,
    books: bool,
    subs: list[tuple[str, str]],
    ping_every: float,
    batch: float,
    era: EraWriter,
) -> Iterator[WsLine]:
    rng = random.Random(seed)
    tapes = {s.code: synth._Tape(s, random.Random(rng.getrandbits(64)), start) for s in symbols}
    head, t = synth.subscribed(subs, rng)
    yield from head  # open, subscriptions and acks
    last = head[-1].t
    first = t + 0.1
    streams: list[Iterator[_Event]] = []
    order = 0
    for s in symbols:  # pass 1: the draws of the list generator, keeping where each stream starts
        kinds = [("trade", s.trades_per_second)] + ([("book", BOOK_RATE)] if books else [])
        for kind, rate in kinds:
            state = rng.getstate()
            n = sum(1 for _ in _times(rng, kind, first, rate, duration))
            streams.append(_events(state, kind, s.code, first, rate, duration, order))
            order += n
    for at, _, kind, code in heapq.merge(*streams, _pings(ping_every, duration, order)):
        now = start + timedelta(seconds=at)
        last = round(at, 3)
        if kind == "ping":
            text = frames.pingpong(now.strftime("%Y%m%d%H%M%S"))
        elif kind == "book":
            text = frames.data_frame("H0STASP0", [era.book(tapes[code].book(now))])
        else:
            # Several trades of one symbol in one instant (a sweep, or batching at busy moments) arrive
            # as one multi-record frame: `0|H0STCNT0|003|...`.
            n = 1 + (rng.choice((1, 1, 2, 3)) if rng.random() < batch else 0)
            text = frames.data_frame("H0STCNT0", [era.trade(tapes[code].trade(now)) for _ in range(n)])
        yield WsLine(last, "recv", text)
    # Many symbols in a short session: the subscriptions alone can outlast `minutes`; t never decreases.
    yield WsLine(max(round(duration, 3), last), event="close", code=1000, reason="recording ended")


def _times(rng: random.Random, kind: str, first: float, rate: float, duration: float) -> Iterator[float]:
    """One stream's event times, drawn as the list generator drew them."""
    at = first + (rng.expovariate(rate) if kind == "trade" else rng.uniform(0, 1.5))
    while at < duration:
        yield at
        at += rng.expovariate(rate)


def _events(
    state: tuple[object, ...], kind: str, code: str, first: float, rate: float, duration: float, base: int
) -> Iterator[_Event]:
    rng = random.Random()
    rng.setstate(state)
    for i, at in enumerate(_times(rng, kind, first, rate, duration)):
        yield at, base + i, kind, code


def _pings(every: float, duration: float, base: int) -> Iterator[_Event]:
    """PINGPONG at every, 2 x every, ... (summed, as the list generator summed them) while below `duration`."""
    at, i = every, 0
    while at < duration:
        yield at, base + i, "ping", ""
        at += every
        i += 1
