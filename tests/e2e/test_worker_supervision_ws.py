"""The worker is supervised: a crash is restarted and counted, never silent; its task is held by the
app; the WS worker keeps trying while the server is away, with backoff that is jittered and capped."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
import websockets

from conftest import eventually, gateway_env, kst
from fakekis.serve.server import FakeKis
from gateway.app import create_app
from gateway.config import from_env
from kisclock import ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]


async def test_a_crash_is_restarted_and_counted(tmp_path: Path) -> None:
    clock = ManualClock(kst(2026, 11, 25, 9, 0))
    calls = {"n": 0}

    def flaky_connect(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("bug in the worker")  # not a network error: escapes the worker
        return websockets.connect(*args, **kwargs)

    async with FakeKis(None, clock=clock) as kis:
        app = create_app(from_env(gateway_env(kis.urls["mock"], tmp_path)), clock, connect=flaky_connect)
        async with app.router.lifespan_context(app):
            gw = app.state.gateway
            assert gw.task is not None and not gw.task.done()  # held by the app, running
            await eventually(lambda: gw.metrics.worker_restarts == 1, what="the crash to be counted")
            assert "bug in the worker" in gw.metrics.last_error
            assert any('"ws_worker_restart"' in line for line in gw.log.lines)
            clock.advance(1.0)  # the supervisor's restart delay
            await eventually(
                lambda: gw.metrics.ws_subscriptions == 1, what="the restarted worker to subscribe"
            )
            assert gw.metrics.ws_connected and not gw.task.done()


async def test_backoff_is_jittered_and_capped(tmp_path: Path) -> None:
    from gateway.app import build

    cfg = from_env(gateway_env({"rest_url": "http://x", "ws_url": "ws://x"}, tmp_path))
    policy = build(cfg, ManualClock(0)).worker.policy
    policy.rng = random.Random(1)
    delays = []
    for failures in range(12):
        policy.failures = failures
        delays.append(policy.backoff())
        ceiling = min(cfg.backoff_cap_s, cfg.backoff_base_s * 2**failures)
        assert ceiling / 2 <= delays[-1] <= ceiling  # equal jitter: a floor that grows, a cap
    assert max(delays[8:]) > cfg.backoff_base_s * 2  # grows with failures ...
    assert len(set(delays)) == len(delays)  # ... and is jittered


async def test_a_second_process_on_the_same_appkey_backs_off_instead_of_storming(tmp_path: Path) -> None:
    clock = ManualClock(kst(2026, 11, 25, 9, 0))
    async with FakeKis(None, clock=clock) as kis:
        first = create_app(from_env(gateway_env(kis.urls["mock"], tmp_path / "a")), clock)
        second = create_app(from_env(gateway_env(kis.urls["mock"], tmp_path / "b")), clock)
        async with first.router.lifespan_context(first):
            a = first.state.gateway
            await eventually(lambda: a.metrics.ws_subscriptions == 1, what="the first owner")
            async with second.router.lifespan_context(second):
                b = second.state.gateway
                await eventually(lambda: b.worker.failures >= 5, what="the refusal to be taken as a hold-off")
                assert b.metrics.ws_refusals["OPSP8996"] == 1 and "OPSP8996" in b.metrics.last_error
                clock.advance(b.cfg.backoff_cap_s / 2 - 0.5)  # below the hold-off floor: no new attempt
                for _ in range(20):
                    await asyncio.sleep(0)
                assert kis.stats("mock")["sessions_opened"] == 2
                assert a.metrics.ws_connected and a.metrics.ws_reconnects == 0  # the owner is undisturbed
