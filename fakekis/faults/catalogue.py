"""The fault catalogue as data: name -> class, failure mode, description, what a good client does, and the
parameters with their defaults and allowed values. `fakekis faults`, docs/faults.md's table (checked by
tests/fakekis/test_fakekis_faults_catalogue_ws.py) and the scenario loader all read it from here."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any

from fakekis.faults.base import Fault
from fakekis.faults.connection import ClientPingKills, DropAfter, HalfOpen, PingpongTimeout, ReconnectLockout
from fakekis.faults.data import (
    BurstBatching,
    FieldDrift,
    InvalidUtf8,
    KrxSilentNxtTrades,
    Malformed,
    MarketClosed,
)
from fakekis.faults.network import Bandwidth, Latency, Slicer, SlowRest, TcpReset, Timeout
from fakekis.faults.params import Check
from fakekis.faults.rest import EnvMismatch, RestTps, TokenExpired, TokenThrottle
from fakekis.faults.subscription import (
    AlreadySubscribedAfterReconnect,
    ApprovalRejected,
    EncryptedBeforeKey,
    ErrorAck,
    MaxSubscribe,
    NoAck,
    SessionInUse,
)
from fakekis.faults.trading import AcceptanceDelay, NoticeDelay, NoticeLost, OrderReject, OrderTps


@dataclass(frozen=True)
class Entry:
    cls: type[Fault[Any]]

    @property
    def name(self) -> str:
        return self.cls.name

    @property
    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in fields(self.cls) if f.default is not MISSING}

    @property
    def allowed(self) -> dict[str, str]:
        """Each parameter's allowed values, in words (for error lines and docs)."""
        out = {}
        for f in fields(self.cls):
            check = f.metadata.get("check")
            out[f.name] = check.allowed if isinstance(check, Check) else "any"
        return out

    def as_dict(self) -> dict[str, Any]:
        """The `fakekis faults --json` line (its keys are a CLI contract)."""
        c = self.cls
        return {
            "fault": c.name,
            "f": c.f,
            "summary": c.summary,
            "gateway": c.gateway,
            "params": self.defaults,
        }


# In the order `fakekis faults` lists them: by failure family.
CATALOGUE: dict[str, Entry] = {
    cls.name: Entry(cls)
    for cls in (
        DropAfter,
        HalfOpen,
        ReconnectLockout,
        PingpongTimeout,
        ClientPingKills,
        ApprovalRejected,
        SessionInUse,
        NoAck,
        ErrorAck,
        MaxSubscribe,
        AlreadySubscribedAfterReconnect,
        EncryptedBeforeKey,
        MarketClosed,
        KrxSilentNxtTrades,
        FieldDrift,
        Malformed,
        InvalidUtf8,
        BurstBatching,
        TokenThrottle,
        RestTps,
        TokenExpired,
        EnvMismatch,
        Latency,
        Bandwidth,
        SlowRest,
        TcpReset,
        Timeout,
        Slicer,
        OrderReject,
        OrderTps,
        AcceptanceDelay,
        NoticeDelay,
        NoticeLost,
    )
}
FAULTS: dict[str, type[Fault[Any]]] = {name: e.cls for name, e in CATALOGUE.items()}


def catalogue() -> list[dict[str, Any]]:
    return [e.as_dict() for e in CATALOGUE.values()]
