"""The handle a `fake_kis` test gets: URLs, keys, what fakekis saw, and its controls (docs/api.md).

`FakeKisHandle` talks to a fakekis (or, in a record mode, the recording proxy) running on its own event loop
in a background thread; every call is marshalled onto that loop and waited for, so a sync test can use it.
The plugin that starts and stops what it talks to is `pytest_plugin.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from fakekis import faults
from fakekis.serve.proxy import Recorder
from fakekis.serve.server import FakeKis
from fakekis.testing.netguard import Guard
from fakekis.testing.pykis_redirect import PykisRedirect
from kisclock import ManualClock

T = TypeVar("T")

# Keys of the real lengths (36 / 180): python-kis rejects any other length client-side.
APPKEY = "PSfakekis" + "0" * 27
APPSECRET = "fakekis-secret-" + "s" * 165


class FakeKisHandle:
    """What a test gets: URLs, keys, what fakekis saw, and controls. Thread-safe."""

    def __init__(
        self,
        kis: FakeKis | None,
        loop: asyncio.AbstractEventLoop,
        env: str,
        recorder: Recorder | None = None,
    ) -> None:
        self._fake, self._loop, self.env, self._recorder = kis, loop, env, recorder
        self.appkey, self.appsecret = APPKEY, APPSECRET
        self._pykis = PykisRedirect()
        self._guard: Guard | None = None

    @property
    def blocked_connections(self) -> list[str]:
        """Every non-loopback "host:port" a connect or name lookup was refused for, in any thread."""
        return list(self._guard.blocked) if self._guard else []

    @property
    def recording(self) -> bool:
        """True while the test runs through the recording proxy to the upstream (record modes)."""
        return self._recorder is not None

    @property
    def _kis(self) -> FakeKis:
        if self._fake is None:
            raise RuntimeError(
                "fake_kis is recording through the upstream (record mode): only rest_url, ws_url, urls and "
                "stats() are available until the recording is replayed"
            )
        return self._fake

    @property
    def rest_url(self) -> str:
        return self.urls[self.env]["rest_url"]

    @property
    def ws_url(self) -> str:
        return self.urls[self.env]["ws_url"]

    @property
    def urls(self) -> dict[str, dict[str, str]]:
        if self._recorder is not None:
            return {self.env: {"rest_url": self._recorder.rest_url, "ws_url": self._recorder.ws_url}}
        return self._kis.urls

    def _call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on fakekis's event loop (its own thread) and wait for the answer, at most 10 s."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def stats(self, env: str | None = None) -> dict[str, Any]:
        """What the exchange saw: acks by code, frames sent, PINGPONGs, echoes, open sessions, replay.
        While recording: the recorder's progress (`recording: True`, messages, refused calls)."""
        recorder = self._recorder
        if recorder is not None:
            return self._call(lambda: {"recording": True, **recorder.progress()})
        return self._call(lambda: self._kis.stats(env or self.env))

    def drop(self, env: str | None = None) -> int:
        """Abort every WebSocket of the environment without a close frame (your client sees 1006)."""
        return self._call(lambda: self._kis.drop_connections(env or self.env))

    def account(
        self,
        cano: str,
        prdt: str = "01",
        *,
        cash: int | None = None,
        holdings: dict[str, tuple[int, int]] | None = None,
        env: str | None = None,
    ) -> dict[str, Any]:
        """Seed a paper-trading account (docs/paper-trading.md): `cash` in won, `holdings` as
        {symbol: (quantity, average price)}; returns what the account holds now. With no cash or
        holdings given, it only reads (opening the account with the start cash if it is new)."""
        accounts = self._kis.accounts
        return self._call(
            lambda: accounts.seed(env or self.env, cano, prdt, cash=cash, holdings=holdings).as_dict()
        )

    def orders(self, env: str | None = None) -> list[dict[str, Any]]:
        """The order ledger: every order, modify and cancel, with what filled, in placing order."""
        paper = self._kis.paper[env or self.env]
        return self._call(lambda: [o.as_dict() for o in paper.orders()])

    def fills(self, env: str | None = None) -> list[dict[str, Any]]:
        """Every fill, in order: order number, quantity, price, tape time (HHMMSS)."""
        paper = self._kis.paper[env or self.env]
        return self._call(
            lambda: [{"odno": o, "qty": q, "price": p, "time": t} for o, q, p, t in paper.fills]
        )

    def add_fault(self, fault: str | faults.Fault[Any], **params: Any) -> int:
        """Start a fault now, while the test runs (as `POST /__fakekis/faults` does); returns its id.
        `fault` is a catalogue name with its parameters (`add_fault("latency", latency_s=0.2)`), checked as
        a scenario file is (a bad one raises `faults.ScenarioError`), or a fault object."""
        made = (
            fault if isinstance(fault, faults.Fault) else faults.build([{"fault": fault, **params}]).faults[0]
        )
        return self._call(lambda: self._kis.add_fault(made))

    def remove_fault(self, fault_id: int | None = None) -> int:
        """Stop the fault with this id (None: every fault, the marker's scenario too); how many stopped."""
        return self._call(lambda: self._kis.remove_fault(fault_id))

    def list_faults(self) -> list[dict[str, Any]]:
        """The active faults with their ids and parameters (as `GET /__fakekis/faults`)."""
        return self._call(self._kis.faults.listing)

    @contextlib.contextmanager
    def fault(self, fault: str | faults.Fault[Any], **params: Any) -> Iterator[int]:
        """`with fake_kis.fault("timeout"):` the fault is active inside the block only."""
        fault_id = self.add_fault(fault, **params)
        try:
            yield fault_id
        finally:
            self.remove_fault(fault_id)

    def advance(self, seconds: float) -> None:
        """Move fakekis's manual clock (marker `manual_clock=True`): replay, PINGPONG and fault timers."""
        clock = self._kis.clock
        if not isinstance(clock, ManualClock):
            raise RuntimeError(
                "fake_kis runs on the wall clock; use @pytest.mark.fake_kis(manual_clock=True)"
            )
        self._call(lambda: clock.advance(seconds))

    def start_replay(self) -> None:
        """Start the tape now, without waiting for a subscription (a REST-only client: charts, order book)."""
        self._call(self._kis.player.start)

    def caught_up(self) -> bool:
        """With the manual clock: everything the last `advance` made due (replay frames, PINGPONGs) is sent."""
        return self._call(self._kis.caught_up)

    def pykis_domains(self, real: str | None = None, virtual: str = "mock") -> dict[str, str]:
        """python-kis's four domain constants pointed at this fakekis.

        `real` is the environment python-kis's *real* domain goes to: by default `live` when served, else
        the fixture's environment (python-kis sends quotes and realtime prices to its real domain, so a
        mock-only fakekis takes them). An environment this fakekis does not serve gets a closed loopback
        port (127.0.0.1:9), so a test can never reach real KIS by accident."""
        urls = self._kis.urls
        closed = {"rest_url": "http://127.0.0.1:9", "ws_url": "ws://127.0.0.1:9"}
        live = urls.get(real or ("live" if "live" in urls else self.env), closed)
        mock = urls.get(virtual, closed)
        return {
            "REAL_DOMAIN": live["rest_url"],
            "VIRTUAL_DOMAIN": mock["rest_url"],
            "WEBSOCKET_REAL_DOMAIN": live["ws_url"],
            "WEBSOCKET_VIRTUAL_DOMAIN": mock["ws_url"],
        }

    def redirect_pykis(
        self, monkeypatch: pytest.MonkeyPatch | None = None, real: str | None = None, virtual: str = "mock"
    ) -> None:
        """Point an installed python-kis at this fakekis for the rest of the test. python-kis copies the
        constants of `pykis.__env__` into the modules that use them, so those copies are the ones patched.
        At teardown every python-kis WebSocket client made meanwhile is stopped (its reconnect thread
        joined) before the constants are restored. `monkeypatch` is accepted for compatibility and not
        used: the user's monkeypatch is undone before this fixture's teardown, too early. Other arguments
        as `pykis_domains`."""
        self._pykis.apply(self.pykis_domains(real, virtual))

    def wait_until(self, check: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        """Poll `stats()` until `check(stats)` holds (bounded; raises AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if check(stats):
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"fake_kis: condition not met within {timeout}s; stats: {stats}")
            time.sleep(0.01)  # polling another thread's server, bounded by the deadline
