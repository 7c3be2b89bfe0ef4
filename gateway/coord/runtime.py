"""Starts the KIS session side of a gateway in the configured mode; the app's lifespan calls `start`.

- Local mode (default): this process owns the appkey's session if it gets the host lock (`hostlock`); else
  it logs one line, serves REST only, and takes over when the owner goes.
- Redis mode (`GATEWAY_REDIS_URL`): the lease decides who runs the session; every replica mirrors the
  Stream into its own cache; REST budget and token are shared (`replica`). Setup happens before the task
  starts, so no request is ever served with the local limiter or token in Redis mode.
- Several appkeys (`KIS_CREDENTIALS_FILE`, `shards`): the same per appkey session that carries symbols,
  each with its own host lock, or its own lease, relay, shared token and GCRA limiter (`Keys` per appkey);
  one follower mirrors every appkey's Stream into the one cache. Per-appkey role and epoch go to that
  session's `metrics.coord` (shown under `appkeys` by appkey id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from functools import partial
from typing import Any, Protocol, TypeVar

from gateway.cache import QuoteCache
from gateway.config import Config
from gateway.coord.credentials import appkey_id
from gateway.coord.hostlock import HostLock
from gateway.coord.shards import Shards
from gateway.metrics import Metrics
from gateway.redact import StageLog
from gateway.rest import RestClient
from gateway.worker import QuoteWorker, supervise
from kisclock import Clock, sleep

RETRY_LOCK_S = 10.0
T = TypeVar("T")


class Parts(Protocol):
    cfg: Config
    clock: Clock
    cache: QuoteCache
    metrics: Metrics
    log: StageLog
    rest: RestClient
    worker: QuoteWorker


class Sharded(Parts, Protocol):
    shards: Shards | None


def start(gw: Sharded) -> asyncio.Task[None]:
    if gw.shards is not None:
        parts: list[Parts] = list(gw.shards.live())
        tier = gw.shards.rest_tier
        gw.log.event(
            "appkey_plan",
            appkeys={s.ident: len(s.cfg.symbols) for s in gw.shards.shards.values()},
            rest_tier=len(tier),
            level=logging.WARNING if tier else logging.INFO,
        )
        if gw.cfg.redis_url is None:
            return asyncio.create_task(_all(partial(run_local, report=True), parts), name="kis-ws-worker")
        return asyncio.create_task(_redis(gw, gw.cfg.redis_url, parts), name="kis-ws-worker")
    if gw.cfg.redis_url is None:
        return asyncio.create_task(run_local(gw), name="kis-ws-worker")
    return asyncio.create_task(_redis(gw, gw.cfg.redis_url), name="kis-ws-worker")


async def _all(run: Callable[[T], Coroutine[Any, Any, None]], items: Iterable[T]) -> None:
    """Run `run(item)` for every item (one loop per appkey session). Cancelling this cancels each loop once
    and waits for it: a second cancel would break a lease runner out of its shielded release, which then
    ran after the store was closed."""
    tasks = [asyncio.create_task(run(i)) for i in items]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            t.result()  # a loop that crashed: raise its error here (they never return on their own)
    finally:
        pending = [t for t in tasks if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending)


async def run_local(gw: Parts, report: bool = False) -> None:
    """`report`: show the role even when the lock is taken at once (one of several appkeys; a single appkey
    keeps today's metrics, with no `coord` block for a plain owner)."""
    lock = HostLock(gw.cfg.token_dir, gw.cfg.env, gw.cfg.app_key)
    if lock.acquire():
        if report:
            gw.metrics.coord.update(mode="local", role="owner", appkey=lock.ident)
    else:
        msg = lock.message()
        gw.metrics.coord.update(mode="local", role="rest-only", **({"appkey": lock.ident} if report else {}))
        gw.metrics.last_error = msg
        gw.log.event("ws_owned_elsewhere", detail=msg, level=logging.WARNING)
        while not lock.acquire():
            await sleep(gw.clock, RETRY_LOCK_S)
        gw.metrics.coord.update(role="owner")
        gw.log.event("ws_owner_now", appkey=lock.ident)
    try:
        await supervise(gw.worker)
    finally:
        lock.release()


def _redis(gw: Parts, url: str, parts: list[Parts] | None = None) -> Any:
    """One appkey (`parts` None: `gw` itself, its role and epoch in `gw.metrics.coord` as before), or each
    of `parts` with its own lease and relay, and one follower over all their Streams."""
    from gateway.coord.heartbeat import Heartbeat
    from gateway.coord.redis_backend import Keys, RedisBackend
    from gateway.coord.relay import Relay, RelayWorker, cancel
    from gateway.coord.replica import Follower, LeaseRunner, SharedLimiter, SharedToken, replica_id

    owner = replica_id()
    backend = RedisBackend(url, owner)
    gw.metrics.coord.update(mode="redis", replica=owner)
    beat = Heartbeat(
        backend, Keys(gw.cfg.env, appkey_id(gw.cfg.env, gw.cfg.app_key)), gw.clock, gw.metrics.coord
    )
    leases: list[tuple[LeaseRunner, Relay]] = []
    for p in parts if parts is not None else [gw]:
        keys = Keys(p.cfg.env, appkey_id(p.cfg.env, p.cfg.app_key))
        stats = p.metrics.coord
        stats.update(appkey=keys.ident)
        relay = Relay(backend, keys, p.clock, stats)
        worker = RelayWorker.like(p.worker, relay)
        if gw.worker is p.worker:  # the primary appkey's session is also the gateway's own
            gw.worker = worker
        p.worker = worker
        p.rest.pacer = SharedLimiter(backend, keys, p.clock, p.cfg.rest_rps, members=beat.count, stats=stats)
        p.rest.shared = SharedToken(p.rest, backend, keys)
        lease = LeaseRunner(backend, keys, worker, relay, p.clock, p.log, stats)
        worker.lease = lease
        leases.append((lease, relay))
    follower = Follower(backend, [lease.keys for lease, _ in leases], gw.cache, gw.clock, gw.metrics.coord)

    async def run() -> None:
        writers = [asyncio.create_task(relay.run(), name="relay-writer") for _, relay in leases]
        reader = asyncio.create_task(follower.run(), name="relay-follower")
        beating = asyncio.create_task(beat.run(), name="members-heartbeat")
        try:
            await _all(LeaseRunner.run, [lease for lease, _ in leases])
        finally:
            for w in writers:
                await cancel(w)
            await cancel(reader)
            await cancel(beating)
            await backend.aclose()

    return run()
