"""Scaling out (issue #17), in-process against one fakekis and one real redis-server on one manual clock.

Local mode: a second gateway on the same host and appkey does not fight for the KIS session (OPSP8996
storms); it serves REST and takes over when the owner goes. Redis mode: two replicas share one session,
the follower serves kis-ws quotes relayed through the Stream, and a graceful stop hands the session over
with no refusal at KIS."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis_server import RedisServer

from conftest import eventually, gateway_env, kst, trade, write_recording
from fakekis import tape
from fakekis.serve.server import FakeKis
from fakekis.wire import frames
from gateway.app import create_app
from gateway.config import from_env
from kisclock import ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]

WED = kst(2026, 11, 25, 9, 5)


def _tape(tmp: Path) -> tape.Recording:
    out = []
    for i in range(120):  # a trade every 0.5 s for a minute, cumulative volume always growing
        t = 0.5 + i * 0.5
        hhmmss = f"0905{int(t):02d}"
        out.append(
            (t, frames.data_frame("H0STCNT0", [trade("005930", hhmmss, 71_000 + i, 71_000, 1_000 + i)]))
        )
    return tape.load(write_recording(tmp / "rec", WED, out, [("H0STCNT0", "005930")]))


class Replica:
    def __init__(self, app: Any, http: httpx.AsyncClient) -> None:
        self.app, self.http = app, http

    @property
    def gw(self) -> Any:
        return self.app.state.gateway

    @property
    def role(self) -> str | None:
        return self.gw.metrics.coord.get("role")

    def idle(self, now: float) -> bool:
        lease = getattr(self.gw.worker, "lease", None)
        return lease is None or lease.machine.idle(now)

    async def quote(self, symbol: str) -> dict[str, Any]:
        return dict((await self.http.get(f"/v1/quotes/{symbol}")).json())


@contextlib.asynccontextmanager
async def replica(cfg: Any, clock: ManualClock) -> Any:
    app = create_app(cfg, clock)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
            yield Replica(app, http)


async def step(
    kis: FakeKis, clock: ManualClock, replicas: list[Replica], seconds: float, dt: float = 0.25
) -> None:
    """Move the clock in small steps; before each, every lease loop has answered what was due (so a renew in
    flight is never overtaken by the clock) and fakekis has sent what was due."""
    t = 0.0
    while t < seconds - 1e-9:
        for r in replicas:
            await eventually(
                lambda r=r: r.idle(clock.now()),
                what="the lease loop to settle",
                state=lambda r=r: r.gw.metrics.coord,
            )
        await eventually(kis.caught_up, what="fakekis to send what is due")
        clock.advance(dt)
        t += dt


async def test_a_second_gateway_on_the_host_serves_rest_only_then_takes_over(tmp_path: Path) -> None:
    clock = ManualClock(WED)
    async with FakeKis(_tape(tmp_path), clock=clock, speed=1.0, ping_interval=10.0) as kis:
        cfg = from_env(gateway_env(kis.urls["mock"], tmp_path, "005930"))
        async with contextlib.AsyncExitStack() as stack:
            first = await stack.enter_async_context(replica(cfg, clock))
            await eventually(lambda: first.gw.metrics.ws_subscriptions == 1, what="the owner's ack")
            async with replica(cfg, clock) as second:
                await eventually(lambda: second.role == "rest-only", what="the second to stand aside")
                assert "another process on this host owns" in second.gw.metrics.last_error
                assert second.gw.metrics.ws_connects == 0
                q = await second.quote("005930")
                assert q["source"] == "kis-rest", q
                await stack.aclose()  # the owner stops: its lock goes with it
                clock.advance(10.0)
                await eventually(lambda: second.gw.metrics.ws_subscriptions == 1, what="the takeover's ack")
                assert second.role == "owner"
        assert "OPSP8996" not in kis.stats("mock")["acks"]


async def test_two_redis_replicas_share_one_session_and_hand_it_over(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    clock = ManualClock(WED)
    async with FakeKis(_tape(tmp_path), clock=clock, speed=1.0, ping_interval=10.0) as kis:
        cfg = from_env(gateway_env(kis.urls["mock"], tmp_path, "005930", GATEWAY_REDIS_URL=redis_server.url))
        async with contextlib.AsyncExitStack() as stack:
            a = await stack.enter_async_context(replica(cfg, clock))
            for _ in range(20):  # a fresh store: the lease is free once the vacancy grace (2 s) has passed
                if a.role == "leader":
                    break
                await step(kis, clock, [a], 0.5)
            assert a.role == "leader", a.gw.metrics.coord
            async with replica(cfg, clock) as b:
                await eventually(
                    lambda: b.idle(clock.now()) and b.role == "follower", what="the second to follow"
                )
                await eventually(lambda: a.gw.metrics.ws_subscriptions == 1, what="the leader's ack")
                await step(kis, clock, [a, b], 3.0)
                await eventually(
                    lambda: b.gw.cache.get("005930") is not None and b.gw.cache.get("005930").volume >= 1_004,
                    what="relayed ticks on the follower",
                    state=lambda: b.gw.metrics.coord,
                )
                qa, qb = await a.quote("005930"), await b.quote("005930")
                assert qb["source"] == "kis-ws", qb
                assert b.gw.metrics.ws_connects == 0  # the follower never opened a KIS session
                epoch = a.gw.metrics.coord["epoch"]
                await stack.aclose()  # graceful stop of the leader: close the session, release the lease
                await step(kis, clock, [b], 1.0)
                await eventually(
                    lambda: b.role == "leader",
                    what="the follower to take over",
                    state=lambda: b.gw.metrics.coord,
                )
                await eventually(lambda: b.gw.metrics.ws_subscriptions == 1, what="the new leader's ack")
                assert b.gw.metrics.coord["epoch"] == epoch + 1
                before = b.gw.cache.get("005930").volume
                await step(kis, clock, [b], 2.0)
                await eventually(
                    lambda: b.gw.cache.get("005930").volume > before, what="ticks under the new epoch"
                )
                assert qa["source"] == "kis-ws"
        acks = kis.stats("mock")["acks"]
        assert "OPSP8996" not in acks, acks
