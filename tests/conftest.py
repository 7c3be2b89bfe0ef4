"""Shared fixtures: real captured frames, a manual clock, tiny hand-written recordings, and helpers
that run fakekis and the gateway together over real loopback sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakekis.wire import layouts
from kisclock import KST, ManualClock

DATA = Path(__file__).parent / "data"
APPKEY = "PStest" + "k" * 30
SECRET = "secret" + "s" * 174


def real_frames() -> list[dict[str, Any]]:
    with (DATA / "real-frames.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def kst(*args: int) -> float:
    return datetime(*args, tzinfo=KST).timestamp()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait for a condition produced by another task (I/O on loopback), bounded in real time.
    Not a sleep to paper over a race: the test states what it waits for and fails if it never holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


def trade(
    symbol: str, hhmmss: str, price: int, prev_close: int, volume: int, date: str = "20261125", qty: int = 1
) -> list[str]:
    """An H0STCNT0 record with the fields the gateway reads filled consistently, as wide as KIS sent
    them on `date` (46 fields before 2026-09-14, 47 since: fakekis/wire/layouts.py)."""
    change = price - prev_close
    rate = f"{change / prev_close * 100:.2f}"
    sign = "2" if change > 0 else "5" if change < 0 else "3"
    rec = [
        symbol,
        hhmmss,
        str(price),
        sign,
        str(change),
        rate,
        f"{price}.00",
        str(price),
        str(price),
        str(price),
        str(price + 100),
        str(price),
        str(qty),
        str(volume),
        str(volume * price),
    ] + ["0"] * 31
    rec[33], rec[34], rec[35], rec[44], rec[45] = date, "20", "N", "", str(price)
    names = layouts.layout("H0STCNT0", datetime.strptime(date, "%Y%m%d").date()).names
    return rec + ["2" for name in names[46:] if name == layouts.MARKET_CLS_CODE]  # the regular session


def write_recording(
    root: Path,
    start: float,
    frames: Iterable[tuple[float, str]],
    subs: Iterable[tuple[str, str]] = (("H0STCNT0", "005930"),),
    env: str = "mock",
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    session = {
        "format": "kis-harness/recording",
        "version": 1,
        "env": env,
        "start": datetime.fromtimestamp(start, KST).isoformat(),
        "subscriptions": [list(s) for s in subs],
        "synthetic": True,
        "notes": "hand-written test tape",
    }
    (root / "session.json").write_text(json.dumps(session), encoding="utf-8")
    with (root / "ws.jsonl").open("w", encoding="utf-8") as fh:
        for t, text in frames:
            fh.write(json.dumps({"t": t, "dir": "recv", "text": text}) + "\n")
    return root


def gateway_env(urls: dict[str, str], tmp: Path, symbols: str = "005930", **extra: str) -> dict[str, str]:
    return {
        "KIS_ENV": "mock",
        "KIS_APP_KEY": APPKEY,
        "KIS_APP_SECRET": SECRET,
        "KIS_SYMBOLS": symbols,
        "KIS_REST_URL": urls["rest_url"],
        "KIS_WS_URL": urls["ws_url"],
        "GATEWAY_TOKEN_DIR": str(tmp),
        "GATEWAY_REST_RPS": "50",
        **extra,
    }


class Running:
    """fakekis + the gateway app, sharing one manual clock; the gateway's HTTP API is called in-process,
    everything between gateway and fakekis crosses real loopback sockets."""

    def __init__(self, kis: Any, app: Any, http: httpx.AsyncClient, clock: ManualClock) -> None:
        self.kis, self.app, self.http, self.clock = kis, app, http, clock

    @property
    def gw(self) -> Any:
        return self.app.state.gateway

    @property
    def metrics(self) -> Any:
        return self.gw.metrics

    def seen(self, env: str = "mock") -> dict[str, Any]:
        return self.kis.stats(env)

    async def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move the shared clock in steps, letting the tasks woken at each step run their I/O."""
        remaining = seconds
        while remaining > 1e-9:
            dt = min(step, remaining)
            self.clock.advance(dt)
            remaining -= dt
            await self.settle()

    async def settle(self) -> None:
        """Wait until fakekis has sent everything due by now and the gateway has taken in all of it that
        went out on its current connection (what was in flight on a dropped socket is lost, as on KIS)."""
        await eventually(self.kis.caught_up, what="fakekis to send what is due")
        number = self.metrics.ws_connects - 1
        session = next((s for s in self.seen()["open_sessions"] if s["number"] == number), None)
        if session is None:
            return
        w = self.gw.worker
        await eventually(
            lambda: not self.metrics.ws_connected or w.conn_received >= session["texts_sent"],
            what="gateway to ingest",
        )

    async def reconnect(self) -> None:
        """Wait for the worker to start its backoff, then move the clock to its next attempt."""
        await eventually(lambda: self.metrics.ws_next_attempt_at is not None, what="the worker's backoff")
        at = self.metrics.ws_next_attempt_at
        await self.advance(at - self.clock.now() + 1e-6, step=0.25)
        # The attempt has happened once the value changes (None, or a new backoff after a refused handshake).
        await eventually(lambda: self.metrics.ws_next_attempt_at != at, what="the next attempt")
        await eventually(
            lambda: self.metrics.ws_connected or self.metrics.ws_next_attempt_at is not None,
            what="the attempt's outcome (connected, or a new backoff)",
        )

    async def quote(self, symbol: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/quotes/{symbol}")
        return r.json()


def running(
    recording: Any, clock: ManualClock, tmp: Path, symbols: str = "005930", scenario: Any = None, **env: str
) -> Any:
    from contextlib import asynccontextmanager

    from fakekis.serve.server import FakeKis
    from gateway.app import create_app
    from gateway.config import from_env

    @asynccontextmanager
    async def _ctx() -> AsyncIterator[Running]:
        async with FakeKis(recording, clock=clock, speed=1.0, ping_interval=10.0, scenario=scenario) as kis:
            cfg = from_env(gateway_env(kis.urls["mock"], tmp, symbols, **env))
            app = create_app(cfg, clock)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
                    yield Running(kis, app, http, clock)

    return _ctx()
