"""pytest plugin: run your own KIS client against fakekis.

Installed with the package (entry point `pytest11`). The `fake_kis` fixture starts fakekis on
127.0.0.1 free ports in a background thread, so sync clients (python-kis, requests, websocket-client)
and async ones alike can use it::

    def test_my_bot(fake_kis):
        bot = MyBot(rest_url=fake_kis.rest_url, ws_url=fake_kis.ws_url,
                    appkey=fake_kis.appkey, appsecret=fake_kis.appsecret)
        bot.subscribe("005930")
        fake_kis.wait_until(lambda s: s["frames_sent"] > 0)
        assert bot.last_price("005930") > 0

Paper trading: seed an account, let the bot trade, read the ledger::

    def test_my_trader(fake_kis):
        fake_kis.account("50123456", cash=5_000_000, holdings={"005930": (10, 70_000)})
        run_my_trader(fake_kis.rest_url, fake_kis.ws_url, account="50123456-01")
        assert [o["side"] for o in fake_kis.orders()] == ["buy"]

Configure with a marker (all optional)::

    @pytest.mark.fake_kis(recording="healthy-morning-synthetic", speed="asap", env="mock",
                          scenario="drop,malformed", manual_clock=False, ping_interval=10.0,
                          start_cash=10_000_000, hts_id="myhtsid",
                          rest_match_on=("method", "path", "tr_id", "query", "body"))

`rest_match_on` names the matchers REST replay from the recording's rest.yaml uses (docs/recordings.md).

Record modes, as in vcrpy/pytest-recording (`fakekis/testing/record_modes.py`, docs/api.md)::

    @pytest.mark.fake_kis(record="once", upstream={"rest_url": ..., "ws_url": ...})

records the test through the recording proxy on its first run (into `recordings/<module>/<test>/` next to
the test file, or `recording=`) and replays it on every later run. `--fake-kis-record=MODE` overrides the
markers' mode for a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from fakekis import faults, tape
from fakekis.exchange.accounts import DEFAULT_START_CASH
from fakekis.exchange.cassette import DEFAULT_MATCH_ON, check_match_on
from fakekis.serve.proxy import Recorder
from fakekis.serve.server import FakeKis
from fakekis.testing import record_modes
from kisclock import ManualClock, WallClock

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
        self, monkeypatch: pytest.MonkeyPatch, real: str | None = None, virtual: str = "mock"
    ) -> None:
        """Point an installed python-kis at this fakekis for the rest of the test (undone afterwards).
        python-kis copies the constants of `pykis.__env__` into the modules that use them, so those
        copies are the ones patched. Arguments as `pykis_domains`."""
        import pykis.client.websocket
        import pykis.kis

        for name, url in self.pykis_domains(real, virtual).items():
            module = pykis.client.websocket if name.startswith("WEBSOCKET") else pykis.kis
            monkeypatch.setattr(module, name, url)

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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fake-kis-record",
        choices=record_modes.MODES,
        default=None,
        help="fake_kis record mode for every test, overriding the markers' record= (none, once, new_episodes)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fake_kis(recording=..., speed=..., env=..., scenario=..., manual_clock=..., "
        "ping_interval=..., pingpong_deadline=..., lenient=..., hts_id=..., start_cash=..., rest_match_on=..., "
        "record=..., upstream=...): configure the fake_kis fixture",
    )


@pytest.fixture
def fake_kis_upstream() -> object:
    """The upstream a recording test goes to (override in a conftest; the marker's upstream= wins).
    Asked for only when a test records."""
    return None


@pytest.fixture
def fake_kis(request: pytest.FixtureRequest) -> Iterator[FakeKisHandle]:
    marker = request.node.get_closest_marker("fake_kis")
    opts: dict[str, Any] = dict(marker.kwargs) if marker else {}
    mode = record_modes.check_mode(request.config.getoption("fake_kis_record") or opts.get("record", "none"))
    if mode != "none":
        yield from _record_mode(request, opts, mode)
        return
    rec_opt = opts.get("recording", tape.DEFAULT_BUNDLED)
    recording = (
        None
        if rec_opt is None
        else tape.load(
            tape.bundled(rec_opt) if (tape.bundled(rec_opt) / "session.json").is_file() else rec_opt
        )
    )
    yield from _serve(opts, recording)


def _folder(request: pytest.FixtureRequest, opts: dict[str, Any]) -> Path:
    given = opts.get("recording")
    if given is None:
        return record_modes.default_folder(request.path, request.node.name)
    path = Path(given)
    return path if path.is_absolute() else request.path.parent / path


def _record_mode(request: pytest.FixtureRequest, opts: dict[str, Any], mode: str) -> Iterator[FakeKisHandle]:
    folder = _folder(request, opts)
    if record_modes.exists(folder) and mode == "once":
        yield from _serve(opts, tape.load(folder))
        return
    upstream = opts.get("upstream") or request.getfixturevalue("fake_kis_upstream")
    rest_up, ws_up = record_modes.upstream_urls(upstream)
    out = folder.with_name(folder.name + ".new-episode") if record_modes.exists(folder) else folder
    shutil.rmtree(out.with_name(folder.name + ".new-episode"), ignore_errors=True)
    env = opts.get("env", "mock")
    if env not in ("mock", "live"):
        raise record_modes.RecordModeError(f"fake_kis: env={env!r} cannot record (allowed: mock, live)")
    recorder = Recorder(out, env=env, rest_upstream=rest_up, ws_upstream=ws_up)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(recorder.start())
    except BaseException:
        loop.close()
        raise
    thread = threading.Thread(target=loop.run_forever, name="fake_kis-record", daemon=True)
    thread.start()
    try:
        yield FakeKisHandle(None, loop, env, recorder)
    finally:
        asyncio.run_coroutine_threadsafe(recorder.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        loop.close()
        if out != folder:
            record_modes.merge_new_episodes(folder, out)
        else:
            record_modes.untimed(folder)


def _serve(opts: dict[str, Any], recording: tape.Recording | None) -> Iterator[FakeKisHandle]:
    speed = opts.get("speed", "asap")
    match_on = check_match_on(opts.get("rest_match_on", DEFAULT_MATCH_ON))  # here: a thread would hide it
    env = opts.get("env", "mock")
    scenario = opts.get("scenario")
    if isinstance(scenario, str):
        scenario = faults.load(scenario)
    # The manual clock starts at the wall clock's now: clients judge token expiry by their own clock
    # (python-kis renews a token it thinks has < 10 min left), so fakekis's "now" must be close to theirs.
    clock = ManualClock(time.time()) if opts.get("manual_clock") else WallClock()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        kis = FakeKis(
            recording,
            envs=("live", "mock") if env == "both" else (env,),
            speed=None if speed == "asap" else float(speed),
            clock=clock,
            ping_interval=float(opts.get("ping_interval", 10.0)),
            pingpong_deadline=float(opts.get("pingpong_deadline", 100.0)),
            lenient=bool(opts.get("lenient", False)),
            hts_id=opts.get("hts_id"),
            start_cash=int(opts.get("start_cash", DEFAULT_START_CASH)),
            scenario=scenario,
            rest_match_on=match_on,
        )
        await kis.start()
        holder["kis"], holder["stop"] = kis, asyncio.Event()
        ready.set()
        await holder["stop"].wait()
        await kis.stop()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), name="fake_kis", daemon=True)
    thread.start()
    if not ready.wait(15):
        raise RuntimeError("fake_kis did not start within 15 s")
    try:
        yield FakeKisHandle(holder["kis"], loop, "mock" if env == "both" else env)
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(15)
        loop.close()
