"""Redis mode's shells (GATEWAY_REDIS_URL): the lease loop that decides whether this replica runs the KIS
session, the follower that feeds the in-process mirror on every replica, the shared REST limiter and the
shared token. The decisions are the pure cores' (`lease`, `gcra`, `tokengate`, `stream`); this module only
waits, calls the store and starts or stops the worker.

(Over 300 lines: four shells of one store that share `bounded`, `ms` and the error set; the member heartbeat
went to its own module, `heartbeat`.)

Waiting on the store is bounded in real time (`STORE_TIMEOUT`): a blackholed link must turn into an error,
and so into a step-down at the renew deadline, not a hang. Everything else waits on the injected clock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable
from typing import Any, TypeVar

from gateway.cache import QuoteCache
from gateway.coord import gcra
from gateway.coord.lease import (
    Acquire,
    Action,
    LeaseMachine,
    LeaseParams,
    Release,
    Renew,
    StartSession,
    StopSession,
)
from gateway.coord.members import LiveCount
from gateway.coord.redis_backend import Keys, RedisBackend, RedisError
from gateway.coord.relay import Relay, RelayWorker, cancel
from gateway.coord.stream import GAP_END, GAP_START, Mirror, Reader
from gateway.coord.tokengate import GATE_S
from gateway.redact import StageLog
from gateway.rest import REFRESH_MARGIN, Pacer, RestClient, RestError
from gateway.worker import supervise
from kisclock import Clock

STORE_TIMEOUT = 1.0
STORE_ERRORS = (RedisError, OSError, TimeoutError, asyncio.TimeoutError)
T = TypeVar("T")


def replica_id() -> str:
    return f"{socket.gethostname()[:20]}-{os.getpid()}-{secrets.token_hex(3)}".replace(":", "_")


async def bounded(call: Awaitable[T]) -> T:
    return await asyncio.wait_for(call, STORE_TIMEOUT)


def stop_if_cancelled() -> None:
    """Re-raise a cancellation a wait swallowed: up to Python 3.11, `wait_for` may return a result (or a
    timeout) that raced with `cancel()` and drop the cancel, and a loop that retries on store errors would
    then run on while its owner awaits it forever (a hung shutdown). `Task.cancelling` exists from 3.11."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    if cancelling is not None and cancelling():
        raise asyncio.CancelledError


def ms(t: float) -> int:
    return round(t * 1000)


class LeaseRunner:
    """Drives `LeaseMachine` for one appkey: polls it at its due times on the clock, runs the store calls it
    asks for, and starts or stops the KIS session (a `RelayWorker` under `supervise`)."""

    def __init__(
        self,
        backend: RedisBackend,
        keys: Keys,
        worker: RelayWorker,
        relay: Relay,
        clock: Clock,
        log: StageLog,
        stats: dict[str, Any],
        params: LeaseParams | None = None,
    ) -> None:
        self.backend, self.keys, self.worker, self.relay = backend, keys, worker, relay
        self.clock, self.log, self.stats = clock, log, stats
        self.machine = LeaseMachine(params or LeaseParams())
        self.session: asyncio.Task[None] | None = None
        self._publish()

    def _publish(self) -> None:
        m = self.machine
        self.stats.update(
            role=m.role.value,
            epoch=m.epoch,
            acquisitions=m.acquisitions,
            step_downs=m.step_downs,
            handovers=m.handovers,
        )

    async def run(self) -> None:
        try:
            while True:
                due = self.machine.next_due()
                if due is not None:
                    await self.clock.sleep_until(due)
                now = self.clock.now()
                self.machine.on_health(now, self.worker.policy.open and self.worker.policy.healthy)
                await self.carry(self.machine.poll(now))
        finally:
            await asyncio.shield(self._stop())

    async def _stop(self) -> None:
        for a in self.machine.stop(self.clock.now()):
            if isinstance(a, StopSession):
                self.relay.mark(GAP_START, "leader shutting down")
                await self._end_session()
            elif isinstance(a, Release):
                try:
                    await asyncio.wait_for(self.relay_flush(), STORE_TIMEOUT)
                    await bounded(self.backend.release(self.keys, a.epoch))
                except STORE_ERRORS:
                    pass
        self._publish()

    async def relay_flush(self) -> None:
        """Give the writer a moment to send what the session received before the lease goes."""
        while self.relay._queue:  # noqa: ASYNC110 - bounded by the caller's timeout
            await asyncio.sleep(0.005)

    async def carry(self, actions: list[Action]) -> None:
        for a in actions:
            more: list[Action] = []
            now = self.clock.now
            try:
                if isinstance(a, Acquire):
                    p = self.machine.params
                    e = await bounded(
                        self.backend.acquire(self.keys, ms(p.ttl), ms(a.sent_at), ms(p.vacancy_grace))
                    )
                    more = self.machine.on_acquired(now(), a.sent_at, e)
                elif isinstance(a, Renew):
                    e = await bounded(
                        self.backend.renew(self.keys, a.epoch, ms(self.machine.params.ttl), ms(a.sent_at))
                    )
                    more = self.machine.on_renewed(now(), a.sent_at, e)
                elif isinstance(a, Release):
                    await bounded(self.backend.release(self.keys, a.epoch))
            except STORE_ERRORS as err:
                self.stats["store_errors"] = self.stats.get("store_errors", 0) + 1
                self.stats["last_store_error"] = type(err).__name__
                more = self.machine.on_store_error(now()) if not isinstance(a, Release) else []
            if isinstance(a, StartSession):
                self.relay.epoch = a.epoch
                if self.session is None:
                    self.log.event("lease_acquired", appkey=self.keys.ident, epoch=a.epoch)
                    self.relay.mark(GAP_START, f"taking over (epoch {a.epoch})")
                    self.session = asyncio.create_task(supervise(self.worker), name="kis-ws-leader")
                else:  # the store lost the lease (a restart) and gave it back: what it held may be gone
                    self.log.event("lease_epoch_changed", appkey=self.keys.ident, epoch=a.epoch)
                    self.relay.mark(GAP_START, f"store lost its data (epoch {a.epoch})")
                    self.relay.mark(GAP_END, "relaying again")
            elif isinstance(a, StopSession):
                self.log.event(
                    "lease_step_down", appkey=self.keys.ident, reason=a.reason, level=logging.WARNING
                )
                await self._end_session()
                self.machine.on_session_closed(now())
            self._publish()
            if more:
                await self.carry(more)

    async def _end_session(self) -> None:
        task, self.session = self.session, None
        await cancel(task)
        self.relay.epoch = 0  # nothing more from this session may be offered


class Follower:
    """Feeds the replica's in-process mirror from the appkeys' Streams: a snapshot (latest quote per symbol
    and the stream's last id and entry number, atomically), then `XREAD` from there. A stream trimmed past
    this reader (the numbers `n` jump) or started over, or a different Redis run id after a read error, means
    a resync from the snapshot: counted in `resyncs`, declared as a gap (`mirror_holes`); what was read twice
    counts once (`stream.Reader`)."""

    def __init__(
        self, backend: RedisBackend, keys: list[Keys], cache: QuoteCache, clock: Clock, stats: dict[str, Any]
    ) -> None:
        self.backend, self.keys, self.clock, self.stats = backend, keys, clock, stats
        self.mirror = Mirror(cache)
        self.reader = Reader(self.mirror)
        self.last: dict[str, str] = {}
        self.run_id = ""
        stats.setdefault("resyncs", 0)

    async def resync(self, keys: list[Keys] | None = None, hole: bool = False) -> None:
        run_id = await bounded(self.backend.run_id())
        for k in keys or self.keys:
            last, seq, snap = await bounded(self.backend.snapshot(k))
            self.reader.resynced(k.ticks, seq, list(snap.values()), self.clock.now(), hole)
            self.last[k.ticks] = last
        self.run_id = run_id  # only once every stream is loaded: a failed start is no hole
        self.stats["resyncs"] = self.reader.resyncs

    async def pull(self, block_ms: int = 500) -> None:
        """One `XREAD` of every stream, applied; a stream the reader refuses is resynced at once."""
        got = await self.backend.read(self.last, block_ms=block_ms)
        now = self.clock.now()
        behind = []
        for stream, entries in got:
            for entry_id, fields in entries:
                if not self.reader.take(stream, fields, now):
                    behind += [k for k in self.keys if k.ticks == stream]
                    break
                self.last[stream] = entry_id
        if behind:
            await self.resync(behind, hole=True)
        self._publish()

    async def run(self) -> None:
        synced = False
        while True:
            stop_if_cancelled()
            try:
                if not synced:
                    await self.resync(hole=bool(self.run_id))
                    synced = True
                await self.pull()
            except STORE_ERRORS:
                self.stats["follower_errors"] = self.stats.get("follower_errors", 0) + 1
                await asyncio.sleep(0.2)  # real time: the link is down, nothing to wait for on the clock
                try:
                    run_id = await bounded(self.backend.run_id())
                except STORE_ERRORS:
                    continue
                if run_id != self.run_id:
                    synced = False

    def _publish(self) -> None:
        m = self.mirror
        lag = m.last_lag
        self.stats.update(
            relay_lag_ms=None if lag is None else round(lag * 1000, 3),
            mirror_applied=m.applied,
            mirror_stale=m.stale,
            mirror_gaps=m.gaps,
            mirror_holes=m.holes,
            mirror_malformed=m.malformed,
        )


class SharedLimiter:
    """The REST budget shared by all replicas for one appkey: the GCRA script. If Redis cannot be reached
    the local `Pacer` at `budget / R` takes over, so the sum stays within the budget: R is the live-member
    count this replica last saw (`members`, kept by `heartbeat.Heartbeat`), or `replicas` without one.

    The switch to the fallback counts as a full window already spent: the budget of the second before may
    have gone through Redis (a store call that timed out may even have taken a slot), so a fallback that
    started with a full bucket would add `R` calls at once on top of it (tox -e scale seed 4: one store
    timeout under load, three calls in one second against a budget of two)."""

    def __init__(
        self,
        backend: RedisBackend,
        keys: Keys,
        clock: Clock,
        rps: float,
        replicas: int = 2,
        max_wait: float = 2.0,
        members: LiveCount | None = None,
        stats: dict[str, Any] | None = None,
    ) -> None:
        self.backend, self.keys, self.clock, self.rps = backend, keys, clock, rps
        self.interval, self.max_wait_us = gcra.interval_us(rps), round(max_wait * gcra.US)
        self.members = members or LiveCount(guess=max(1, replicas))
        self.share = self.members.divisor()
        self.fallback = Pacer(rps / self.share, clock, max_wait)
        self.degraded = False  # the last call could not reach the store
        self.stats = stats if stats is not None else {}
        self.stats.setdefault("limiter_fallbacks", 0)

    def pacer(self, now: float) -> Pacer:
        """The fallback at today's share; a new count keeps the slots already granted."""
        share = self.members.divisor()
        if share != self.share:
            old, self.share = self.fallback, share
            self.fallback = Pacer(self.rps / share, self.clock, old.max_wait)
            self.fallback._times = old._times
        if not self.degraded:
            self.degraded = True
            self.fallback._times.extend([now] * self.fallback.burst)
        return self.fallback

    async def acquire(self) -> None:
        now = self.clock.now()
        try:
            wait = await bounded(
                self.backend.gcra(self.keys, round(now * gcra.US), self.interval, self.max_wait_us)
            )
        except STORE_ERRORS:
            self.stats["limiter_fallbacks"] += 1
            await self.pacer(now).acquire()
            return
        self.degraded = False
        if wait < 0:
            raise RestError("budget", "shared REST budget exhausted for this appkey")
        if wait > 0:
            await self.clock.sleep_until(now + wait / gcra.US)


class SharedToken:
    """The access token shared through Redis with the 61 s issuance gate; the token file stays as a second
    guard on the same host. Installed on a `RestClient` by `install`."""

    POLL = 0.25
    WAIT = 5.0

    def __init__(self, rest: RestClient, backend: RedisBackend, keys: Keys) -> None:
        self.rest, self.backend, self.keys = rest, backend, keys

    async def token(self) -> str:
        rest = self.rest
        now = rest.clock.now()
        deadline = now + self.WAIT
        while True:
            try:
                kind, value = await bounded(
                    self.backend.token_claim(self.keys, ms(now), ms(REFRESH_MARGIN), ms(GATE_S))
                )
            except STORE_ERRORS:
                return await rest.file_access_token()
            if kind == "use":
                exp_ms, tok = value.split(":", 1)
                rest.log.redact.add(tok)
                rest._token, rest._token_expires = tok, int(exp_ms) / 1000
                return tok
            if kind == "issue":
                tok = await rest.file_access_token()  # the file's own gate and cache still apply
                try:
                    await bounded(self.backend.token_store(self.keys, tok, ms(rest._token_expires), ms(now)))
                except STORE_ERRORS:
                    pass
                return tok
            if now >= deadline:
                raise RestError("token", "token issuance in progress on another replica")
            await rest.clock.sleep_until(min(deadline, now + self.POLL))
            now = rest.clock.now()

    async def drop(self, rejected: str | None) -> None:
        if rejected:
            try:
                await bounded(self.backend.token_drop(self.keys, rejected))
            except STORE_ERRORS:
                pass
