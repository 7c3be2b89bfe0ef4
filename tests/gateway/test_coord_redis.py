"""The Redis shell against a real redis-server: each Lua script agrees with the pure core it repeats
(lease, GCRA, token gate), the fenced publish refuses a stale epoch or an expired lease, a follower
rebuilds the quotes from the snapshot and the stream, and one the trim passed resyncs and declares a gap."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis_server import RedisServer

from gateway.cache import QuoteCache
from gateway.coord.gcra import reserve
from gateway.coord.lease import LeaseTable
from gateway.coord.redis_backend import Keys, RedisBackend
from gateway.coord.replica import Follower
from gateway.coord.stream import DATA, GAP_START, Mirror
from gateway.coord.tokengate import GATE_S, Issue, TokenTable, Use, Wait
from kisclock import ManualClock

_ids = itertools.count()


def fresh_keys() -> Keys:
    return Keys("mock", f"{next(_ids):016x}")


def run(server: RedisServer, body: Callable[[dict[str, RedisBackend]], Awaitable[None]]) -> None:
    async def main() -> None:
        backends = {o: RedisBackend(server.url, o) for o in ("a", "b", "c")}
        try:
            await body(backends)
        finally:
            for b in backends.values():
                await b.aclose()

    asyncio.run(main())


lease_ops = st.lists(
    st.tuples(
        st.sampled_from(["acquire", "renew", "release", "publish"]),
        st.sampled_from("abc"),
        st.integers(0, 4000),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=25, deadline=None)
@given(ops=lease_ops)
def test_lease_scripts_agree_with_the_pure_store(
    shared_redis: RedisServer, ops: list[tuple[str, str, int]]
) -> None:
    async def body(b: dict[str, RedisBackend]) -> None:
        k, model, now = fresh_keys(), LeaseTable(), 1_000_000
        epochs = dict.fromkeys("abc", 0)  # what each owner last got
        for op, who, gap in ops:
            now += gap
            if op == "acquire":
                got = await b[who].acquire(k, 5000, now, 2000)
                assert got == model.acquire("L", who, 5000, now, 2000), (op, who, now)
                epochs[who] = got or epochs[who]
            elif op == "renew":
                got = await b[who].renew(k, epochs[who], 5000, now)
                assert got == model.renew("L", who, epochs[who], 5000, now), (op, who, now)
                epochs[who] = got or epochs[who]
            elif op == "release":
                assert await b[who].release(k, epochs[who]) == model.release("L", who, epochs[who])
            else:
                n = await b[who].publish(
                    k, epochs[who], now, [(DATA, str(now), "0|H0STCNT0|001|x", "005930")]
                )
                assert (n == 1) == model.may_publish("L", who, epochs[who], now), (op, who, now)

    run(shared_redis, body)


def test_a_stale_epoch_cannot_publish_after_a_takeover(shared_redis: RedisServer) -> None:
    async def body(b: dict[str, RedisBackend]) -> None:
        k = fresh_keys()
        e1 = await b["a"].acquire(k, 5000, 0)
        assert await b["a"].publish(k, e1, 100, [(DATA, "100", "0|H0STCNT0|001|1", "005930")]) == 1
        assert (
            await b["a"].publish(k, e1, 5000, [(DATA, "5000", "0|H0STCNT0|001|2", "005930")]) == -1
        )  # expired
        e2 = await b["b"].acquire(k, 5000, 5000)
        assert e2 == e1 + 1
        assert await b["b"].publish(k, e2, 5001, [(GAP_START, "5001", "taking over", "")]) == 1
        assert await b["a"].publish(k, e1, 5002, [(DATA, "5002", "0|H0STCNT0|001|3", "005930")]) == -1
        assert await b["a"].renew(k, e1, 5000, 5003) == 0
        entries = await b["c"].r.xrange(k.ticks)
        assert [(f["k"], f["e"]) for _, f in entries] == [(DATA, str(e1)), (GAP_START, str(e2))]

    run(shared_redis, body)


@settings(max_examples=25, deadline=None)
@given(
    gaps=st.lists(st.sampled_from([0, 0, 1000, 20_000, 55_556, 300_000, 1_500_000]), min_size=1, max_size=60),
    interval=st.sampled_from([55_556, 1_000_000]),
    max_wait=st.sampled_from([0, 500_000, 2_000_000]),
)
def test_the_gcra_script_agrees_with_the_pure_gcra(
    shared_redis: RedisServer,
    gaps: list[int],
    interval: int,
    max_wait: int,
) -> None:
    async def body(b: dict[str, RedisBackend]) -> None:
        k, tat, now = fresh_keys(), None, 1_764_000_000_000_000
        for gap in gaps:
            now += gap
            g = reserve(tat, now, interval, max_wait)
            tat = g.tat_us
            assert await b[random.choice("abc")].gcra(k, now, interval, max_wait) == g.wait_us

    run(shared_redis, body)


@settings(max_examples=25, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 90_000), st.sampled_from(["claim", "store", "drop"]), st.sampled_from("abc")
        ),
        max_size=30,
    )
)
def test_the_token_scripts_agree_with_the_pure_gate(
    shared_redis: RedisServer,
    steps: list[tuple[int, str, str]],
) -> None:
    async def body(b: dict[str, RedisBackend]) -> None:
        k, model, now, n = fresh_keys(), TokenTable(), 1_000_000_000, 0
        for gap, op, who in steps:
            now += gap
            if op == "claim":
                kind, value = await b[who].token_claim(k, now, 600_000, int(GATE_S * 1000))
                d = model.claim("T", now / 1000)
                if isinstance(d, Use):
                    assert (kind, value) == ("use", f"{round(d.expires_at * 1000)}:{d.token}")
                elif isinstance(d, Wait):
                    assert kind == "wait" and int(value) / 1000 + GATE_S == pytest.approx(d.retry_at)
                else:
                    assert isinstance(d, Issue) and kind == "issue"
            elif op == "store":
                n += 1
                exp = now + 86_400_000 * (n % 2)  # every other token is nearly expired
                await b[who].token_store(k, f"tok{n}", exp + 1000, now)
                model.store("T", f"tok{n}", (exp + 1000) / 1000)
            elif n:
                victim = f"tok{n - (gap % 2)}"
                assert await b[who].token_drop(k, victim) == model.drop("T", victim)

    run(shared_redis, body)


def frame(symbol: str, vol: int) -> str:
    f = ["0"] * 46
    f[0], f[1], f[2], f[13], f[33] = symbol, "090000", str(1000 + vol), str(vol), "20260105"
    return "0|H0STCNT0|001|" + "^".join(f)


def test_a_follower_rebuilds_quotes_from_snapshot_then_stream(shared_redis: RedisServer) -> None:
    async def body(b: dict[str, RedisBackend]) -> None:
        k = fresh_keys()
        e = await b["a"].acquire(k, 5000, 0)
        batch = [(DATA, f"{i}.000", frame(s, i), s) for i, s in enumerate(["005930", "000660", "005930"], 1)]
        assert await b["a"].publish(k, e, 10, batch) == 3
        last, seq, snap = await b["b"].snapshot(k)
        assert seq == 3  # the entries are numbered 1, 2, 3
        cache = QuoteCache()
        mirror = Mirror(cache)
        for fields in snap.values():
            mirror.apply(fields, 0.01)
        q = cache.get("005930")
        assert q is not None and q.volume == 3 and set(snap) == {"005930", "000660"}
        await b["a"].publish(k, e, 20, [(DATA, "4.000", frame("000660", 9), "000660")])
        got = await b["b"].read({k.ticks: last}, block_ms=100)
        assert [len(entries) for _, entries in got] == [1]
        for _, fields in got[0][1]:
            mirror.apply(fields, 0.02)
        q2 = cache.get("000660")
        assert q2 is not None and q2.volume == 9 and q2.received_at == pytest.approx(0.004)
        assert mirror.stale == 0 and mirror.applied == 3

    run(shared_redis, body)


SYMBOLS = ["005930", "000660", "035720"]


def test_a_follower_the_trim_passed_resyncs_from_the_snapshot_and_declares_a_gap(
    shared_redis: RedisServer,
) -> None:
    """Pause a follower (stop pulling), publish well past MAXLEN (20 here, injected), resume: the stream's
    numbers jump past the follower, so it reloads the snapshot (the mirror equals it), counts one resync,
    declares the hole, and counts no record twice; then it follows the stream again."""

    async def body(b: dict[str, RedisBackend]) -> None:
        k = fresh_keys()
        leader = RedisBackend(shared_redis.url, "L", maxlen=20)
        try:
            e = await leader.acquire(k, 60_000, 0)
            vol = dict.fromkeys(SYMBOLS, 0)

            async def publish(n: int) -> None:
                batch = []
                for i in range(n):
                    s = SYMBOLS[i % 3]
                    vol[s] += 1
                    batch.append((DATA, f"{vol[s]}.000", frame(s, vol[s]), s))
                assert await leader.publish(k, e, 10, batch) == n

            await publish(3)
            stats: dict[str, object] = {}
            cache = QuoteCache()
            f = Follower(b["b"], [k], cache, ManualClock(1.0), stats)
            await f.resync()
            await publish(3)
            await f.pull(block_ms=100)
            assert f.mirror.applied == 6 and stats["resyncs"] == 0 and stats["mirror_holes"] == 0
            for _ in range(10):  # the follower is paused: 300 entries go by, in relay-sized batches
                await publish(30)
            first = await b["c"].r.xrange(k.ticks, count=1)
            assert int(first[0][1]["n"]) > 7, "the trim did not pass the follower: the test proves nothing"
            await f.pull(block_ms=100)
            assert stats["resyncs"] == 1 and stats["mirror_holes"] == 1 and f.mirror.gaps == 1
            _, _, snap = await b["c"].snapshot(k)
            for s in SYMBOLS:
                q = cache.get(s)
                assert q is not None and q.volume == vol[s] == int(snap[s]["f"].split("^")[13])
            assert f.mirror.applied == 9 and f.mirror.stale == 0  # 6 read, 3 from the snapshot: once each
            await publish(3)
            await f.pull(block_ms=100)
            assert stats["resyncs"] == 1 and f.mirror.applied == 12 and f.mirror.stale == 0
            assert all(q.volume == vol[s] for s in SYMBOLS if (q := cache.get(s)) is not None)
        finally:
            await leader.aclose()

    run(shared_redis, body)
