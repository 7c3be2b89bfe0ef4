"""`synth.generate` as a stream: the same records (`synth._Tape`, the same invariants and layouts), but each
symbol's trades and books come from their own seeded generator and are merged by time as they are written,
so a full day of 41 symbols (millions of frames) never sits in a list. `fakekis generate` writes through
this; `synth.generate` stays for callers that want the list (and its exact sequence for a seed).

KRX hours only: this generator writes the regular session's trades and books (and PINGPONG); NXT
pre/after-market sessions are a venue option of `synth` (docs/recordings.md says what is there).

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
    book_rate: float = 0.7,
) -> tuple[dict[str, object], Iterator[WsLine]]:
    """session.json and a lazy iterator of ws lines; the arguments are `synth.generate`'s."""
    session, head = synth.generate(
        start, min(minutes, 1e-3), symbols, seed, books, env, ping_every, batch_probability, layout_day
    )
    gen = session["generator"]
    assert isinstance(gen, dict)
    gen.update(minutes=minutes, streamed=True)
    return session, _lines(
        head[:-1],
        start,
        minutes * 60.0,
        symbols,
        seed,
        books,
        ping_every,
        batch_probability,
        layout_day,
        book_rate,
    )


def _lines(
    head: list[WsLine],
    start: datetime,
    duration: float,
    symbols: tuple[synth.SymbolSpec, ...],
    seed: int,
    books: bool,
    ping_every: float,
    batch: float,
    layout_day: date | None,
    book_rate: float,
) -> Iterator[WsLine]:
    yield from head  # open, subscriptions and acks
    first = head[-1].t + 0.1
    era = EraWriter(layout_day or start.astimezone(KST).date(), seed)
    rng = random.Random(seed ^ 0x5EED)
    # Each stream yields only times; the record is made when its time comes, so a book never shows
    # the volume of a trade that comes after it.
    streams: list[Iterator[tuple[float, int]]] = []
    makers: list[tuple[str, synth._Tape, random.Random]] = []
    for s in symbols:
        tape = synth._Tape(s, random.Random(rng.getrandbits(64)), start)
        kinds = [("trade", s.trades_per_second)] + ([("book", book_rate)] if books else [])
        for kind, rate in kinds:
            r = random.Random(rng.getrandbits(64))
            at0 = first + (r.expovariate(rate) if kind == "trade" else r.uniform(0, 1.5))
            streams.append(_times(r, at0, rate, duration, len(makers)))
            makers.append((kind, tape, r))
    streams.append(_times(None, ping_every, 1 / ping_every, duration, -1))
    last = 0.0
    for at, order in heapq.merge(*streams):
        now = start + timedelta(seconds=at)
        last = round(at, 3)
        if order < 0:
            text = frames.pingpong(now.strftime("%Y%m%d%H%M%S"))
        else:
            kind, tape, r = makers[order]
            if kind == "book":
                text = frames.data_frame("H0STASP0", [era.book(tape.book(now))])
            else:
                n = 1 + (r.choice((1, 1, 2, 3)) if r.random() < batch else 0)
                text = frames.data_frame("H0STCNT0", [era.trade(tape.trade(now)) for _ in range(n)])
        yield WsLine(last, "recv", text)
    yield WsLine(
        max(round(duration, 3), last, head[-1].t), event="close", code=1000, reason="recording ended"
    )


def _times(
    rng: random.Random | None, at: float, rate: float, duration: float, order: int
) -> Iterator[tuple[float, int]]:
    """Event times from `at` on: Poisson at `rate` per second, or every 1/rate seconds without an rng."""
    while at < duration:
        yield at, order
        at += rng.expovariate(rate) if rng is not None else 1 / rate
