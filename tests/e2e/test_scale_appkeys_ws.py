"""Several appkeys (KIS_CREDENTIALS_FILE, issue #17): one gateway serves the bundled 100-symbol tape over
three appkeys against fakekis on one manual clock. fakekis's ledger is the ground truth: which session (and
which appkey) registered what, and every ack code; the gateway's own view must agree with it.

What each test catches:
- all symbols on the first appkey (the wiring ignores the plan): OPSP0008 in the ledger, a session with more
  than 41 registrations, and the symbols past 41 answered from REST;
- a session per appkey never started, or started on the wrong symbols: kis-rest answers;
- the REST tier not routed or not explained: the quote's `fallback_reason` and the metrics' `plan` block;
- Redis mode: a follower that mirrors only one appkey's Stream answers the other appkeys' symbols from REST.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis_server import RedisServer

from conftest import SECRET, eventually, gateway_env, kst
from fakekis import tape
from fakekis.exchange.ledger import appkey_id
from fakekis.serve.server import FakeKis
from fakekis.tape.format import bundled
from gateway.app import create_app
from gateway.config import from_env
from gateway.coord.redis_backend import client
from kisclock import ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]

START = kst(2026, 11, 25, 9, 5)  # the bundled tape's start
KEYS = [f"PSscale{i}" + "k" * 29 for i in range(3)]


def _credentials(tmp: Path, keys: list[str]) -> Path:
    path = tmp / "kis-credentials.json"
    path.write_text(json.dumps([{"env": "mock", "appkey": k, "appsecret": SECRET} for k in keys]))
    path.chmod(0o600)
    return path


def _env(kis: FakeKis, tmp: Path, symbols: list[str], keys: list[str], **extra: str) -> dict[str, str]:
    env = gateway_env(
        kis.urls["mock"],
        tmp,
        ",".join(symbols),
        KIS_CREDENTIALS_FILE=str(_credentials(tmp, keys)),
        GATEWAY_FRESHNESS_MS="60000",  # every symbol's last tick stays fresh through the 30 s tape
        **extra,
    )
    del env["KIS_APP_KEY"], env["KIS_APP_SECRET"]  # the file alone names the appkeys
    return env


@contextlib.asynccontextmanager
async def _gateway(cfg: Any, clock: ManualClock) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(cfg, clock)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
            yield app.state.gateway, http


def _acked(gw: Any) -> bool:
    """Every session has had an answer, ack or refusal, for each of its symbols."""
    return all(
        s.metrics.ws_subscriptions + sum(s.metrics.ws_refusals.values()) == len(s.cfg.symbols)
        for s in gw.shards.live()
    )


async def _play(kis: FakeKis, clock: ManualClock, seconds: float, idle: Any = None) -> None:
    """Move the clock in 0.5 s steps, each once fakekis has sent what was due (and `idle()` holds)."""
    for _ in range(int(seconds * 2)):
        if idle is not None:
            await eventually(idle, what="the lease loops to settle")
        await eventually(kis.caught_up, what="fakekis to send what is due")
        clock.advance(0.5)
    await eventually(kis.caught_up, what="fakekis to send the last frames")


def _registrations(history: list[dict[str, Any]]) -> tuple[Counter[str], dict[int, str], Counter[int]]:
    """Ack codes; each session's owner appkey id; registrations acked per session."""
    owners = {int(e["session"]): str(e["appkey"]) for e in history if e["kind"] == "session-owner"}
    acks = [e for e in history if e["kind"] == "ack"]
    per_session = Counter(int(e["session"]) for e in acks if e["code"] == "OPSP0000")
    return Counter(str(e["code"]) for e in acks), owners, per_session


async def test_100_symbols_over_3_appkeys_are_all_served_from_the_websocket(tmp_path: Path) -> None:
    clock = ManualClock(START)
    rec = tape.load(bundled("synthetic-100-symbols"))
    symbols = sorted({key for _, key in rec.subscriptions})
    assert len(symbols) == 100
    async with FakeKis(rec, clock=clock, speed=1.0, ledger=True) as kis:
        cfg = from_env(_env(kis, tmp_path, symbols, KEYS))
        async with _gateway(cfg, clock) as (gw, http):
            assert not gw.shards.rest_tier
            await eventually(
                lambda: _acked(gw),
                what="every appkey's subscriptions answered",
                state=lambda: {i: s.metrics.ws_subscriptions for i, s in gw.shards.shards.items()},
            )
            await _play(kis, clock, 31.0)
            await eventually(
                lambda: len(gw.cache) == gw.metrics.total().ws_subscriptions,
                what="a tick for every acked symbol in the cache",
                state=gw.cache.__len__,
            )
            sources = Counter()
            for s in symbols:
                q = (await http.get(f"/v1/quotes/{s}")).json()
                sources[q.get("source") or q.get("error")] += 1
            assert sources == {"kis-ws": 100}, sources
            m = (await http.get("/v1/metrics/quote")).json()
            logs = "\n".join(gw.log.lines)
            history = kis.history("mock")

    assert '"event": "appkey_plan"' in logs and not any(k in logs for k in KEYS)
    codes, owners, per_session = _registrations(history)
    assert codes["OPSP0008"] == 0 and codes["OPSP8996"] == 0, codes
    assert codes["OPSP0000"] == 100, codes
    ids = {appkey_id("mock", k) for k in KEYS}
    assert set(owners.values()) == ids  # one session per appkey, each on its own appkey
    assert len(owners) == 3
    assert max(per_session.values()) <= 41 and sum(per_session.values()) == 100, per_session
    # The gateway's view names the same appkeys by id and never the appkeys themselves.
    assert set(m["appkeys"]) == ids and set(m["plan"]["appkeys"]) == ids
    assert sorted(m["plan"]["appkeys"].values()) == [33, 33, 34]  # the planner balances: most free first
    assert m["ws_subscriptions"] == 100 and m["ws_connected"] is True
    assert not any(k in json.dumps(m) for k in KEYS)


async def test_symbols_past_every_appkeys_cap_go_to_the_rest_tier_and_say_why(tmp_path: Path) -> None:
    clock = ManualClock(START)
    rec = tape.load(bundled("synthetic-100-symbols"))
    symbols = sorted({key for _, key in rec.subscriptions})
    async with FakeKis(rec, clock=clock, speed=1.0, ledger=True) as kis:
        cfg = from_env(_env(kis, tmp_path, symbols, KEYS[:2]))  # 2 x 41 = 82 places for 100 symbols
        async with _gateway(cfg, clock) as (gw, http):
            assert gw.shards.rest_tier == tuple(symbols[82:])  # the last listed overflow
            await eventually(lambda: _acked(gw), what="both appkeys' subscriptions acked")
            await _play(kis, clock, 31.0)
            placed, overflow = symbols[0], symbols[-1]
            q = (await http.get(f"/v1/quotes/{placed}")).json()
            assert q["source"] == "kis-ws", q
            q = (await http.get(f"/v1/quotes/{overflow}")).json()
            assert q["source"] == "kis-rest" and q["fallback_reason"].startswith("rest-tier"), q
            m = (await http.get("/v1/metrics/quote")).json()
            assert m["plan"]["rest_tier"] == symbols[82:] and m["plan"]["rest_tier_served"] == 1
            history = kis.history("mock")
    codes, owners, per_session = _registrations(history)
    assert codes["OPSP0008"] == 0 and sorted(per_session.values()) == [41, 41], (codes, per_session)
    rest = [e for e in history if e["kind"] == "rest"]
    assert len(rest) == 1 and rest[0]["appkey"] in set(owners.values())


async def test_a_second_gateway_with_the_same_file_stands_aside_on_every_appkey(tmp_path: Path) -> None:
    clock = ManualClock(START)
    rec = tape.load(bundled("synthetic-100-symbols"))
    symbols = sorted({key for _, key in rec.subscriptions})
    async with FakeKis(rec, clock=clock, speed=1.0, ledger=True) as kis:
        cfg = from_env(_env(kis, tmp_path, symbols, KEYS))
        async with _gateway(cfg, clock) as (first, _), _gateway(cfg, clock) as (second, http):
            await eventually(lambda: _acked(first), what="the first gateway's sessions answered")
            await eventually(
                lambda: all(s.metrics.coord.get("role") == "rest-only" for s in second.shards.live()),
                what="the second gateway to stand aside on each appkey",
                state=lambda: [s.metrics.coord for s in second.shards.live()],
            )
            assert all(s.metrics.coord["role"] == "owner" for s in first.shards.live())
            assert second.metrics.total().ws_connects == 0
            m = (await http.get("/v1/metrics/quote")).json()
            assert {b["coord"]["role"] for b in m["appkeys"].values()} == {"rest-only"}
            history = kis.history("mock")
    codes, owners, _ = _registrations(history)
    assert codes["OPSP8996"] == 0 and len(owners) == 3, (codes, owners)


async def test_two_redis_replicas_mirror_every_appkeys_stream(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    clock = ManualClock(START)
    rec = tape.load(bundled("synthetic-100-symbols"))
    symbols = sorted({key for _, key in rec.subscriptions})
    async with FakeKis(rec, clock=clock, speed=1.0, ledger=True) as kis:
        cfg = from_env(_env(kis, tmp_path, symbols, KEYS, GATEWAY_REDIS_URL=redis_server.url))
        async with _gateway(cfg, clock) as (a, http_a), _gateway(cfg, clock) as (b, http_b):
            replicas = [a, b]

            def runners() -> list[Any]:
                return [s.worker.lease for gw in replicas for s in gw.shards.live()]

            def idle() -> bool:
                return all(r.machine.idle(clock.now()) for r in runners())

            def led() -> bool:
                return all(
                    sum(gw.shards.shards[i].metrics.coord.get("role") == "leader" for gw in replicas) == 1
                    for i in a.shards.shards
                )

            for _ in range(40):  # a fresh store: each lease is free once the vacancy grace (2 s) has passed
                if led():
                    break
                await _play(kis, clock, 0.5, idle)
            assert led(), [s.metrics.coord for gw in replicas for s in gw.shards.live()]
            leading = [  # each appkey's session on the replica that leads it
                s for gw in replicas for s in gw.shards.live() if s.metrics.coord["role"] == "leader"
            ]
            assert len(leading) == 3
            await eventually(
                lambda: all(s.metrics.ws_subscriptions == len(s.cfg.symbols) for s in leading),
                what="every leader's subscriptions acked",
            )
            await _play(kis, clock, 31.0, idle)
            for gw in replicas:
                await eventually(
                    lambda gw=gw: len(gw.cache) == 100,
                    what="every appkey's ticks in each replica's mirror",
                    state=lambda gw=gw: (len(gw.cache), gw.metrics.coord),
                )
            for http in (http_a, http_b):
                sources = Counter()
                for s in symbols:
                    q = (await http.get(f"/v1/quotes/{s}")).json()
                    sources[q.get("source") or q.get("error")] += 1
                assert sources == {"kis-ws": 100}, sources
            views = [(await h.get("/v1/metrics/quote")).json() for h in (http_a, http_b)]
            history = kis.history("mock")
    codes, owners, per_session = _registrations(history)
    ids = {appkey_id("mock", k) for k in KEYS}
    assert codes["OPSP0008"] == 0 and codes["OPSP8996"] == 0, codes
    assert set(owners.values()) == ids and len(owners) == 3
    assert max(per_session.values()) <= 41
    # Role and epoch per appkey id on each replica; one leader per appkey across them; no appkey in sight.
    for ident in ids:
        blocks = [v["appkeys"][ident]["coord"] for v in views]
        assert sorted(b["role"] for b in blocks) == ["follower", "leader"], blocks
        assert all(b["appkey"] == ident for b in blocks) and max(b["epoch"] for b in blocks) >= 1
    assert all(v["coord"]["mode"] == "redis" for v in views)
    assert not any(k in json.dumps(views) for k in KEYS)
    r = client(redis_server.url)
    try:  # the store names appkeys by id only
        stored = [*await r.keys("*"), *[v for k in await r.keys("*:quotes") for v in await r.hvals(k)]]
    finally:
        await r.aclose()
    assert any(ident in str(stored) for ident in ids) and not any(k in str(stored) for k in KEYS)
