"""The worker as a pump (issue #12, F10): nothing one received text does ends the receive loop, a worker
task that ends however it ends is restarted by `supervise`, and the age of the last message keeps growing
in the metrics when the worker is dead, so "HTTP healthy, quotes frozen" is visible."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import APPKEY, eventually, kst, running, trade, write_recording
from fakekis import tape
from fakekis.wire import frames
from gateway.cache import QuoteCache
from gateway.config import from_env
from gateway.metrics import Metrics
from gateway.redact import Redactor, StageLog
from gateway.worker import QuoteWorker, supervise
from kisclock import ManualClock

pytestmark = [pytest.mark.ws, pytest.mark.anyio]
WED = kst(2026, 11, 25, 10, 0)


class Approval:
    async def approval_key(self, fresh: bool = False) -> str:
        return "approval-not-used"


class ExplodingCache(QuoteCache):
    """A cache update that raises, with a secret in the message (it must be masked in the log)."""

    def __init__(self) -> None:
        super().__init__()
        self.explode = True

    def update_from_h0stcnt0(
        self, fields: list[str], offset: int, received_at: float, venue: str = "krx"
    ) -> bool:
        if self.explode:
            raise RuntimeError(f"cannot apply a record for appkey {APPKEY}")
        return super().update_from_h0stcnt0(fields, offset, received_at, venue)


def _worker(tmp: Path, cache: QuoteCache | None = None, connect: Any = None) -> QuoteWorker:
    cfg = from_env(
        {
            "KIS_APP_KEY": APPKEY,
            "KIS_APP_SECRET": "S" * 40,
            "KIS_SYMBOLS": "005930",
            "KIS_REST_URL": "http://x",
            "KIS_WS_URL": "ws://x",
            "GATEWAY_TOKEN_DIR": str(tmp),
        }
    )
    log = StageLog(Redactor(cfg.secrets), logging.getLogger("test.pump"))
    extra = {"connect": connect} if connect else {}
    return QuoteWorker(
        cfg, Approval(), QuoteCache() if cache is None else cache, Metrics(), log, ManualClock(WED), **extra
    )


async def test_a_text_whose_handling_raises_is_counted_not_fatal(tmp_path: Path) -> None:
    cache = ExplodingCache()
    w = _worker(tmp_path, cache)
    session = w.opened(WED)
    text = frames.data_frame("H0STCNT0", [trade("005930", "100000", 71_100, 71_000, 1_000)])
    assert w.on_message(session, text) == []  # no exception escapes
    assert w.metrics.ws_malformed == 1 and w.metrics.ws_connected
    line = next(x for x in w.log.lines if '"ws_malformed"' in x)
    assert "handling failed: RuntimeError" in line and APPKEY not in line
    ping = frames.pingpong("20261125100001")
    assert w.on_message(session, ping) == [ping]  # the connection goes on: PINGPONG still echoed
    cache.explode = False
    w.on_message(session, text)
    assert cache.get("005930") is not None and w.metrics.ws_malformed == 1


def _tape(tmp: Path) -> tape.Recording:
    out = [
        (0.5 + i, frames.data_frame("H0STCNT0", [trade("005930", f"1000{i:02d}", 71_100, 71_000, 1_000 + i)]))
        for i in range(40)
    ]
    return tape.load(write_recording(tmp / "rec", WED, out))


async def test_frames_the_gateway_cannot_process_do_not_reconnect(tmp_path: Path) -> None:
    """Issue #12: an upstream that acks and then sends frames the gateway cannot process drove 12-16
    reconnects in 12 s. Each such frame is one ws_malformed; the connection and the worker stay."""
    async with running(_tape(tmp_path), ManualClock(WED), tmp_path) as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 1, what="the subscription ack")
        cache = r.gw.cache
        original = cache.update_from_h0stcnt0

        def explode(fields: list[str], offset: int, received_at: float, venue: str = "krx") -> bool:
            raise ValueError("a frame the gateway cannot process")

        cache.update_from_h0stcnt0 = explode
        await r.advance(12.0)
        assert r.metrics.ws_malformed == 12 and r.metrics.ws_messages == 12
        assert r.metrics.ws_connects == 1 and r.metrics.worker_restarts == 0 and r.metrics.ws_connected
        cache.update_from_h0stcnt0 = original
        await r.advance(1.0)
        assert (await r.quote("005930"))["source"] == "kis-ws"


@asynccontextmanager
async def _never_opens(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
    await asyncio.Event().wait()  # a connect that hangs: the worker task is alive and waiting
    yield None


async def test_a_worker_task_that_ends_any_way_is_restarted(tmp_path: Path) -> None:
    """F10: a worker task that dies (here: cancelled by someone else) is noticed, counted and restarted;
    the supervisor holds the task, so a garbage collection cannot take it."""
    w = _worker(tmp_path, connect=_never_opens)
    sup = asyncio.create_task(supervise(w))
    try:
        await eventually(lambda: w.task is not None and w.metrics.worker_running, what="the worker task")
        first = w.task
        assert first is not None
        gc.collect()
        assert not first.done() and w.task is first  # still held, still running
        first.cancel()
        await eventually(lambda: w.metrics.worker_restarts == 1, what="the dead task to be noticed")
        assert "worker crashed: task cancelled" in (w.metrics.last_error or "")
        assert not w.metrics.worker_running and not sup.done()
        w.clock.advance(1.0)  # type: ignore[attr-defined]  # the restart delay
        await eventually(lambda: w.task is not first and w.metrics.worker_running, what="the restart")
    finally:
        sup.cancel()
        await asyncio.wait({sup})
    assert w.task is not None and w.task.done() and not w.metrics.worker_running  # no orphan left


async def test_last_message_age_keeps_growing_when_the_worker_is_dead(tmp_path: Path) -> None:
    """F10: HTTP healthy, quotes frozen. The age is computed when the metrics are read, so it grows even
    when nothing in the worker runs any more."""
    async with running(_tape(tmp_path), ManualClock(WED), tmp_path) as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 1, what="the subscription ack")
        await r.advance(3.0)
        m = (await r.http.get("/v1/metrics/quote")).json()
        assert m["ws_last_message_age_s"] is not None and m["ws_last_message_age_s"] < 1.0
        assert m["worker_running"] is True
        r.gw.task.cancel()  # the worker and its supervisor are gone; HTTP still answers
        await asyncio.wait({r.gw.task})
        r.clock.advance(100.0)
        m = (await r.http.get("/v1/metrics/quote")).json()
        assert m["ws_last_message_age_s"] >= 100.0 and m["worker_running"] is False
        assert (await r.quote("005930"))["source"] == "kis-rest"


class _ClosedAtOnce:
    """A socket whose server has already closed: iteration ends at once, nothing to send."""

    close_code, close_reason = 1000, ""

    async def send(self, text: str) -> None:
        pass

    def __aiter__(self) -> _ClosedAtOnce:
        return self

    async def __anext__(self) -> str:
        await asyncio.sleep(0.01)  # the watchdog task gets to start first
        raise StopAsyncIteration


async def test_stopping_while_the_watchdog_winds_down_stops_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app stops (the worker task is cancelled) at the moment a connection's cleanup waits for its
    watchdog. A `suppress(CancelledError)` around that wait swallowed the app's cancellation too: the
    worker went on reconnecting and shutdown waited for it forever (seen as a 120 s hang in the suite)."""
    connects = 0

    @asynccontextmanager
    async def connect(*args: Any, **kwargs: Any) -> AsyncIterator[_ClosedAtOnce]:
        nonlocal connects
        connects += 1
        yield _ClosedAtOnce()

    w = _worker(tmp_path, connect=connect)
    winding_down = asyncio.Event()

    async def slow_watchdog(ws: Any) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            winding_down.set()
            await asyncio.sleep(0.01)  # cleanup that takes a moment: the window the app's cancel hits
            raise

    monkeypatch.setattr(w, "_watchdog", slow_watchdog)
    task = asyncio.create_task(w.run_with_reconnect())
    await asyncio.wait_for(winding_down.wait(), 10)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)
    assert done, "the worker ignored its cancellation and kept running"
    assert task.cancelled() and connects == 1
