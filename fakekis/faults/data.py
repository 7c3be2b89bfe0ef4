"""Data faults: a quiet market or the wrong venue (F5), frames whose layout drifts or that arrive damaged
(F9), and trades batched several to a frame (F14).

Faults here see typed frames (`Data`: a TR, a count, records on demand). Only the byte-level ones
(`Malformed`, `InvalidUtf8`) read a frame's wire text, to break it, and emit `Raw` bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fakekis.exchange.actions import Action, Data, Frame, Raw, Session
from fakekis.faults.base import Counter, Fault
from fakekis.faults.params import count, one_of, param, text
from fakekis.wire import frames, layouts


@dataclass(frozen=True)
class MarketClosed(Fault[None]):
    name, f = "market-closed", "F5"
    summary = "the exchange acks subscriptions and sends PINGPONG, but no data frames (weekend, KRX holiday)"
    gateway = "stays connected (PINGPONG is liveness), serves REST with fallback_reason; quiet is not broken"

    def data(self, state: None, session: Session, frame: Frame, now: float) -> list[Action]:
        return []


@dataclass(frozen=True)
class KrxSilentNxtTrades(Fault[None]):
    name, f = "krx-silent-nxt", "F5"
    summary = "KRX H0STCNT0 is silent while trades arrive only on the NXT/unified TRs (H0NXCNT0, H0UNCNT0)"
    gateway = (
        "H0STCNT0 subscribers see acks and PINGPONG only and fall back to REST; the cause is the TR choice "
        "(KIS_VENUE=unified subscribes H0UNCNT0 and serves from the socket)"
    )

    def reroute(self, tr_id: str) -> list[str] | None:
        return ["H0NXCNT0", "H0UNCNT0"] if tr_id == "H0STCNT0" else None


@dataclass(frozen=True)
class FieldDrift(Fault[None]):
    name, f = "field-drift", "F9"
    summary = "H0STCNT0 records grow trailing fields to a width no KIS era has (as on 2026-09-14, 46 -> 47)"
    gateway = "derives record width from fields/count; nothing is lost"
    value: str = param("2", text(16, "^|"))

    def data(self, state: None, session: Session, frame: Frame, now: float) -> list[Action]:
        if not isinstance(frame, Data) or frame.tr_id != "H0STCNT0":
            return [frame]
        recs = frame.records()
        if recs is None:
            return [frame]
        grow = layouts.width_no_era_has(frame.tr_id, len(recs[0]) + 1) - len(recs[0])  # never a known layout
        return [Data.of(frame.tr_id, [r + [self.value] * grow for r in recs])]


@dataclass(frozen=True)
class Malformed(Fault[Counter]):
    name, f = "malformed", "F9"
    summary = (
        "every `every`-th data frame is broken: `mode` truncate (cut short), count (header lies) or garbage"
    )
    gateway = "counts it in ws_malformed, keeps the well-formed records, never crashes"
    every: int = param(3, count(1))
    mode: str = param("truncate", one_of("truncate", "count", "garbage"))

    def state(self) -> Counter:
        return Counter()

    def data(self, state: Counter, session: Session, frame: Frame, now: float) -> list[Action]:
        state.n += 1
        if state.n % self.every or not isinstance(frame, Data):
            return [frame]  # a frame an earlier fault already broke is passed on as it is
        text = frame.text
        if self.mode == "truncate":
            broken = text[: len(text) * 2 // 3]
        elif self.mode == "count":
            parts = frames.split_frame(text)
            n = frames.frame_count(parts[2]) if parts else None
            if parts is None or n is None:
                return [frame]
            broken = f"{parts[0]}|{parts[1]}|{n + 1:03d}|{parts[3]}"
        else:
            broken = "0|" + frame.tr_id + "|abc|" + text.rsplit("|", 1)[-1][:20]
        return [Raw(broken.encode(), _declared(broken))]


def _declared(text: str) -> int:
    """The record count a (maybe broken) frame's header declares; 0 when the header is broken too."""
    parts = frames.split_frame(text[:40])
    return (frames.frame_count(parts[2]) or 0) if parts else 0


@dataclass(frozen=True)
class InvalidUtf8(Fault[Counter]):
    name, f = "invalid-utf8", "F9"
    summary = (
        "the `nth` data frame is a text frame with invalid UTF-8 (reported live; strict clients close 1007)"
    )
    gateway = "its WebSocket library closes with 1007; the worker reconnects and resubscribes"
    nth: int = param(3, count(0))

    def state(self) -> Counter:
        return Counter()

    def data(self, state: Counter, session: Session, frame: Frame, now: float) -> list[Action]:
        state.n += 1
        if state.n != self.nth:
            return [frame]
        raw = frame.text.encode() if isinstance(frame, Data) else frame.data
        declared = frame.count
        return [Raw(raw[:40] + b"\xb0\xa1\xff" + raw[40:], declared)]


@dataclass
class _Held:
    records: dict[tuple[int, str, str], list[list[str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class BurstBatching(Fault[_Held]):
    name, f = "burst", "F14"
    summary = "trades are held and sent `size` records to a frame (KIS batches at busy moments)"
    gateway = "splits by fields/count; every record reaches the cache in order"
    size: int = param(4, count(1, 999))  # the header's count has three digits

    def state(self) -> _Held:
        return _Held()

    def data(self, state: _Held, session: Session, frame: Frame, now: float) -> list[Action]:
        recs = frame.records() if isinstance(frame, Data) else None
        if not isinstance(frame, Data) or recs is None:
            return [frame]
        held = state.records.setdefault((session.number, frame.tr_id, recs[0][0]), [])
        held.extend(recs)
        out: list[Action] = []
        while len(held) >= self.size:
            out.append(Data.of(frame.tr_id, held[: self.size]))
            del held[: self.size]
        return out
