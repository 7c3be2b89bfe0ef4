"""Shared fixtures: real captured frames, a manual clock, tiny hand-written recordings, and helpers
that run fakekis and the gateway together over real loopback sockets."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakekis.wire import layouts
from kisclock import KST, ManualClock

# The real redis-server fixtures (scale-out tests, issue #17).
pytest_plugins = ["redis_server"]

DATA = Path(__file__).parent / "data"
APPKEY = "PStest" + "k" * 30
SECRET = "secret" + "s" * 174


def real_frames() -> list[dict[str, Any]]:
    with (DATA / "real-frames.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def kst(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=KST).timestamp()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def eventually(
    check: Callable[[], bool],
    timeout: float = 10.0,
    what: str = "condition",
    state: Callable[[], object] | None = None,
) -> None:
    """Wait for a condition produced by another task (I/O on loopback), bounded in real time.
    Not a sleep to paper over a race: the test states what it waits for and fails if it never holds.
    The deadline is a safety net for a broken system, not a timing claim: nothing here advances the
    manual clock, so a slow (loaded) machine only makes the wait longer, never the outcome different.
    `state` adds what the system looked like when the wait gave up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            seen = f"; state: {state()}" if state is not None else ""
            raise AssertionError(f"timed out after {timeout:g} s (real time) waiting for {what}{seen}")
        await asyncio.sleep(0.002)


def plain_id(text: str) -> str:
    """A readable parameter id without "ws" in it. `pytest -k ws` matches ids case-insensitively, so an id
    such as `--ws-port` or `GATEWAY_WS_IDLE_TIMEOUT` would pull a test that is not on the WebSocket path into
    the `ws` selection (tests/project/test_ws_selection.py keeps `-k ws` equal to `-m ws`)."""
    return text.replace("WS", "W-S").replace("Ws", "W-s").replace("ws", "w-s").replace("wS", "w-S")


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

    def __init__(
        self, kis: Any, app: Any, http: httpx.AsyncClient, clock: ManualClock, env: str = "mock"
    ) -> None:
        self.kis, self.app, self.http, self.clock, self.env = kis, app, http, clock, env

    @property
    def gw(self) -> Any:
        return self.app.state.gateway

    @property
    def metrics(self) -> Any:
        return self.gw.metrics

    def seen(self, env: str | None = None) -> dict[str, Any]:
        return dict(self.kis.stats(env or self.env))

    async def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move the shared clock in steps, letting the tasks woken at each step run their I/O."""
        remaining = seconds
        while remaining > 1e-9:
            dt = min(step, remaining)
            self.clock.advance(dt)
            remaining -= dt
            await self.settle()

    def state(self) -> dict[str, Any]:
        """What a failed wait reports: the gateway's view and fakekis's open sessions."""
        m = self.metrics
        return {
            "ws_connected": m.ws_connected,
            "ws_connects": m.ws_connects,
            "ws_subscriptions": m.ws_subscriptions,
            "ws_messages": m.ws_messages,
            "ws_next_attempt_at": m.ws_next_attempt_at,
            "last_error": m.last_error,
            "fakekis_sessions": self.seen()["open_sessions"],
        }

    def _session(self, number: int) -> dict[str, Any] | None:
        return next((s for s in self.seen()["open_sessions"] if s["number"] == number), None)

    async def settle(self) -> None:
        """Wait until fakekis has sent everything due by now, the gateway has taken in all of it that went
        out on its current connection (what was in flight on a dropped socket is lost, as on KIS), and fakekis
        has taken in what the gateway owes it there: one subscribe request per symbol and an echo of every
        PINGPONG. Only then may the clock move on: otherwise, on a loaded machine, the manual clock ran past
        the gateway's ack timeout (or fakekis's PINGPONG timeout) while a request was still in flight, and a
        healthy run was diagnosed as 'subscribe requests are swallowed'."""
        await eventually(self.kis.caught_up, what="fakekis to send what is due", state=self.state)
        number = self.metrics.ws_connects - 1
        if self._session(number) is None:
            return
        w = self.gw.worker

        def gone_or(check: Callable[[dict[str, Any]], bool]) -> Callable[[], bool]:
            def done() -> bool:
                s = self._session(number)
                return not self.metrics.ws_connected or s is None or check(s)

            return done

        ingested = gone_or(lambda s: w.conn_received >= s["texts_sent"])
        await eventually(ingested, what="the gateway to ingest what fakekis sent", state=self.state)
        owed = gone_or(lambda s: s["texts_received"] >= len(self.gw.cfg.symbols) + s["pingpongs_sent"])
        await eventually(
            owed, what="fakekis to receive the subscribe requests and PINGPONG echoes", state=self.state
        )
        await eventually(ingested, what="the gateway to ingest fakekis's answers", state=self.state)

    async def reconnect(self) -> None:
        """Wait for the worker to start its backoff, then move the clock to its next attempt."""
        await eventually(
            lambda: self.metrics.ws_next_attempt_at is not None, what="the worker's backoff", state=self.state
        )
        at = self.metrics.ws_next_attempt_at
        await self.advance(at - self.clock.now() + 1e-6, step=0.25)
        # The attempt has happened once the value changes (None, or a new backoff after a refused handshake).
        await eventually(
            lambda: self.metrics.ws_next_attempt_at != at, what="the next attempt", state=self.state
        )
        await eventually(
            lambda: self.metrics.ws_connected or self.metrics.ws_next_attempt_at is not None,
            what="the attempt's outcome (connected, or a new backoff)",
            state=self.state,
        )

    async def quote(self, symbol: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/quotes/{symbol}")
        return dict(r.json())


def running(
    recording: Any, clock: ManualClock, tmp: Path, symbols: str = "005930", scenario: Any = None, **env: str
) -> Any:
    from contextlib import asynccontextmanager

    from fakekis.serve.server import FakeKis
    from gateway.app import create_app
    from gateway.config import from_env

    kis_env = env.get("KIS_ENV", "mock")  # fakekis serves the environment the gateway is set to

    @asynccontextmanager
    async def _ctx() -> AsyncIterator[Running]:
        async with FakeKis(
            recording, envs=(kis_env,), clock=clock, speed=1.0, ping_interval=10.0, scenario=scenario
        ) as kis:
            cfg = from_env(gateway_env(kis.urls[kis_env], tmp, symbols, **env))
            app = create_app(cfg, clock)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
                    yield Running(kis, app, http, clock, kis_env)

    return _ctx()


# Marked here, not in the file: tests/gateway/test_ws_state_machine.py is being rewritten elsewhere and drives
# connect/subscribe/ingest through both cores. Once it carries its own `pytestmark = pytest.mark.ws`, this
# adds nothing (the marker is added only where missing).
_WS_MODULES_MARKED_HERE = frozenset({"test_ws_state_machine.py"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reverse",
        action="store_true",
        help="run the collected tests in reverse order: a test that passes only after another one "
        "(shared token files, approval keys, module state) fails",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in _WS_MODULES_MARKED_HERE and item.get_closest_marker("ws") is None:
            item.add_marker(pytest.mark.ws)
    if config.getoption("--reverse"):
        items.reverse()


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """pytest-timeout's thread method, with a report that starts with the test's id. Its own report is a
    stack dump only, and a test stuck inside the event loop (a task that ignores cancellation holds up
    the loop's shutdown) has no frame of its own on the main thread's stack: nothing named the test."""
    if settings.method != "thread" or not settings.timeout:
        return None  # pytest-timeout's own hook handles it

    def fire() -> None:
        from pytest_timeout import dump_stacks

        terminal = item.config.get_terminal_writer()
        try:
            capman = item.config.pluginmanager.getplugin("capturemanager")
            err = ""
            if capman is not None:
                capman.suspend_global_capture(item)
                _, err = capman.read_global_capture()
            terminal.sep("+", title=f"Timeout: {item.nodeid} ran past {settings.timeout:g} s")
            if err:
                terminal.sep("~", title="Captured stderr (end)")
                terminal.write(err[-3000:])
            dump_stacks(terminal)
            terminal.sep("+", title=f"Timeout: {item.nodeid}")
        finally:
            terminal.flush()
            os._exit(1)

    timer = threading.Timer(settings.timeout, fire)
    timer.name = f"timeout {item.nodeid}"

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # read by pytest-timeout's cancel hook
    timer.start()
    return True
