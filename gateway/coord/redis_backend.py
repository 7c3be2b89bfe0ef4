"""The Redis shell: carries bytes and runs the Lua scripts of `scripts`; every decision lives in the pure
cores. One `RedisBackend` per process, one `Keys` per (env, appkey); keys are prefixed with a hash tag so all
of one appkey's keys share a Redis Cluster slot (docs/scaling.md, "Key schema"). The raw appkey is never
stored: keys carry its 16-hex id.

redis-py (asyncio) is imported here only: the default local mode needs no Redis client installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.coord import scripts
from gateway.coord.stream import DATA

__all__ = ["Keys", "RedisBackend", "RedisError"]

STREAM_MAXLEN = 50_000


@dataclass(frozen=True, slots=True)
class Keys:
    env: str
    ident: str  # credentials.appkey_id(env, appkey)

    def _k(self, name: str) -> str:
        return f"kis:{{{self.env}:{self.ident}}}:{name}"

    @property
    def lease(self) -> str:
        return self._k("lease")

    @property
    def epoch(self) -> str:
        return self._k("epoch")

    @property
    def vacant(self) -> str:
        return self._k("lease:vacant")

    @property
    def ticks(self) -> str:
        return self._k("ticks")

    @property
    def seq(self) -> str:
        return self._k("ticks:seq")

    @property
    def quotes(self) -> str:
        return self._k("quotes")

    @property
    def rest(self) -> str:
        return self._k("rest")

    @property
    def token(self) -> str:
        return self._k("token")

    @property
    def gate(self) -> str:
        return self._k("token:gate")

    @property
    def approval(self) -> str:
        return self._k("approval")

    @property
    def events(self) -> str:
        return f"kis:{{{self.env}}}:events"

    @property
    def members(self) -> str:
        return f"kis:{{{self.env}}}:members"


def client(url: str, timeout: float = 1.0) -> aioredis.Redis:
    """A client for `redis://`, `rediss://` or `unix://` URLs, with bounded socket waits so a blackholed
    link turns into an error (and a lease step-down) instead of a hang."""
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=0,
    )


class RedisBackend:
    def __init__(self, url: str, owner: str, timeout: float = 1.0, maxlen: int = STREAM_MAXLEN) -> None:
        if ":" in owner:
            raise ValueError("owner ids may not contain ':' (it separates the lease value's fields)")
        self.url, self.owner, self.maxlen = url, owner, maxlen
        self.r = client(url, timeout)
        self._acquire = self.r.register_script(scripts.ACQUIRE)
        self._renew = self.r.register_script(scripts.RENEW)
        self._release = self.r.register_script(scripts.RELEASE)
        self._publish = self.r.register_script(scripts.PUBLISH)
        self._snapshot = self.r.register_script(scripts.SNAPSHOT)
        self._gcra = self.r.register_script(scripts.GCRA)
        self._claim = self.r.register_script(scripts.TOKEN_CLAIM)
        self._drop = self.r.register_script(scripts.TOKEN_DROP)
        self._beat = self.r.register_script(scripts.MEMBERS_BEAT)

    async def aclose(self) -> None:
        await self.r.aclose()

    async def run_id(self) -> str:
        info = await self.r.info("server")
        return str(info.get("run_id", ""))

    # -- lease ---------------------------------------------------------------------------------
    async def acquire(self, k: Keys, ttl_ms: int, now_ms: int, grace_ms: int = 0) -> int:
        return int(
            await self._acquire(
                keys=[k.lease, k.epoch, k.vacant], args=[self.owner, ttl_ms, now_ms, 10 * ttl_ms, grace_ms]
            )
        )

    async def renew(self, k: Keys, epoch: int, ttl_ms: int, now_ms: int) -> int:
        return int(
            await self._renew(
                keys=[k.lease, k.epoch, k.vacant], args=[self.owner, epoch, ttl_ms, now_ms, 10 * ttl_ms]
            )
        )

    async def release(self, k: Keys, epoch: int) -> bool:
        return bool(await self._release(keys=[k.lease, k.events], args=[self.owner, epoch, k.ident, 60_000]))

    # -- fan-out -------------------------------------------------------------------------------
    async def publish(
        self, k: Keys, epoch: int, now_ms: int, entries: list[tuple[str, str, str, str]]
    ) -> int:
        """Append `(kind, r, payload, symbol)` entries in one fenced call; the count, or -1 when fenced."""
        args: list[Any] = [self.owner, epoch, now_ms, self.maxlen]
        for kind, r, payload, symbol in entries:
            args += [kind, r, payload, symbol if kind == DATA else ""]
        return int(await self._publish(keys=[k.lease, k.ticks, k.quotes, k.seq], args=args))

    async def snapshot(self, k: Keys) -> tuple[str, int, dict[str, dict[str, str]]]:
        """The stream's last id, the number of its last entry (`n`, 0 when none), and the latest data entry
        per symbol as stream-format fields."""
        last, seq, flat = await self._snapshot(keys=[k.quotes, k.ticks, k.seq])
        out: dict[str, dict[str, str]] = {}
        for symbol, value in zip(flat[::2], flat[1::2], strict=True):
            parts = str(value).split("|", 3)
            if len(parts) == 4:
                out[str(symbol)] = {"k": DATA, "e": parts[1], "r": parts[2], "f": parts[3], "id": parts[0]}
        return str(last), int(seq), out

    async def read(
        self, last_ids: dict[str, str], block_ms: int = 1000, count: int = 500
    ) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
        got: Any = await self.r.xread(last_ids, count=count, block=block_ms)  # type: ignore[arg-type]
        return [(str(s), [(str(i), dict(f)) for i, f in entries]) for s, entries in (got or [])]

    # -- REST limiter and token ----------------------------------------------------------------
    async def gcra(self, k: Keys, now_us: int, interval_us: int, max_wait_us: int) -> int:
        return int(await self._gcra(keys=[k.rest], args=[now_us, interval_us, max_wait_us]))

    async def token_claim(self, k: Keys, now_ms: int, margin_ms: int, gate_ms: int) -> tuple[str, str]:
        kind, value = await self._claim(
            keys=[k.token, k.gate], args=[now_ms, margin_ms, gate_ms, 10 * gate_ms]
        )
        return str(kind), str(value)

    async def token_store(self, k: Keys, token: str, expires_ms: int, now_ms: int) -> None:
        await self.r.set(k.token, f"{expires_ms}:{token}", px=max(1000, expires_ms - now_ms))

    async def token_drop(self, k: Keys, rejected: str) -> bool:
        return bool(await self._drop(keys=[k.token], args=[rejected]))

    # -- live members -------------------------------------------------------------------------
    async def beat(self, k: Keys, now_ms: int, ttl_ms: int) -> int:
        """Mark this replica alive at `now_ms`; the number of live replicas in `k.env`."""
        return int(await self._beat(keys=[k.members], args=[self.owner, now_ms, ttl_ms, 10 * ttl_ms]))

    async def leave(self, k: Keys) -> bool:
        return bool(await self.r.zrem(k.members, self.owner))
