"""KIS-level faults as data (docs/faults.md): named, listable, composable, checked when loaded.

- `base`: the plug points (`FaultHooks`), `Fault` (frozen parameters + per-run state) and `Scenario`
- `params`: each parameter's allowed values, checked on load (`ScenarioError`)
- `connection` (F1, F3, F13), `subscription` (F1, F2, F4, F8, F11, F12), `data` (F5, F9, F14),
  `rest` (F6, F7), `network` (latency, bandwidth, slow REST, TCP reset, timeout, slicer), `trading` (F15): the
  faults, by family
- `catalogue`: name -> fault, as data (`fakekis faults`, the docs table and the tests read it)
- `spec`: scenarios from names and YAML/JSON files

The names below are the public API (`from fakekis import faults; faults.Scenario([faults.DropAfter()])`).
"""

from fakekis.faults.base import Fault, FaultHooks, Scenario, ScenarioRun, Wire
from fakekis.faults.catalogue import CATALOGUE, FAULTS, Entry, catalogue
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
from fakekis.faults.params import ScenarioError
from fakekis.faults.rest import EnvMismatch, FirstCallsRefused, RestTps, TokenExpired, TokenThrottle
from fakekis.faults.spec import build, load
from fakekis.faults.subscription import (
    AlreadySubscribedAfterReconnect,
    ApprovalRejected,
    EncryptedBeforeKey,
    ErrorAck,
    MaxSubscribe,
    NoAck,
    SessionInUse,
)
from fakekis.faults.trading import (
    AcceptanceDelay,
    NoticeDelay,
    NoticeLost,
    OrderReject,
    OrderTps,
    TradingFault,
)

__all__ = [
    "CATALOGUE",
    "FAULTS",
    "AcceptanceDelay",
    "NoticeDelay",
    "NoticeLost",
    "OrderReject",
    "OrderTps",
    "TradingFault",
    "AlreadySubscribedAfterReconnect",
    "ApprovalRejected",
    "Bandwidth",
    "BurstBatching",
    "ClientPingKills",
    "DropAfter",
    "EncryptedBeforeKey",
    "EnvMismatch",
    "Entry",
    "ErrorAck",
    "Fault",
    "FaultHooks",
    "FieldDrift",
    "FirstCallsRefused",
    "HalfOpen",
    "InvalidUtf8",
    "KrxSilentNxtTrades",
    "Latency",
    "Malformed",
    "MarketClosed",
    "MaxSubscribe",
    "NoAck",
    "PingpongTimeout",
    "ReconnectLockout",
    "RestTps",
    "Scenario",
    "ScenarioError",
    "ScenarioRun",
    "SessionInUse",
    "Slicer",
    "SlowRest",
    "TcpReset",
    "Timeout",
    "TokenExpired",
    "TokenThrottle",
    "Wire",
    "build",
    "catalogue",
    "load",
]
