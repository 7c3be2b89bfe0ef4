"""The WebSocket worker: a thin asyncio shell that moves text between the socket and the sans-I/O
`ClientSession`, updates the cache and metrics, and reconnects forever with capped, jittered backoff.

`supervise` owns the worker task: an exception that escapes `run_with_reconnect` is counted in
`worker_restarts`, logged (masked) and the worker is started again; nothing dies silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from gateway import session as s
from gateway.cache import QuoteCache
from gateway.codec import Frame
from gateway.config import Config
from gateway.metrics import Metrics
from gateway.redact import StageLog
from gateway.rest import RestClient, RestError
from kisclock import Clock, sleep

# Server-side refusals that mean "stop hammering": another process holds the appkey (F2).
_HOLD_OFF = {"OPSP8996"}
HOLD_OFF_FAILURES = 5  # with the defaults: the next attempt waits 15-30 s, not a second


class QuoteWorker:
    def __init__(
        self,
        cfg: Config,
        rest: RestClient,
        cache: QuoteCache,
        metrics: Metrics,
        log: StageLog,
        clock: Clock,
        connect: Callable[..., Any] = websockets.connect,
        rng: random.Random | None = None,
    ) -> None:
        self.cfg, self.rest, self.cache, self.metrics, self.log, self.clock = (
            cfg,
            rest,
            cache,
            metrics,
            log,
            clock,
        )
        self.connect = connect
        self.rng = rng or random.Random()
        self.failures = 0  # consecutive attempts that never became healthy (no ack)
        self._fresh_approval = False
        self._hold_off = False
        self._acked = False  # the current connection had a subscription acked
        self._approval_refusals = 0  # OPSP0011 in a row
        self._conn_error: str | None = None  # what the server last said was wrong, per connection
        self._last_rx = 0.0
        self.conn_received = 0  # texts received on the current connection
        self.session: s.ClientSession | None = None

    def backoff(self) -> float:
        """Equal jitter: half of min(cap, base * 2^failures) plus a random half, so reconnects spread out
        but never come faster than the floor (a storm of reconnects can get an appkey blocked, F13)."""
        ceiling = min(self.cfg.backoff_cap_s, self.cfg.backoff_base_s * (2 ** min(self.failures, 16)))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

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
            if self._hold_off:  # the server refused the session: stop hammering it
                self.failures = max(self.failures + 1, HOLD_OFF_FAILURES)
                self._hold_off = False
            else:
                self.failures = 0 if healthy else self.failures + 1
            delay = self.backoff()
            self.log.event("ws_reconnect_wait", seconds=round(delay, 3), failures=self.failures)
            self.metrics.ws_next_attempt_at = self.clock.now() + delay
            try:
                await self.clock.sleep_until(self.metrics.ws_next_attempt_at)
            finally:
                self.metrics.ws_next_attempt_at = None

    async def connect_once(self) -> bool:
        """One connection's life. True if it was healthy: the server acked a subscription (backoff resets).
        A connection that only carried refusals or PINGPONG is not healthy."""
        approval = await self.rest.approval_key(fresh=self._fresh_approval)
        self._fresh_approval = False
        self._acked = False
        async with self.connect(
            self.cfg.ws_url,
            ping_interval=None,
            compression=None,
            open_timeout=10,
            close_timeout=2,
            max_size=2**22,
        ) as ws:
            now = self.clock.now()
            if self.metrics.ws_connects:
                self.metrics.ws_reconnects += 1
            self.metrics.ws_connects += 1
            self.metrics.ws_connected = True
            self.metrics.reach("connected", now)
            self.log.event("ws_connect", url=self.cfg.ws_url, attempt=self.metrics.ws_connects)
            session = self.session = s.ClientSession.for_symbols(self.cfg.symbols)
            self._conn_error = None
            self.conn_received = 0
            self._last_rx = now
            watchdog = asyncio.create_task(self._watchdog(ws, opened=now))
            code: int | None = None
            try:
                await self.subscribe(ws, session, approval)
                async for message in ws:
                    self.conn_received += 1
                    text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                    for reply in self.on_message(session, text):
                        await ws.send(reply)
            except ConnectionClosed as e:
                # Our own close (e.g. 1007 for invalid UTF-8) says more than the echo; no frame at all is 1006.
                ours = e.sent is not None and (e.rcvd is None or not e.rcvd_then_sent)
                code = e.sent.code if ours and e.sent else e.rcvd.code if e.rcvd else 1006
            finally:
                watchdog.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watchdog
                self.metrics.ws_connected = False
                self.metrics.ws_subscriptions = 0
            if code is None:
                code = ws.close_code
            self.log.event(
                "ws_close",
                code=code,
                reason=ws.close_reason or "",
                healthy=self._acked,
                level=logging.WARNING,
            )
            if code != 1000:  # keep the cause if the server told us one before closing
                cause = self._conn_error
                self.metrics.last_error = (
                    f"{cause} (then closed with code {code})"
                    if cause
                    else f"websocket closed with code {code}"
                )
        return self._acked

    async def subscribe(self, ws: Any, session: s.ClientSession, approval_key: str) -> None:
        """Send the whole desired set: after a reconnect the new connection has nothing registered."""
        messages = session.subscribe_messages(approval_key)
        for text in messages:
            await ws.send(text)
        self.log.event(
            "ws_subscribe_sent", count=len(messages), subscriptions=[list(x) for x in session.desired]
        )

    def on_message(self, session: s.ClientSession, text: str) -> list[str]:
        """Handle one received message; returns what to send back."""
        now = self._last_rx = self.clock.now()
        replies: list[str] = []
        for out in session.receive(text):
            if type(out) is Frame:
                self._ingest(out, now)
            elif isinstance(out, s.Reply):
                replies.append(out.text)
            elif isinstance(out, s.Heartbeat):
                self.metrics.ws_pingpongs += 1
            elif isinstance(out, s.Acked):
                self.metrics.ws_subscriptions = session.subscriptions
                if out.msg_cd != "OPSP0001":
                    self._acked = True  # healthy now: the failure streak is over
                    self.failures = 0
                    self._approval_refusals = 0
                    first = self.metrics.reach("subscribed", now)
                    self.log.event(
                        "ws_subscribe",
                        tr_id=out.tr_id,
                        tr_key=out.tr_key,
                        msg_cd=out.msg_cd,
                        acked=session.subscriptions,
                        first=first,
                    )
            elif isinstance(out, s.Refused):
                self.metrics.ws_refusals[out.msg_cd] += 1
                self._error(f"{out.msg_cd} {out.msg1} ({out.tr_id} {out.tr_key})")
                if out.msg_cd == "OPSP0011":
                    # One fresh approval key (it may have expired or come from the other environment);
                    # refused again, the key is not the problem: back off.
                    self._approval_refusals += 1
                    self._fresh_approval = True
                    if self._approval_refusals > 1:
                        self._hold_off = True
            elif isinstance(out, s.SessionError):
                self.metrics.ws_refusals[out.msg_cd] += 1
                self._error(f"{out.msg_cd} {out.msg1}")
                if out.msg_cd in _HOLD_OFF:
                    self._hold_off = True
            elif isinstance(out, s.Malformed):
                self.metrics.ws_malformed += 1
                self.log.event("ws_malformed", reason=out.reason, level=logging.WARNING)
        return replies

    def _ingest(self, frame: Frame, now: float) -> None:
        m = self.metrics
        m.ws_messages += 1
        m.ws_records += frame.count
        if m.reach("first_message", now):
            self.log.event("ws_first_message", tr_id=frame.tr_id, records=frame.count)
        if frame.tr_id != "H0STCNT0":
            return
        fields, cache = frame.fields, self.cache
        if frame.count == 1:  # the common case: no loop, no `or` chain
            cached = cache.update_from_h0stcnt0(fields, 0, now)
        else:
            width, cached = frame.width, False
            for i in range(frame.count):
                cached = cache.update_from_h0stcnt0(fields, i * width, now) or cached
        if cached and m.reach("cached", now):
            self.log.event("ws_cached", symbol=fields[0])

    async def _watchdog(self, ws: Any, opened: float) -> None:
        """Two ways a connection is dead though the socket looks open:
        no message at all (PINGPONG included) for `idle_timeout_s` (F1 half-open), or no ack for any
        subscription within `ack_timeout_s` of `opened` (requests swallowed). Either aborts, and the loop
        reconnects. `opened` comes from the caller: the task may first run after the clock has moved."""
        while True:
            ack_due = None if self._acked else opened + self.cfg.ack_timeout_s
            idle_due = self._last_rx + self.cfg.idle_timeout_s
            await self.clock.sleep_until(min(idle_due, ack_due) if ack_due else idle_due)
            now = self.clock.now()
            if now >= self._last_rx + self.cfg.idle_timeout_s:
                problem = f"no message for {self.cfg.idle_timeout_s:g}s; reconnecting"
            elif not self._acked and now >= opened + self.cfg.ack_timeout_s:
                problem = f"no subscribe ack within {self.cfg.ack_timeout_s:g}s; reconnecting"
            else:
                continue
            self._error(problem)
            ws.transport.abort()
            return

    def _error(self, text: str) -> None:
        masked = self.log.redact(text)
        self.metrics.last_error = self._conn_error = masked
        self.log.event("ws_error", error=masked, level=logging.WARNING)


async def supervise(worker: QuoteWorker, restart_delay: float = 1.0) -> None:
    """Run the worker forever; a crash is counted, logged and restarted."""
    while True:
        try:
            await worker.run_with_reconnect()
            raise RuntimeError("run_with_reconnect returned")
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - the supervisor's whole job
            worker.metrics.worker_restarts += 1
            worker.metrics.ws_connected = False
            worker._error(f"worker crashed: {type(e).__name__}: {e}")
            worker.log.event(
                "ws_worker_restart", restarts=worker.metrics.worker_restarts, level=logging.ERROR
            )
            await sleep(worker.clock, restart_delay)
