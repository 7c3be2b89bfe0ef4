"""python-kis, unmodified, against fakekis: only its domain constants are redirected (`redirect_pykis`).

Runs in `tox -e compat`, where python-kis is installed; skipped elsewhere (it is never a dependency).
What each test catches:
- a REST answer python-kis cannot parse (search-info missing, date fields that are not dates, ...);
- realtime frames python-kis splits differently from how fakekis wrote them (every record must arrive
  as one event carrying the tape's values, for trades and order books);
- an unsubscribe fakekis does not honour (frames keep coming);
- a dropped socket python-kis cannot recover from (reconnect + resubscribe must bring frames back);
- python-kis's mock ("virtual") setup: live keys for quotes, mock keys for the mock WebSocket.

Layouts (fakekis/wire/layouts.py): python-kis 2.1.6 hard-codes 46 trade and 59 book fields
(`pykis/api/websocket/price.py`, `order_book.py`) and drops any other width ("Invalid data length").
So its tests run on tapes in layouts it can read: a pre-NXT tape (46/59, `fakekis generate --layout
pre-nxt`, made here) for everything, and the bundled pre-September recording (46/62) for trades. On
today's layout (47/63) python-kis loses every frame, as it would against real KIS since 2026-09-14:
recorded as a strict xfail, so the day python-kis learns the new widths, the suite says so.

Both environments: python-kis sends quotes and realtime prices to its *real* domain, so the first two
tests point that domain at the environment under test (as `redirect_pykis` does with a one-environment
fakekis); the third runs python-kis's own virtual mode against both environments at once.
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fakekis import tape
from fakekis.tape import synth
from fakekis.wire import layouts
from kisclock import KST

pytestmark = pytest.mark.ws

if os.environ.get("KIS_HARNESS_REQUIRE_PYKIS"):  # tox -e compat: a missing python-kis must fail, not skip
    import pykis
else:
    pykis = pytest.importorskip("pykis", reason="python-kis is installed only in `tox -e compat`")

ID, ACCOUNT = "fakekis-user", "50123456-01"
# A second key pair for the mock environment (python-kis's virtual mode needs both, like real KIS).
MOCK_APPKEY = "PSmock" + "1" * 30
MOCK_SECRET = "mock-secret-" + "m" * 168


class Events:
    """Collects python-kis events from its WebSocket thread; waits on a stated condition, bounded."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._cond = threading.Condition()

    def on(self, sender: object, args: Any) -> None:
        """The callback (python-kis wants a function: it copies `__name__`)."""
        with self._cond:
            self.items.append(args.response)
            self._cond.notify_all()

    def wait(self, check: Callable[[list[Any]], bool], what: str, timeout: float = 20.0) -> list[Any]:
        with self._cond:
            if not self._cond.wait_for(lambda: check(self.items), timeout):
                raise AssertionError(
                    f"python-kis: {what} not seen within {timeout}s ({len(self.items)} events)"
                )
            return list(self.items)


def _records(tr_id: str, symbol: str, frames: list[tape.TapeFrame]) -> list[list[str]]:
    """The records fakekis sent for (tr_id, symbol), split the way KIS defines it: by the count."""
    out = []
    for f in frames:
        if f.tr_id == tr_id and f.tr_key == symbol:
            fields = f.text.split("|", 3)[3].split("^")
            width = len(fields) // f.records
            out.extend(fields[i * width : (i + 1) * width] for i in range(f.records))
    return out


def _pre_nxt_recording() -> str:
    """The bundled morning's trades and books in the pre-NXT layout (46/59), the one python-kis reads.
    Lives as long as the test session."""
    folder = Path(_PRE_NXT_DIR.name) / "healthy-morning-pre-nxt"
    start = datetime(2026, 11, 25, 9, 5, tzinfo=KST)
    session, lines = synth.generate(start, 10.0, seed=7, layout_day=layouts.parse_choice("pre-nxt"))
    tape.write(folder, session, lines, rest=[])
    return str(folder)


_PRE_NXT_DIR = tempfile.TemporaryDirectory(prefix="kis-harness-pykis-")
PRE_NXT = _pre_nxt_recording()
PRE_SEPTEMBER = "healthy-morning-synthetic-2026-08"  # 46/62: trades python-kis reads, books it drops
TODAY = tape.DEFAULT_BUNDLED  # 47/63: nothing python-kis reads


@functools.cache
def _tape_frames(recording: str) -> tuple[tape.TapeFrame, ...]:
    """A recording's data frames, in replay order (what fake_kis replays)."""
    bundled = tape.bundled(recording)
    return tuple(tape.load(bundled if (bundled / "session.json").is_file() else recording).data_frames())


def _emitted(fake_kis, recording: str) -> list[tape.TapeFrame]:
    """The tape frames fakekis has replayed so far, once everything due has been sent."""
    fake_kis.wait_until(lambda s: fake_kis.caught_up())
    n = fake_kis.stats()["replay"]["emitted"]
    return list(_tape_frames(recording)[:n])


def _live_kis(fake_kis):
    return pykis.PyKis(
        id=ID, account=ACCOUNT, appkey=fake_kis.appkey, secretkey=fake_kis.appsecret, keep_token=False
    )


def _envs(*recordings: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(
        ("env", "recording"),
        [
            pytest.param(
                env, rec, marks=pytest.mark.fake_kis(env=env, recording=rec, manual_clock=True, speed=1)
            )
            for rec in recordings
            for env in ("live", "mock")
        ],
        ids=lambda v: "pre-nxt" if v == PRE_NXT else v,
    )


@_envs(PRE_NXT)  # python-kis reads only 59-field books
def test_stock_quote_prices_orderbook_and_unsubscribe(
    fake_kis, monkeypatch, env: str, recording: str
) -> None:
    fake_kis.redirect_pykis(monkeypatch)
    kis = _live_kis(fake_kis)
    try:
        stock = kis.stock("005930")  # inquire-price, then search-info CTPF1604R
        assert (stock.symbol, stock.market, stock.info.name) == ("005930", "KRX", "삼성전자")
        assert stock.info.std_code == "KR7005930003"
        quote = stock.quote()
        first = _records("H0STCNT0", "005930", list(_tape_frames(recording)))[0]
        assert quote.price == Decimal(first[2]) and quote.volume == int(
            first[13]
        )  # the day state before replay
        assert quote.indicator.week52_high >= quote.price >= quote.indicator.week52_low

        prices, books = Events(), Events()
        price_ticket = stock.on("price", prices.on)
        # python-kis 2.1.6 can lose a subscription made while it is connecting: `_on_open` restores the
        # set it sees, then marks itself connected; a subscribe in between is neither restored nor sent.
        # Its race, not fakekis's: subscribe the second TR once connected.
        kis.websocket.ensure_connected(10)
        book_ticket = stock.on("orderbook", books.on)  # keep tickets: python-kis unsubscribes on release
        fake_kis.wait_until(lambda s: s["acks"].get("OPSP0000") == 2)
        fake_kis.advance(30.0)
        sent = _emitted(fake_kis, recording)
        trades, levels = _records("H0STCNT0", "005930", sent), _records("H0STASP0", "005930", sent)
        assert trades and levels
        got = prices.wait(lambda items: len(items) >= len(trades), "every trade record")
        assert [(p.symbol, p.price, p.volume, p.time.strftime("%H%M%S")) for p in got] == [
            ("005930", Decimal(r[2]), int(r[13]), r[1]) for r in trades
        ]
        got_books = books.wait(lambda items: len(items) >= len(levels), "every order book")
        assert [(b.asks[0].price, b.bids[0].price, b.asks[0].volume) for b in got_books] == [
            (Decimal(r[3]), Decimal(r[13]), int(r[23])) for r in levels
        ]

        price_ticket.unsubscribe()  # tr_type 2 -> OPSP0001
        fake_kis.wait_until(lambda s: s["acks"].get("OPSP0001") == 1)
        fake_kis.advance(30.0)
        sent = _emitted(fake_kis, recording)
        books.wait(
            lambda items: len(items) == len(_records("H0STASP0", "005930", sent)), "books after unsubscribe"
        )
        assert len(prices.items) == len(trades)  # no trade after the unsubscribe
        assert fake_kis.stats()["open_sessions"][0]["subscriptions"] == [["H0STASP0", "005930"]]
        book_ticket.unsubscribe()
    finally:
        kis.websocket.disconnect()


@_envs(PRE_NXT, PRE_SEPTEMBER)
def test_python_kis_resubscribes_after_fakekis_drops_the_socket(
    fake_kis, monkeypatch, env: str, recording: str
) -> None:
    fake_kis.redirect_pykis(monkeypatch)
    kis = _live_kis(fake_kis)
    try:
        prices = Events()
        ticket = kis.stock("000660").on("price", prices.on)
        fake_kis.wait_until(lambda s: s["acks"].get("OPSP0000") == 1)
        fake_kis.advance(10.0)
        before = len(_records("H0STCNT0", "000660", _emitted(fake_kis, recording)))
        prices.wait(lambda items: len(items) == before, "trades before the drop")

        assert fake_kis.drop() == 1  # no close frame: python-kis sees the socket die
        # python-kis waits its own reconnect_interval (5 s, wall clock), reconnects and resubscribes.
        stats = fake_kis.wait_until(
            lambda s: s["sessions_opened"] == 2 and s["acks"].get("OPSP0000") == 2, timeout=20
        )
        assert stats["drops"]["manual"] == 1
        fake_kis.advance(10.0)
        after = _records("H0STCNT0", "000660", _emitted(fake_kis, recording))
        assert len(after) > before
        got = prices.wait(lambda items: len(items) >= len(after), "trades after the reconnect")
        assert [p.price for p in got] == [Decimal(r[2]) for r in after]  # nothing lost, nothing doubled
        ticket.unsubscribe()
    finally:
        kis.websocket.disconnect()


@pytest.mark.parametrize(
    "recording",
    [
        pytest.param(rec, marks=pytest.mark.fake_kis(env="both", recording=rec, manual_clock=True, speed=1))
        for rec in (PRE_NXT, PRE_SEPTEMBER)
    ],
    ids=["pre-nxt", PRE_SEPTEMBER],
)
def test_virtual_mode_quotes_on_live_and_realtime_on_the_mock_websocket(
    fake_kis, monkeypatch, recording: str
) -> None:
    """python-kis's mock setup, as against real KIS: quotes always go to the live domain with the live
    key, a token is issued in each environment, and a `primary=True` subscription goes to the mock
    WebSocket with an approval key from the mock domain."""
    fake_kis.redirect_pykis(monkeypatch)
    kis = pykis.PyKis(
        id=ID,
        account=ACCOUNT,
        appkey=fake_kis.appkey,
        secretkey=fake_kis.appsecret,
        virtual_id=ID,
        virtual_appkey=MOCK_APPKEY,
        virtual_secretkey=MOCK_SECRET,
        keep_token=False,
    )
    try:
        assert kis.virtual
        stock = kis.stock("035720")
        assert stock.info.name == "카카오" and stock.quote().price > 0
        assert kis.primary_token.token != kis.token.token  # one token per environment
        assert fake_kis.stats("live")["sessions_opened"] == 0

        prices = Events()
        ticket = kis.websocket.on("H0STCNT0", "035720", prices.on, primary=True)
        stats = fake_kis.wait_until(lambda s: s["acks"].get("OPSP0000") == 1)  # the mock environment's ack
        assert stats["open_sessions"][0]["subscriptions"] == [["H0STCNT0", "035720"]]
        fake_kis.advance(20.0)
        trades = _records("H0STCNT0", "035720", _emitted(fake_kis, recording))
        got = prices.wait(lambda items: len(items) >= len(trades), "mock trades")
        assert [p.price for p in got] == [Decimal(r[2]) for r in trades]
        assert fake_kis.stats("live")["sessions_opened"] == 0  # the realtime path never touched live
        ticket.unsubscribe()
    finally:
        kis.websocket.disconnect()


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="python-kis 2.1.6 hard-codes 46 H0STCNT0 / 59 H0STASP0 fields and drops every 47- and 63-field "
    "frame ('Invalid data length'), as against real KIS since 2026-09-14",
)
@pytest.mark.fake_kis(env="live", recording=TODAY, manual_clock=True, speed=1)
def test_python_kis_reads_todays_layouts(fake_kis, monkeypatch) -> None:
    fake_kis.redirect_pykis(monkeypatch)
    kis = _live_kis(fake_kis)
    prices = Events()
    ticket = kis.stock("005930").on("price", prices.on)
    try:
        fake_kis.wait_until(lambda s: s["acks"].get("OPSP0000") == 1)
        fake_kis.advance(10.0)
        trades = _records("H0STCNT0", "005930", _emitted(fake_kis, TODAY))
        assert trades and len(trades[0]) == 47
        got = prices.wait(lambda items: len(items) >= len(trades), "trades in the 47-field layout", timeout=5)
        assert [p.price for p in got] == [Decimal(r[2]) for r in trades]
    finally:
        ticket.unsubscribe()  # also when the xfail fails: no ticket left for a later test to release
        kis.websocket.disconnect()
