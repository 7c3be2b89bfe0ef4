"""The WebSocket worker: a pump that moves text between the socket and the sans-I/O cores. `ClientSession`
decides what each text means, `ConnectionPolicy` decides when to reconnect and when a connection is dead,
`Ingest` (gateway/ingest.py) turns what happened into cache, metrics and log updates; the worker only
connects, sends, receives and sleeps until the policy's next deadline on the injected clock.

`supervise` holds the worker's task and restarts it, counted and logged, if it ever ends. It stays here,
beside the loop it supervises (about 30 lines), so the contract names live in one module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any, Protocol

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from gateway.cache import QuoteCache
from gateway.config import Config
from gateway.ingest import Ingest
from gateway.metrics import Metrics
from gateway.policy import ConnectionPolicy, close_code
from gateway.redact import StageLog
from gateway.rest import RestError
from gateway.session import ClientSession
from kisclock import Clock, sleep


class ApprovalSource(Protocol):
    async def approval_key(self, fresh: bool = False) -> str: ...


class QuoteWorker:
    def __init__(
        self,
        cfg: Config,
        rest: ApprovalSource,
        cache: QuoteCache,
        metrics: Metrics,
        log: StageLog,
        clock: Clock,
        connect: Callable[..., Any] = websockets.connect,
        rng: random.Random | None = None,
    ) -> None:
        self.cfg, self.rest, self.cache, self.metrics, self.log = cfg, rest, cache, metrics, log
        self.clock, self.connect = clock, connect
        self.policy = ConnectionPolicy(
            cfg.idle_timeout_s, cfg.ack_timeout_s, cfg.backoff_base_s, cfg.backoff_cap_s, rng
        )
        self.ingest = Ingest(cache, metrics, log, self.policy)
        self.conn_received = 0  # texts received on the current connection
        self.task: asyncio.Task[None] | None = None  # run_with_reconnect, held by `supervise`

    @property
    def failures(self) -> int:
        return self.policy.failures

    async def run_with_reconnect(self) -> None:
        self.metrics.reach("worker_started", self.clock.now())
        self.log.event(
            "ws_worker_start", env=self.cfg.env, ws_url=self.cfg.ws_url, symbols=list(self.cfg.symbols)
        )
        while True:
            healthy = False
            try:
                healthy = await self.connect_once()
            except RestError as e:
                self._error(f"approval key: {e}")
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as e:
                self._error(f"connect {self.cfg.ws_url}: {type(e).__name__}: {e}")
            delay = self.policy.end_attempt(healthy)
            self.log.event("ws_reconnect_wait", seconds=round(delay, 3), failures=self.policy.failures)
            self.metrics.ws_next_attempt_at = self.clock.now() + delay
            try:
                await self.clock.sleep_until(self.metrics.ws_next_attempt_at)
            finally:
                self.metrics.ws_next_attempt_at = None

    async def connect_once(self) -> bool:
        """One connection's life. True if it was healthy: the server acked a subscription (backoff resets).
        A connection that only carried refusals or PINGPONG is not healthy."""
        approval = await self.rest.approval_key(fresh=self.policy.begin_attempt())
        self.policy.on_approval()
        async with self.connect(
            self.cfg.ws_url,
            ping_interval=None,
            compression=None,
            open_timeout=10,
            close_timeout=2,
            max_size=2**22,
        ) as ws:
            session = self.opened(self.clock.now())
            watchdog = asyncio.create_task(self._watchdog(ws))
            code: int | None = None
            try:
                await self.subscribe(ws, session, approval)
                async for message in ws:
                    self.conn_received += 1
                    text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                    for reply in self.on_message(session, text):
                        await ws.send(reply)
            except ConnectionClosed as e:
                sent, rcvd = e.sent.code if e.sent else None, e.rcvd.code if e.rcvd else None
                code = close_code(sent, rcvd, e.rcvd_then_sent)
            finally:
                watchdog.cancel()
                # Wait for the watchdog without `suppress(CancelledError)`: that would also swallow a
                # cancellation of this task arriving right here (the app stopping), and the worker would
                # reconnect forever while shutdown waited for it. `asyncio.wait` never raises the
                # watchdog's own CancelledError, and lets ours through.
                await asyncio.wait({watchdog})
                self.metrics.ws_connected = False  # on an exception or cancellation too
                self.metrics.ws_subscriptions = 0
            return self.closed(ws.close_code if code is None else code, ws.close_reason or "")

    def opened(self, now: float) -> ClientSession:
        """A connection is open: a new session, so nothing (acked set, AES keys) leaks from the last one."""
        self.ingest.opened(now, self.cfg.ws_url)
        self.conn_received = 0
        return ClientSession.for_symbols(self.cfg.symbols, self.cfg.trade_trs)

    def closed(self, code: int | None, reason: str = "") -> bool:
        """The connection is gone; returns whether it was healthy."""
        return self.ingest.closed(code, reason)

    async def subscribe(self, ws: Any, session: ClientSession, approval_key: str) -> None:
        """Send the whole desired set: after a reconnect the new connection has nothing registered."""
        messages = session.subscribe_messages(approval_key)
        for text in messages:
            await ws.send(text)
        self.log.event(
            "ws_subscribe_sent", count=len(messages), subscriptions=[list(x) for x in session.desired]
        )

    def on_message(self, session: ClientSession, text: str) -> list[str]:
        """Handle one received message; returns what to send back. Never raises (see `Ingest.receive`)."""
        return self.ingest.receive(session, text, self.clock.now())

    async def _watchdog(self, ws: Any) -> None:
        """Sleep until the policy's next deadline; when one fires (idle F1, or no ack), abort the socket
        and the loop reconnects."""
        while (due := self.policy.next_deadline(self.clock.now())) is not None:
            await self.clock.sleep_until(due)
            problem = self.policy.on_deadline(self.clock.now())
            if problem is not None:
                self._error(problem)
                ws.transport.abort()
                return

    def _error(self, text: str) -> None:
        self.ingest.error(text)


async def supervise(worker: QuoteWorker, restart_delay: float = 1.0) -> None:
    """Run the worker forever in a task held here (a task nobody references can be garbage-collected);
    however it ends (crash, return, cancelled by someone else) is counted, logged and restarted."""
    while True:
        task = worker.task = asyncio.create_task(worker.run_with_reconnect(), name="kis-ws-run")
        worker.metrics.worker_running = True
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:  # the app is stopping: the worker stops with it
            worker.metrics.worker_running = False
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise
        worker.metrics.worker_running = False
        e = None if task.cancelled() else task.exception()
        why = (
            f"{type(e).__name__}: {e}"
            if e
            else "task cancelled"
            if task.cancelled()
            else "run_with_reconnect returned"
        )
        worker.metrics.worker_restarts += 1
        worker.metrics.ws_connected = False
        worker._error(f"worker crashed: {why}")
        worker.log.event("ws_worker_restart", restarts=worker.metrics.worker_restarts, level=logging.ERROR)
        await sleep(worker.clock, restart_delay)
