"""The leader's side of the fan-out: `Relay` queues what the KIS session received and writes it to the
appkey's Stream in fenced batches; `RelayWorker` is the WebSocket worker that feeds it.

The receive loop never awaits Redis: `offer` appends to a bounded queue (10k entries) and one writer task
drains it in batches of up to 256 per call. On overflow the oldest entries are dropped, counted, and a
`gap-start` entry says so. A batch the store refuses as fenced (this replica no longer holds the lease with
this epoch) is dropped and counted: a deposed leader cannot write (docs/stream-format.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from gateway.codec import TRADE_VENUES
from gateway.coord.redis_backend import Keys, RedisBackend, RedisError
from gateway.coord.stream import DATA, GAP_END, GAP_START, SESSION
from gateway.session import ClientSession
from gateway.worker import QuoteWorker
from kisclock import Clock

QUEUE_MAX = 10_000
BATCH = 256


def _ms(t: float) -> str:
    return f"{t * 1000:.3f}"


class Relay:
    def __init__(self, backend: RedisBackend, keys: Keys, clock: Clock, stats: dict[str, Any]) -> None:
        self.backend, self.keys, self.clock, self.stats = backend, keys, clock, stats
        self.epoch = 0
        self._queue: deque[tuple[str, str, str, str]] = deque()
        self._wake = asyncio.Event()
        for name in ("published", "fenced", "dropped", "publish_errors"):
            stats.setdefault(name, 0)

    def offer(self, text: str, received_at: float) -> None:
        """A data frame as KIS sent it (plain `0|TR|NNN|...`); called from the receive loop, never blocks."""
        if not text.startswith("0|") or self.epoch <= 0:
            return
        parts = text.split("|", 3)
        symbol = parts[3].split("^", 1)[0] if len(parts) == 4 else ""
        self._put(
            (DATA, _ms(received_at), text, symbol if len(parts) == 4 and parts[1] in TRADE_VENUES else "")
        )

    def mark(self, kind: str, why: str) -> None:
        if self.epoch > 0:
            self._put((kind, _ms(self.clock.now()), why, ""))

    def _put(self, item: tuple[str, str, str, str]) -> None:
        if len(self._queue) >= QUEUE_MAX:
            self._queue.popleft()
            self.stats["dropped"] += 1
            if self._queue[0][0] != GAP_START:
                self._queue.appendleft((GAP_START, _ms(self.clock.now()), "relay queue overflow", ""))
        self._queue.append(item)
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = [self._queue[i] for i in range(min(BATCH, len(self._queue)))]
                epoch = self.epoch
                try:
                    n = await self.backend.publish(self.keys, epoch, round(self.clock.now() * 1000), batch)
                except (RedisError, OSError, TimeoutError):
                    self.stats["publish_errors"] += 1
                    await asyncio.sleep(0.05)  # the link is down: the lease machine decides what happens
                    continue
                for _ in batch:
                    self._queue.popleft()
                if n < 0:
                    self.stats["fenced"] += len(batch)
                else:
                    self.stats["published"] += n

    def session(self, why: str) -> None:
        self.mark(SESSION, why)


class RelayWorker(QuoteWorker):
    """The WebSocket worker of a lease holder: everything as in `QuoteWorker`, plus each data frame offered
    to the relay and each connection's start and end marked in the stream."""

    relay: Relay | None = None
    lease: Any = None  # the LeaseRunner driving this worker (step-mode tests read its machine)

    @classmethod
    def like(cls, worker: QuoteWorker, relay: Relay) -> RelayWorker:
        new = cls(
            worker.cfg, worker.rest, worker.cache, worker.metrics, worker.log, worker.clock, worker.connect
        )
        new.policy, new.ingest = worker.policy, worker.ingest
        new.relay = relay
        return new

    def on_message(self, session: ClientSession, text: str) -> list[str]:
        replies = super().on_message(session, text)
        if self.relay is not None and text[:2] == "0|":
            self.relay.offer(text, self.metrics.ws_last_message_at or self.clock.now())
        return replies

    def opened(self, now: float) -> ClientSession:
        if self.relay is not None:
            self.relay.mark(GAP_END, "session open")
        return super().opened(now)

    def closed(self, code: int | None, reason: str = "") -> bool:
        if self.relay is not None:
            self.relay.mark(GAP_START, f"session closed ({code})")
        return super().closed(code, reason)


async def cancel(task: asyncio.Task[Any] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
