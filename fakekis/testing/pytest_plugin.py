"""pytest plugin: run your own KIS client against fakekis.

Installed with the package (entry point `pytest11`). This module is the plugin itself: its command-line
options, the `fake_kis` marker, the fixtures, and starting and stopping fakekis (or the recording proxy)
around a test; what the test holds while it runs, `FakeKisHandle`, is in `testing/handle.py`. The `fake_kis` fixture starts fakekis on
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

During the test no connection leaves loopback (`testing/netguard.py`): a connect or name lookup of any other
host raises `NetworkBlocked` naming it. Opt out with `block_network=False` or `pytest
--fake-kis-allow-network`; let named hosts through with `allow_hosts=[...]`. python-kis redirected with
`redirect_pykis` is shut down before the redirect is undone (`testing/pykis_redirect.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from fakekis import faults, tape
from fakekis.exchange.accounts import DEFAULT_START_CASH
from fakekis.exchange.cassette import DEFAULT_MATCH_ON, check_match_on
from fakekis.exchange.warm import IndexFold
from fakekis.serve.proxy import Recorder
from fakekis.serve.server import FakeKis
from fakekis.testing import record_modes
from fakekis.testing.handle import FakeKisHandle
from fakekis.testing.netguard import Guard
from kisclock import ManualClock, WallClock


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fake-kis-record",
        choices=record_modes.MODES,
        default=None,
        help="fake_kis record mode for every test, overriding the markers' record= (none, once, new_episodes)",
    )
    parser.addoption(
        "--fake-kis-allow-network",
        action="store_true",
        help="fake_kis: let connections leave loopback during fake_kis tests (blocked by default)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fake_kis(recording=..., speed=..., env=..., scenario=..., manual_clock=..., "
        "ping_interval=..., pingpong_deadline=..., lenient=..., hts_id=..., start_cash=..., rest_match_on=..., "
        "record=..., upstream=..., block_network=True, allow_hosts=[...]): configure the fake_kis fixture",
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
    guard = None  # no connection leaves loopback during the test (testing/netguard.py) unless opted out
    if opts.get("block_network", True) and not request.config.getoption("fake_kis_allow_network"):
        guard = Guard(opts.get("allow_hosts", ()))
    if mode != "none":
        yield from _record_mode(request, opts, mode, guard)
        return
    rec_opt = opts.get("recording", tape.DEFAULT_BUNDLED)
    yield from _serve(opts, None if rec_opt is None else open_recording(rec_opt), guard)


def open_recording(name: str | Path) -> tape.Tape:
    """The marker's recording (a bundled name or a folder), streamed as `fakekis serve` reads it: memory
    does not grow with the tape. A tape without an index is read once here, checking every line in
    constant memory, so a bad recording fails the fixture with its file and line, not the replay."""
    bundled = tape.bundled(str(name))
    rec = tape.open_tape(bundled if (bundled / "session.json").is_file() else name)
    if rec.index is None:
        rec.index = rec.build_index(fold=IndexFold())
    return rec


@contextlib.contextmanager
def _blocking(handle: FakeKisHandle, guard: Guard | None) -> Iterator[FakeKisHandle]:
    """The guard stands from before the test until after everything the test started has stopped."""
    handle._guard = guard
    if guard is not None:
        guard.install()
    try:
        yield handle
    finally:
        if guard is not None:
            guard.uninstall()


def _folder(request: pytest.FixtureRequest, opts: dict[str, Any]) -> Path:
    given = opts.get("recording")
    if given is None:
        return record_modes.default_folder(request.path, request.node.name)
    path = Path(given)
    return path if path.is_absolute() else request.path.parent / path


def _record_mode(
    request: pytest.FixtureRequest, opts: dict[str, Any], mode: str, guard: Guard | None
) -> Iterator[FakeKisHandle]:
    folder = _folder(request, opts)
    if record_modes.exists(folder) and mode == "once":
        yield from _serve(opts, open_recording(folder), guard)
        return
    upstream = opts.get("upstream") or request.getfixturevalue("fake_kis_upstream")
    rest_up, ws_up = record_modes.upstream_urls(upstream)
    if guard is not None:  # recording asks the upstream by design: its hosts, and only those, get through
        guard.allow |= {h.lower() for u in (rest_up, ws_up) if (h := urlsplit(u).hostname)}
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
        with _blocking(FakeKisHandle(None, loop, env, recorder), guard) as handle:
            yield handle
    finally:
        asyncio.run_coroutine_threadsafe(recorder.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        loop.close()
        if out != folder:
            record_modes.merge_new_episodes(folder, out)
        else:
            record_modes.untimed(folder)


def _serve(
    opts: dict[str, Any], recording: tape.Tape | None, guard: Guard | None = None
) -> Iterator[FakeKisHandle]:
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
    with _blocking(FakeKisHandle(holder["kis"], loop, "mock" if env == "both" else env), guard) as handle:
        try:
            yield handle
        finally:
            try:
                handle._pykis.stop()  # python-kis stops re-dialling while fakekis and the guard still stand
            finally:
                loop.call_soon_threadsafe(holder["stop"].set)
                thread.join(15)
                loop.close()
                handle._pykis.close()  # its threads have ended: only now are its real domains restored
