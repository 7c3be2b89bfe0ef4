"""The Stream entry format (a public contract: docs/stream-format.md) and the mirror that applies entries
to a replica's in-process `QuoteCache`. Pure: entries come in as field dicts, `now` from the caller.

One Stream per appkey, `kis:{<env>:<id>}:ticks`. Every entry has
- `k`: `data` (one KIS data frame), `gap-start`, `gap-end` (no session was registered between them, so KIS
  sent nothing we could relay), or `session` (the leader's session state changed);
- `e`: the writer's lease epoch (decimal), the fencing token; non-decreasing along the stream;
- `r`: the leader's receive time, milliseconds since the Unix epoch, decimal with up to 3 decimals;
- `f` (data only): the frame text exactly as KIS sent it (`0|H0STCNT0|001|...`);
- `w` (gap and session entries): why, free text;
- `n`: the entry's number in the stream (1, 2, 3, ... across leaders), so a reader can tell that entries were
  trimmed (`MAXLEN`) between the last one it read and the next one it got (`follow`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from gateway.cache import QuoteCache
from gateway.codec import TRADE_VENUES, Frame, decode

DATA, GAP_START, GAP_END, SESSION = "data", "gap-start", "gap-end", "session"
KINDS = (DATA, GAP_START, GAP_END, SESSION)
ACML_VOL, BSOP_DATE = 13, 33  # trade record field offsets (H0STCNT0 and its NXT/unified twins)
SEQ = "n"


def entry(kind: str, epoch: int, received_at: float, frame: str = "", why: str = "") -> dict[str, str]:
    """The fields of one entry; `received_at` in seconds (the gateway clock)."""
    if kind not in KINDS:
        raise ValueError(f"unknown entry kind {kind!r}")
    out = {"k": kind, "e": str(epoch), "r": f"{received_at * 1000:.3f}"}
    if kind == DATA:
        out["f"] = frame
    elif why:
        out["w"] = why
    return out


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    epoch: int
    received_at: float  # seconds
    frame: str = ""
    why: str = ""


def parse_entry(fields: Mapping[str, str]) -> Entry | None:
    """An entry from its fields, or None when it does not follow the format (counted, never raised)."""
    kind = fields.get("k", "")
    try:
        epoch = int(fields.get("e", ""))
        received_at = float(fields.get("r", "")) / 1000
    except ValueError:
        return None
    if kind not in KINDS or (kind == DATA and not fields.get("f")):
        return None
    return Entry(kind, epoch, received_at, fields.get("f", ""), fields.get("w", ""))


@dataclass
class Mirror:
    """A replica's view of the relayed ticks: applies data entries to `cache`, skipping any record that is
    not newer than what the cache holds for its symbol (by exchange date, then cumulative volume: KIS's
    ACML_VOL only grows within a day), so overlaps after a failover or a resync never count twice."""

    cache: QuoteCache
    applied: int = 0  # records that updated the cache
    stale: int = 0  # records skipped as not newer (duplicates)
    malformed: int = 0
    gaps: int = 0  # gap-start entries seen, plus holes
    holes: int = 0  # entries this mirror never saw because the stream was trimmed past it (`Reader`)
    last_lag: float | None = None  # seconds from the leader's receive to our apply

    def apply(self, fields: Mapping[str, str], now: float) -> Entry | None:
        e = parse_entry(fields)
        if e is None:
            self.malformed += 1
            return None
        if e.kind == GAP_START:
            self.gaps += 1
        if e.kind != DATA:
            return e
        ev = decode(e.frame)
        if type(ev) is not Frame:
            self.malformed += 1
            return e
        self.last_lag = max(0.0, now - e.received_at)
        venue = TRADE_VENUES.get(ev.tr_id)
        if venue is None:  # books: relayed for other consumers, not quotes
            return e
        for i in range(ev.count):
            off = i * ev.width
            f = ev.fields
            if len(f) <= off + ACML_VOL:
                self.malformed += 1
                continue
            if not self.newer(f, off):
                self.stale += 1
                continue
            if self.cache.update_from_h0stcnt0(f, off, e.received_at, venue):
                self.applied += 1
            else:
                self.malformed += 1
        return e

    def newer(self, f: list[str], off: int) -> bool:
        q = self.cache.get(f[off])
        if q is None:
            return True
        try:
            vol = int(f[off + ACML_VOL])
        except ValueError:
            return True  # update_from_h0stcnt0 refuses it
        date = f[off + BSOP_DATE] if len(f) > off + BSOP_DATE else ""
        return (date, vol) > (q.exchange_date, q.volume)


class Step(Enum):
    NEXT = "next"  # the entry follows the last one read (or cannot be checked: a writer without `n`)
    TRIMMED = "trimmed"  # entries between were trimmed away before this reader got them
    RESTARTED = "restarted"  # the numbering went back: a new stream (Redis lost its data)


def seq_of(fields: Mapping[str, str]) -> int | None:
    try:
        return int(fields[SEQ])
    except (KeyError, ValueError):
        return None


def follow(last: int | None, n: int | None) -> Step:
    """Whether entry number `n` follows the last one read (`last`; 0 = none yet). Unknown on either side
    (no snapshot yet, or an entry from a writer that does not number) cannot be judged: NEXT."""
    if last is None or n is None or n == last + 1:
        return Step.NEXT
    return Step.TRIMMED if n > last + 1 else Step.RESTARTED


@dataclass
class Reader:
    """One replica's reading of the streams, the pure half of `replica.Follower`: per stream the number of
    the last entry applied. `take` applies one read entry, or refuses it (False) when the stream was trimmed
    past this reader or started over: the caller then loads the snapshot (`resynced`) instead, and a gap is
    declared, since records in the hole may never have reached this mirror. A record applied from the stream
    and again from the snapshot counts once (`Mirror` skips what is not newer)."""

    mirror: Mirror
    last: dict[str, int | None] = field(default_factory=dict)
    resyncs: int = 0

    def take(self, stream: str, fields: Mapping[str, str], now: float) -> bool:
        n = seq_of(fields)
        if follow(self.last.get(stream), n) is not Step.NEXT:
            return False
        self.mirror.apply(fields, now)
        self.last[stream] = n if n is not None else self.last.get(stream)
        return True

    def resynced(
        self, stream: str, seq: int | None, snapshot: list[Mapping[str, str]], now: float, hole: bool
    ) -> None:
        """The snapshot of `stream` (its latest entry per symbol) taken when its newest entry was `seq`."""
        if hole:
            self.resyncs += 1
            self.mirror.gaps += 1
            self.mirror.holes += 1
        for fields in snapshot:
            self.mirror.apply(fields, now)
        self.last[stream] = seq
