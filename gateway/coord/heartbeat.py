"""The shell that keeps this replica in the live-member set (`members`): one beat every `every` seconds on
the injected clock, the count handed to a `LiveCount` that the shared REST limiters read when Redis is gone.
On stop it leaves the set, so the others count one less at once instead of after the TTL."""

from __future__ import annotations

import contextlib
from typing import Any

from gateway.coord.members import LiveCount, MemberParams
from gateway.coord.redis_backend import Keys, RedisBackend
from gateway.coord.replica import STORE_ERRORS, bounded, ms, stop_if_cancelled
from kisclock import Clock


class Heartbeat:
    def __init__(
        self,
        backend: RedisBackend,
        keys: Keys,
        clock: Clock,
        stats: dict[str, Any],
        params: MemberParams | None = None,
        count: LiveCount | None = None,
    ) -> None:
        self.backend, self.keys, self.clock, self.stats = backend, keys, clock, stats
        self.params = params or MemberParams()
        self.count = count or LiveCount(hold=self.params.ttl)
        stats.setdefault("members", None)

    async def beat(self) -> None:
        now = self.clock.now()
        try:
            n = await bounded(self.backend.beat(self.keys, ms(now), ms(self.params.ttl)))
        except STORE_ERRORS:
            self.stats["member_errors"] = self.stats.get("member_errors", 0) + 1
            return
        self.count.seen(n, now)
        self.stats["members"] = self.count.last

    async def run(self) -> None:
        try:
            while True:
                stop_if_cancelled()
                due = self.clock.now() + self.params.every
                await self.beat()
                await self.clock.sleep_until(due)
        finally:
            with contextlib.suppress(*STORE_ERRORS):
                await bounded(self.backend.leave(self.keys))
