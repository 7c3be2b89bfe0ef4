"""The Stream entry format and the replica mirror: entries round-trip, relayed records reach the cache
stamped with the leader's receive time, and overlaps (a failover, a resync, the leader's own ingest) are
skipped by (date, cumulative volume), never applied twice."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.cache import QuoteCache
from gateway.coord.stream import DATA, GAP_START, SEQ, Mirror, Reader, Step, entry, follow, parse_entry


def trade(symbol: str, vol: int, price: int = 70000, date: str = "20260105", n: int = 1) -> str:
    recs = []
    for i in range(n):
        f = ["0"] * 46
        f[0], f[1], f[2], f[4], f[5], f[13], f[33] = (
            symbol,
            "090000",
            str(price + i),
            "100",
            "0.14",
            str(vol + i),
            date,
        )
        recs.append("^".join(f))
    return f"0|H0STCNT0|{n:03d}|" + "^".join(recs)


def test_entries_round_trip() -> None:
    e = parse_entry(entry(DATA, 7, 1767571200.1234, trade("005930", 10)))
    assert (
        e is not None and e.kind == DATA and e.epoch == 7 and e.received_at == pytest.approx(1767571200.1234)
    )
    g = parse_entry(entry(GAP_START, 8, 1.0, why="leader stepped down"))
    assert g is not None and g.why == "leader stepped down" and g.frame == ""
    with pytest.raises(ValueError):
        entry("nope", 1, 0.0)


@pytest.mark.parametrize(
    "fields", [{}, {"k": "data", "e": "1", "r": "5"}, {"k": "x", "e": "1", "r": "5"}, {"k": "data", "e": "a"}]
)
def test_entries_off_the_format_are_counted_not_raised(fields: dict[str, str]) -> None:
    m = Mirror(QuoteCache())
    assert m.apply(fields, 0.0) is None and m.malformed == 1


def test_the_mirror_applies_relayed_trades_with_the_leaders_receive_time() -> None:
    cache = QuoteCache()
    m = Mirror(cache)
    m.apply(entry(DATA, 1, 100.0, trade("005930", 10, n=3)), 100.002)
    q = cache.get("005930")
    assert q is not None and q.volume == 12 and q.price == 70002 and q.received_at == 100.0
    assert m.applied == 3 and m.last_lag == pytest.approx(0.002)


@settings(max_examples=100, deadline=None)
@given(vols=st.lists(st.integers(1, 50), min_size=1, max_size=40))
def test_duplicates_and_reordering_never_move_a_quote_backwards(vols: list[int]) -> None:
    cache = QuoteCache()
    m = Mirror(cache)
    stream = [entry(DATA, 1, float(i), trade("000660", v, price=v)) for i, v in enumerate(vols)]
    replay = stream + stream[: len(stream) // 2]  # a resync that re-reads part of the stream
    for fields in replay:
        m.apply(fields, 0.0)
    q = cache.get("000660")
    assert q is not None and q.volume == max(vols) and q.price == max(vols)
    assert m.applied + m.stale == len(replay)
    # applied records are exactly the running maxima: nothing counted twice
    running, best = 0, 0
    for v in vols:
        if v > best:
            best, running = v, running + 1
    assert m.applied == running


def test_a_new_day_starts_over_even_with_a_smaller_volume() -> None:
    cache = QuoteCache()
    m = Mirror(cache)
    m.apply(entry(DATA, 1, 1.0, trade("005930", 500, date="20260105")), 1.0)
    m.apply(entry(DATA, 1, 2.0, trade("005930", 3, date="20260106")), 2.0)
    q = cache.get("005930")
    assert q is not None and q.volume == 3 and q.exchange_date == "20260106"


@given(last=st.none() | st.integers(0, 100), n=st.none() | st.integers(1, 100))
def test_an_entry_is_next_only_after_the_one_numbered_before_it(last: int | None, n: int | None) -> None:
    step = follow(last, n)
    if last is None or n is None:
        assert step is Step.NEXT  # nothing to judge by: an old writer, or no snapshot yet
    else:
        assert step is {True: Step.NEXT, False: Step.TRIMMED if n > last else Step.RESTARTED}[n == last + 1]


class ModelStream:
    """A Redis stream as the gateway writes it: numbered entries, a prefix trimmed away (MAXLEN), and a
    `quotes` hash holding each symbol's latest entry."""

    def __init__(self) -> None:
        self.entries: list[dict[str, str]] = []  # entry i has n = i + 1
        self.trimmed = 0  # entries[:trimmed] are gone
        self.quotes: dict[str, dict[str, str]] = {}
        self.vol: dict[str, int] = {}

    def publish(self, symbol: str, k: int) -> None:
        for _ in range(k):
            self.vol[symbol] = self.vol.get(symbol, 0) + 1
            fields = {**entry(DATA, 1, float(len(self.entries)), trade(symbol, self.vol[symbol]))}
            fields[SEQ] = str(len(self.entries) + 1)
            self.entries.append(fields)
            self.quotes[symbol] = fields

    def read(self, after: int, count: int) -> list[dict[str, str]]:
        return self.entries[max(after, self.trimmed) :][:count]


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["publish", "trim", "read"]),
            st.sampled_from(["005930", "000660", "035720"]),
            st.integers(1, 30),
        ),
        max_size=60,
    )
)
def test_a_reader_never_loses_a_record_silently_nor_counts_one_twice(
    ops: list[tuple[str, str, int]],
) -> None:
    """Whatever is trimmed while a reader is behind, every entry is either read once or inside a declared
    hole, and after the last read the mirror holds exactly the newest quote of every symbol."""
    s, cache = ModelStream(), QuoteCache()
    r = Reader(Mirror(cache))
    r.resynced("t", 0, [], 0.0, hole=False)  # the follower's start: an empty stream
    pos = 0  # entries this reader has accounted for (its stream cursor), as a count
    seen: list[int] = []
    covered: set[int] = set()  # entry numbers inside declared holes
    applied_before = 0

    def read(count: int) -> None:
        nonlocal pos
        for fields in s.read(pos, count):
            n = int(fields[SEQ])
            if not r.take("t", fields, 0.0):
                top = len(s.entries)  # the resync: snapshot and last number, atomically
                covered.update(range(pos + 1, top + 1))
                r.resynced("t", top, list(s.quotes.values()), 0.0, hole=True)
                pos = top
                return
            seen.append(n)
            pos = n

    for op, symbol, k in ops:
        if op == "publish":
            s.publish(symbol, k)
        elif op == "trim":
            s.trimmed = max(s.trimmed, len(s.entries) - k)
        else:
            read(k)
        assert r.mirror.applied >= applied_before
        applied_before = r.mirror.applied
    read(10**6)
    assert len(seen) == len(set(seen))
    assert set(seen) | covered == set(range(1, len(s.entries) + 1))
    assert r.resyncs == r.mirror.holes and (r.resyncs > 0) == bool(covered)
    lost = [n for n in range(1, len(s.entries) + 1) if n <= s.trimmed and n not in seen]
    assert set(lost) <= covered  # a record the reader never got is always declared
    for symbol, vol in s.vol.items():
        q = cache.get(symbol)
        assert q is not None and q.volume == vol
    assert r.mirror.applied <= len(s.entries)  # each record updates the cache at most once
