"""The on-disk token cache shared by several gateways on one host (issue #12).

Four gateways started together collided on one `.tmp` name; a wrong-typed field or a directory in place
of the file turned every REST quote into a 500 for good; an `attempt_at` from another clock blocked REST
for days. Here: concurrent writers (threads and processes) never collide and issue at most once; every
bad file shape still serves quotes after exactly one re-issue, reported once."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import APPKEY, SECRET, kst, trade
from fakekis.exchange.auth import Registry
from fakekis.exchange.market import MarketState
from fakekis.serve.rest import create_app
from fakekis.wire import frames
from gateway.config import Config, from_env
from gateway.metrics import Metrics
from gateway.redact import Redactor, StageLog
from gateway.rest import RestClient
from gateway.tokencache import Cached, TokenStore
from kisclock import ManualClock

T0 = kst(2026, 11, 25, 9, 0)


def config(tmp: Path) -> Config:
    return from_env(
        {
            "KIS_APP_KEY": APPKEY,
            "KIS_APP_SECRET": SECRET,
            "KIS_REST_URL": "http://kis",
            "KIS_WS_URL": "ws://kis",
            "GATEWAY_TOKEN_DIR": str(tmp),
            "GATEWAY_REST_RPS": "50",
        }
    )


class World:
    """fakekis's REST app in-process and one manual clock; `client()` is a fresh gateway process."""

    def __init__(self, tmp: Path) -> None:
        self.clock, self.registry, self.market = (
            ManualClock(T0),
            Registry("mock", rest_rps=100),
            MarketState(),
        )
        self.market.apply(
            "H0STCNT0",
            frames.data_frame("H0STCNT0", [trade("005930", "090000", 71_500, 71_000, 9)]),
            1,
            "005930",
        )
        self.app = create_app(self.registry, self.market, self.clock)
        self.cfg = config(tmp)

    def client(self) -> RestClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://kis")
        return RestClient(self.cfg, self.clock, Metrics(), StageLog(Redactor(self.cfg.secrets)), http)


# -- concurrent writers -------------------------------------------------------------------------


def test_threads_writing_at_once_never_collide(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    errors: list[BaseException] = []
    problems: list[str] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        store = TokenStore(cfg, problems.append)  # one store per "gateway"
        start.wait(timeout=30)
        try:
            for i in range(60):
                assert store.save(Cached(f"tok-{n}-{i}", T0 + 86_400, T0))
        except BaseException as e:  # collected: an exception in a thread would otherwise vanish
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a writer thread did not finish within 60 s"
    assert errors == [] and problems == []
    store = TokenStore(cfg)
    assert (store.load().token or "").startswith("tok-")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


ROUNDS = 30


def _claim_in_process(tmp: str, barrier: Any, results: Any) -> None:
    """One gateway process: in each round (a new minute) it races the others for the issuance."""
    store = TokenStore(config(Path(tmp)))
    won = []
    for r in range(ROUNDS):
        barrier.wait(timeout=60)
        if store.claim(T0 + r * 61, 600.0).issue:
            won.append(r)
    results.put(won)


def test_processes_racing_each_minute_issue_once_per_minute(tmp_path: Path) -> None:
    """Four gateways on one host with no token: in each of 30 minutes exactly one may issue."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(str(tmp_path), barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    try:
        wins = [r for _ in procs for r in results.get(timeout=120)]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    assert sorted(wins) == list(range(ROUNDS)), "some minute saw two issuances, or none"
    assert TokenStore(config(tmp_path)).load().attempt_at == T0 + (ROUNDS - 1) * 61


# -- every bad file shape still serves quotes after one re-issue -----------------------------------

BAD_SHAPES = {
    "garbage": lambda p: p.write_bytes(b"\x00\xff not json {{{"),
    "json-list": lambda p: p.write_text("[1, 2, 3]"),
    "deep-json": lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
    "wrong-types": lambda p: p.write_text(
        json.dumps({"access_token": 5, "expires_at": "x", "attempt_at": []})
    ),
    "nan-expiry": lambda p: p.write_text('{"access_token": "old", "expires_at": NaN, "attempt_at": null}'),
    "directory": lambda p: p.mkdir(),
    "future-attempt": lambda p: p.write_text(
        json.dumps({"access_token": None, "attempt_at": T0 + 3 * 86_400})
    ),
    "lock-is-directory": lambda p: p.with_name(p.name + ".lock").mkdir(),
}


@pytest.mark.anyio
@pytest.mark.parametrize("shape", list(BAD_SHAPES))
async def test_a_bad_token_file_costs_one_reissue_not_the_service(shape: str, tmp_path: Path) -> None:
    w = World(tmp_path)
    path = TokenStore(w.cfg).path
    BAD_SHAPES[shape](path)
    a = w.client()
    assert (await a.inquire_price("005930"))["stck_prpr"] == "71500"
    await a.inquire_price("005930")
    assert a.metrics.token_issuances == 1 and len(w.registry.tokens) == 1
    reports = [line for line in a.log.lines if "rest_token_cache_bad" in line]
    # Reported, once per kind of problem (a directory is both unreadable and unwritable), not per call.
    assert 1 <= len(reports) <= 2 and len(set(reports)) == len(reports), (shape, reports)
    assert all(APPKEY not in line and SECRET not in line for line in a.log.lines)
    # A restart a minute later: a readable file is used again; where it cannot be (a directory), the
    # new process may issue once more, within the one-per-minute rule.
    w.clock.advance(61)
    b = w.client()
    assert (await b.inquire_price("005930"))["stck_prpr"] == "71500"
    assert b.metrics.token_issuances == (1 if shape == "directory" else 0)
