"""Several appkeys in one gateway (`KIS_CREDENTIALS_FILE`, docs/scaling.md "Several appkeys"): one KIS
session (its own worker, token, approval key and REST budget) per appkey, each carrying the symbols the
planner (`plan.py`) gives it, all feeding the one quote cache.

`KIS_SYMBOLS` order is the priority: the first listed symbol is placed first, so when the appkeys are full
the last listed go to the REST tier. Every symbol weighs as many registrations as the TRs it is subscribed
with (`Config.trade_trs`). The plan is a pure function of the symbols and the appkey ids, so every replica
with the same configuration computes the same one without talking to the others.

The quote API asks a symbol's REST fallback through the appkey that carries it (its budget, not the
primary's); a REST-tier symbol is spread over the appkeys by a hash of the symbol, and answered with
`fallback_reason` "rest-tier: ...". Shells and state only; the decisions are `plan.plan`'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from gateway.cache import QuoteCache
from gateway.config import Config
from gateway.coord import plan as planner
from gateway.metrics import Metrics
from gateway.redact import StageLog
from gateway.rest import RestClient
from gateway.worker import QuoteWorker
from kisclock import Clock

REST_TIER = "rest-tier"


@dataclass
class Shard:
    """One appkey's KIS session: the `runtime.Parts` of that appkey (local lock or Redis lease each)."""

    ident: str
    cfg: Config = field(repr=False)  # app_key/app_secret/symbols of this appkey
    clock: Clock = field(repr=False)
    cache: QuoteCache = field(repr=False)
    metrics: Metrics = field(repr=False)
    log: StageLog = field(repr=False)
    rest: RestClient = field(repr=False)
    worker: QuoteWorker = field(repr=False)


@dataclass
class Shards:
    shards: dict[str, Shard]  # appkey id -> session, the primary first
    placed: dict[str, str]  # symbol -> appkey id or plan.REST
    rest_tier: tuple[str, ...]  # in KIS_SYMBOLS order
    served_rest_tier: int = 0
    _tier: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        self._tier = frozenset(self.rest_tier)

    @property
    def primary(self) -> Shard:
        return next(iter(self.shards.values()))

    def live(self) -> list[Shard]:
        """The appkeys that carry at least one symbol: each runs a session."""
        return [s for s in self.shards.values() if s.cfg.symbols]

    def rest_for(self, symbol: str) -> RestClient:
        """Whose REST budget answers `symbol`: its appkey's; a REST-tier symbol's by a stable hash; any
        other symbol (not in KIS_SYMBOLS) the primary's."""
        where = self.placed.get(symbol)
        if where is not None and where in self.shards:
            return self.shards[where].rest
        if symbol in self._tier:
            keys = list(self.shards)
            pick = int(hashlib.sha256(symbol.encode()).hexdigest()[:8], 16) % len(keys)
            return self.shards[keys[pick]].rest
        return self.primary.rest

    def why(self, symbol: str) -> str | None:
        """The reason a symbol is never on a WebSocket, or None."""
        if symbol in self._tier:
            return (
                f"{REST_TIER}: every appkey's {planner.CAP} registrations are taken by symbols listed "
                "earlier in KIS_SYMBOLS (add an appkey to KIS_CREDENTIALS_FILE)"
            )
        return None

    def reason(self, symbol: str, why: str | None) -> str | None:
        """A REST answer's `fallback_reason`: for a REST-tier symbol, that first (what select says when
        there is no tick is then no news), else select's reason unchanged."""
        tier = self.why(symbol)
        if tier is None:
            return why
        return tier if why is None or why.startswith("no WebSocket tick") else f"{why}; {tier}"

    def served(self, symbol: str) -> None:
        """A REST answer went out: count it if the symbol is in the REST tier."""
        if symbol in self._tier:
            self.served_rest_tier += 1

    def describe(self) -> dict[str, Any]:
        """The plan as /v1/metrics/quote shows it (appkey ids only)."""
        return {
            "cap": planner.CAP,
            "symbols": {i: list(s.cfg.symbols) for i, s in self.shards.items()},
            "appkeys": {i: len(s.cfg.symbols) * len(s.cfg.trade_trs) for i, s in self.shards.items()},
            "rest_tier": list(self.rest_tier),
            "rest_tier_served": self.served_rest_tier,
        }


def build(
    cfg: Config,
    clock: Clock,
    cache: QuoteCache,
    log: StageLog,
    connect: Callable[..., Any],
    http: httpx.AsyncClient | None = None,
) -> Shards:
    """One session per appkey of `cfg.appkeys`, placed by the planner (the caller checked there are some)."""
    idents = [k.ident for k in cfg.appkeys]
    symbols = tuple(dict.fromkeys(cfg.symbols))  # KIS_SYMBOLS order, each once
    wants = [planner.Want(s, cfg.trade_trs, len(symbols) - i) for i, s in enumerate(symbols)]
    placed = planner.plan(wants, idents)
    shards: dict[str, Shard] = {}
    for key in cfg.appkeys:
        mine = tuple(s for s in symbols if placed[s] == key.ident)
        own = replace(cfg, app_key=key.appkey, app_secret=key.appsecret, symbols=mine, appkeys=())
        metrics = Metrics()
        rest = RestClient(own, clock, metrics, log, http)
        worker = QuoteWorker(own, rest, cache, metrics, log, clock, connect)
        shards[key.ident] = Shard(key.ident, own, clock, cache, metrics, log, rest, worker)
    tier = tuple(s for s in symbols if placed[s] == planner.REST)
    return Shards(shards, placed, tier)


async def aclose(shards: Shards | None) -> None:
    for s in shards.shards.values() if shards is not None else ():
        await s.rest.aclose()  # a client shared between them (tests) closes once: httpx ignores the rest
