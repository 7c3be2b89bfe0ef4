"""Live members for the fallback REST budget: the pure model of the beat script, the count a limiter falls
back on, the script against the model on a real redis-server, and the whole path: three replicas beat,
one crashes (gone after the TTL), one leaves, and with Redis gone the survivor's limiter allows the budget
over the count it last saw, not a fixed guess."""

from __future__ import annotations

import asyncio
import itertools
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis_server import RedisServer

from gateway.coord.heartbeat import Heartbeat
from gateway.coord.members import LiveCount, MemberParams, MemberTable
from gateway.coord.redis_backend import Keys, RedisBackend
from gateway.coord.replica import SharedLimiter, stop_if_cancelled
from gateway.rest import RestError
from kisclock import ManualClock

_envs = itertools.count()
GAPS = [0, 1, 999, 1000, 1500, 2999, 3000, 4999, 5000]  # ms: on and either side of every TTL tried
beats = st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from(GAPS)), min_size=1, max_size=40)


@settings(max_examples=100, deadline=None)
@given(ops=beats, ttl=st.sampled_from([1000, 3000, 5000]))
def test_a_member_counts_while_its_last_beat_is_younger_than_the_ttl(
    ops: list[tuple[str, int]], ttl: int
) -> None:
    table, last, now = MemberTable(), {}, 0
    for who, gap in ops:
        now += gap
        last[who] = now
        got = table.beat(who, now, ttl)
        assert got == sum(1 for t in last.values() if now - t < ttl) >= 1


@given(
    guess=st.integers(-3, 5),
    counts=st.lists(
        st.tuples(st.sampled_from([0.0, 0.5, 2.0, 4.99, 5.0, 7.0]), st.integers(0, 9)), max_size=12
    ),
)
def test_the_fallback_divides_by_the_largest_count_of_the_last_ttl_never_below_one(
    guess: int, counts: list[tuple[float, int]]
) -> None:
    live, now, seen = LiveCount(guess=guess, hold=5.0), 0.0, []
    assert live.divisor() == max(1, guess)  # nothing seen yet: the configured guess
    for gap, c in counts:
        now += gap
        live.seen(c, now)
        seen.append((now, max(1, c)))
        assert live.divisor() == max(n for t, n in seen if now - t < 5.0) >= 1


def test_a_count_that_dips_as_redis_restarts_does_not_raise_the_share() -> None:
    live = LiveCount(hold=5.0)
    live.seen(3, 100.0)
    live.seen(1, 101.5)  # Redis restarted: the set is empty, this replica beat first
    assert live.divisor() == 3 and live.last == 1  # and Redis goes away: nothing ages out while it is
    live.seen(2, 106.4)
    assert live.divisor() == 2  # the 3 is more than a TTL before the last beat


def test_member_params_are_checked() -> None:
    with pytest.raises(ValueError, match="every < ttl"):
        MemberParams(ttl=1.0, every=1.0)


@settings(max_examples=25, deadline=None)
@given(ops=beats)
def test_the_beat_script_agrees_with_the_pure_table(
    shared_redis: RedisServer, ops: list[tuple[str, int]]
) -> None:
    async def main() -> None:
        k = Keys(f"env{next(_envs)}", "0" * 16)
        backends = {o: RedisBackend(shared_redis.url, o) for o in "abcd"}
        table, now = MemberTable(), 1_700_000_000_000
        try:
            for who, gap in ops:
                now += gap
                assert await backends[who].beat(k, now, 3000) == table.beat(who, now, 3000), (who, now)
                if gap % 7 == 0:  # now and then a graceful stop
                    assert await backends[who].leave(k) == table.leave(who)
        finally:
            for b in backends.values():
                await b.aclose()

    asyncio.run(main())


def test_the_survivors_fall_back_to_budget_over_the_live_count(redis_server: RedisServer) -> None:
    async def main() -> None:
        clock = ManualClock(1_767_000_000.0)
        k = Keys("mock", "00000000000000aa")
        backends = [RedisBackend(redis_server.url, o) for o in ("a", "b", "c")]
        stats: list[dict[str, object]] = [{}, {}, {}]
        hbs = [Heartbeat(b, k, clock, s) for b, s in zip(backends, stats, strict=True)]
        try:
            for hb in hbs:
                await hb.beat()
            await hbs[0].beat()
            assert [s["members"] for s in stats] == [3, 2, 3]  # b beat before c joined
            clock.advance(4.9)  # c stops beating (a crash: it never leaves)
            await hbs[1].beat()
            await hbs[0].beat()
            assert stats[0]["members"] == 3  # c's last beat is younger than the 5 s TTL
            clock.advance(0.1)
            await hbs[0].beat()
            assert stats[0]["members"] == 2

            task = asyncio.create_task(hbs[1].run())  # b stops gracefully: it leaves at once
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            limiter = SharedLimiter(backends[0], k, clock, rps=6.0, max_wait=0.0, members=hbs[0].count)
            assert limiter.share == 3 and limiter.fallback.burst == 2  # a counted 3 less than 5 s ago
            await hbs[0].beat()
            assert stats[0]["members"] == 1 and limiter.members.divisor() == 3  # c may still call for 5 s
            clock.advance(5.0)
            await hbs[0].beat()
            assert stats[0]["members"] == 1 and limiter.members.divisor() == 1

            redis_server.stop()
            await hbs[0].beat()  # Redis is gone: the count it last saw stays
            assert stats[0]["member_errors"] == 1 and hbs[0].count.divisor() == 1
            with pytest.raises(RestError):  # the switch counts as a window spent through Redis
                await limiter.acquire()
            clock.advance(1.0)
            for _ in range(6):  # then the whole budget: a is the only replica left
                await limiter.acquire()
            with pytest.raises(RestError):
                await limiter.acquire()
            assert limiter.stats["limiter_fallbacks"] == 8
        finally:
            for b in backends:
                await b.aclose()

    asyncio.run(main())


def test_a_fallback_never_adds_to_what_went_through_redis_in_the_same_window(
    redis_server: RedisServer,
) -> None:
    """One call granted by the shared GCRA, then Redis goes: the fallback (3 replicas guessed, 6/s: 2 each)
    waits out one window before its own first call, instead of adding calls at once on top of the shared
    budget already spent; without a count it divides by the configured `replicas`."""

    async def main() -> None:
        clock = ManualClock(1_767_000_000.0)
        backend = RedisBackend(redis_server.url, "a")
        try:
            limiter = SharedLimiter(
                backend, Keys("mock", "00000000000000ab"), clock, rps=6.0, replicas=3, max_wait=0
            )
            await limiter.acquire()  # through Redis
            redis_server.stop()
            with pytest.raises(RestError):
                await limiter.acquire()
            clock.advance(0.999)
            with pytest.raises(RestError):
                await limiter.acquire()
            clock.advance(0.001)
            for _ in range(2):
                await limiter.acquire()
            with pytest.raises(RestError):
                await limiter.acquire()
            assert limiter.stats["limiter_fallbacks"] == 5
        finally:
            await backend.aclose()

    asyncio.run(main())


def test_a_loop_whose_cancel_a_wait_swallowed_still_stops() -> None:
    """The store loops (Follower, Heartbeat) retry on errors; a cancel lost inside a wait must not keep them
    running, or the shutdown that awaits them hangs. Here the swallow is explicit; on Python 3.10 there is
    no `Task.cancelling` to read, so only the cancel that arrives is honoured."""
    held = [True]

    async def loop() -> None:
        while held[0]:
            stop_if_cancelled()
            try:
                await asyncio.sleep(0.001)
            except asyncio.CancelledError:
                pass  # what a racing wait_for does to a cancel

    async def main() -> None:
        task = asyncio.create_task(loop())
        await asyncio.sleep(0.01)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        held[0] = False  # ends the loop either way, so a failure cannot hang the run
        await asyncio.wait({task}, timeout=2)
        if sys.version_info >= (3, 11):
            assert done and task.cancelled(), "a swallowed cancel kept the loop running"

    asyncio.run(main())
