"""Starts the KIS session side of a gateway in the configured mode; the app's lifespan calls `start`.

- Local mode (default): this process owns the appkey's session if it gets the host lock (`hostlock`); else
  it logs one line, serves REST only, and takes over when the owner goes.
- Redis mode (`GATEWAY_REDIS_URL`): the lease decides who runs the session; every replica mirrors the
  Stream into its own cache; REST budget and token are shared (`replica`). Setup happens before the task
  starts, so no request is ever served with the local limiter or token in Redis mode.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from gateway.cache import QuoteCache
from gateway.config import Config
from gateway.coord.credentials import appkey_id
from gateway.coord.hostlock import HostLock
from gateway.metrics import Metrics
from gateway.redact import StageLog
from gateway.rest import RestClient
from gateway.worker import QuoteWorker, supervise
from kisclock import Clock, sleep

RETRY_LOCK_S = 10.0


class Parts(Protocol):
    cfg: Config
    clock: Clock
    cache: QuoteCache
    metrics: Metrics
    log: StageLog
    rest: RestClient
    worker: QuoteWorker


def start(gw: Parts) -> asyncio.Task[None]:
    if gw.cfg.redis_url is None:
        return asyncio.create_task(run_local(gw), name="kis-ws-worker")
    return asyncio.create_task(_redis(gw, gw.cfg.redis_url), name="kis-ws-worker")


async def run_local(gw: Parts) -> None:
    lock = HostLock(gw.cfg.token_dir, gw.cfg.env, gw.cfg.app_key)
    if not lock.acquire():
        msg = lock.message()
        gw.metrics.coord.update(mode="local", role="rest-only")
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


def _redis(gw: Parts, url: str) -> Any:
    from gateway.coord.heartbeat import Heartbeat
    from gateway.coord.redis_backend import Keys, RedisBackend
    from gateway.coord.relay import Relay, RelayWorker, cancel
    from gateway.coord.replica import Follower, LeaseRunner, SharedLimiter, SharedToken, replica_id

    owner = replica_id()
    backend = RedisBackend(url, owner)
    keys = Keys(gw.cfg.env, appkey_id(gw.cfg.env, gw.cfg.app_key))
    stats = gw.metrics.coord
    stats.update(mode="redis", replica=owner, appkey=keys.ident)
    relay = Relay(backend, keys, gw.clock, stats)
    worker = RelayWorker.like(gw.worker, relay)
    gw.worker = worker
    beat = Heartbeat(backend, keys, gw.clock, stats)
    gw.rest.pacer = SharedLimiter(backend, keys, gw.clock, gw.cfg.rest_rps, members=beat.count, stats=stats)
    gw.rest.shared = SharedToken(gw.rest, backend, keys)
    lease = LeaseRunner(backend, keys, worker, relay, gw.clock, gw.log, stats)
    worker.lease = lease
    follower = Follower(backend, [keys], gw.cache, gw.clock, stats)

    async def run() -> None:
        writer = asyncio.create_task(relay.run(), name="relay-writer")
        reader = asyncio.create_task(follower.run(), name="relay-follower")
        beating = asyncio.create_task(beat.run(), name="members-heartbeat")
        try:
            await lease.run()
        finally:
            await cancel(writer)
            await cancel(reader)
            await cancel(beating)
            await backend.aclose()

    return run()
