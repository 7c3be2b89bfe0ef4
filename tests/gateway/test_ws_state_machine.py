"""Hypothesis stateful test over the sans-I/O cores of both sides, wired together in-process:
fakekis's Exchange on one side, the gateway's QuoteWorker.on_message / ClientSession / QuoteCache /
select on the other, one manual clock, no sockets. Thousands of interleavings of connect, drop,
trades (multi-record, 46/47 fields, subscribed or not), PINGPONG, duplicate subscribes, garbage and
time, with the invariants checked after every step:

- the gateway's metrics tell the truth about what fakekis sent (frames, records, acks, PINGPONGs);
- no tick is lost, duplicated or reordered in the cache while connected;
- `source` follows the selection rule exactly (KRX calendar from `holidays`, our receive time);
- nothing raises out of the worker's message handling, whatever arrives;
- no secret ever appears in a stage-log line.
"""

from __future__ import annotations

from datetime import datetime

import holidays
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from conftest import kst, trade
from fakekis import faults
from fakekis.exchange.auth import Registry
from fakekis.exchange.sessions import Close, Drop, Send, SendRaw
from fakekis.wire import frames
from gateway.cache import QuoteCache
from gateway.config import from_env
from gateway.metrics import Metrics
from gateway.quotes import select
from gateway.redact import Redactor, StageLog
from gateway.session import ClientSession
from gateway.worker import QuoteWorker
from kisclock import KST, ManualClock

APPKEY, SECRET = "PSCANARY" + "q" * 28, "SECRETCANARY" + "z" * 168
SYMBOLS = ("005930", "000660")
PREV = {"005930": 71_000, "000660": 177_000, "035720": 41_000}
STARTS = [
    kst(2026, 11, 25, 9, 0),
    kst(2026, 11, 25, 15, 29, 50),
    kst(2026, 11, 25, 8, 59, 30),
    kst(2026, 11, 28, 10, 0),
    kst(2026, 9, 25, 10, 0),
    kst(2026, 12, 31, 11, 0),
]
XKRX = holidays.financial_holidays("XKRX", years=range(2026, 2028))


def market_open(ts: float) -> bool:
    """An independent statement of the rule: weekday, not an XKRX holiday, 09:00 <= t < 15:30 KST."""
    d = datetime.fromtimestamp(ts, KST)
    return d.weekday() < 5 and d.date() not in XKRX and (9, 0) <= (d.hour, d.minute) < (15, 30)


class KisPair(RuleBasedStateMachine):
    @initialize(
        start=st.sampled_from(STARTS) | st.floats(kst(2026, 1, 1, 0, 0), kst(2027, 12, 31, 0, 0)),
        remembers=st.booleans(),
    )
    def setup(self, start: float, remembers: bool = False) -> None:
        """`remembers`: after a reconnect the server still knows the old registrations (acks OPSP0002, F11)."""
        self.clock = ManualClock(start)
        self.registry = Registry("mock")
        self.approval = str(
            self.registry.issue_approval(
                {"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET}
            )[1]["approval_key"]
        )
        from fakekis.exchange.sessions import Exchange

        scenario = faults.Scenario([faults.AlreadySubscribedAfterReconnect()] if remembers else [])
        self.exchange = Exchange(self.registry, scenario=scenario)
        self.cfg = from_env(
            {
                "KIS_APP_KEY": APPKEY,
                "KIS_APP_SECRET": SECRET,
                "KIS_SYMBOLS": ",".join(SYMBOLS),
                "KIS_REST_URL": "http://x",
                "KIS_WS_URL": "ws://x",
                "GATEWAY_TOKEN_DIR": "/nonexistent",
            }
        )
        self.log = StageLog(Redactor(self.cfg.secrets))
        self.log.redact.add(self.approval)
        self.metrics, self.cache = Metrics(), QuoteCache()
        self.worker = QuoteWorker(self.cfg, None, self.cache, self.metrics, self.log, self.clock)  # type: ignore[arg-type]
        self.sx = self.client = None
        # the model
        self.frames = self.records = self.pings = self.undecodable = 0
        self.last: dict[str, tuple[int, int, float]] = {}  # symbol -> (price, volume, received_at)
        self.ticks: dict[str, int] = {}
        self.volume = {s: 1_000 for s in PREV}

    # -- the wire, in-process ------------------------------------------------------------------
    def _to_client(self, text: str) -> None:
        for reply in self.worker.on_message(self.client, text):
            self._to_server(reply)

    def _to_server(self, text: str) -> None:
        for action in self.sx.receive(text, self.clock.now()):
            if isinstance(action, Send):
                self._to_client(action.text)
            elif isinstance(action, SendRaw):
                self._to_client(action.data.decode("utf-8", "replace"))
            elif isinstance(action, (Drop, Close)):
                self._close()
                return

    def _close(self) -> None:
        self.exchange.closed(self.sx)
        self.sx = self.client = None
        self.metrics.ws_connected = False
        self.metrics.ws_subscriptions = 0

    @property
    def connected(self) -> bool:
        return self.sx is not None

    # -- rules ---------------------------------------------------------------------------------
    @precondition(lambda self: not self.connected)
    @rule()
    def connect(self) -> None:
        self.sx = self.exchange.open(self.clock.now())
        self.client = ClientSession.for_symbols(SYMBOLS)
        self.metrics.ws_connected = True
        for text in self.client.subscribe_messages(self.approval):
            self._to_server(text)

    @precondition(lambda self: self.connected)
    @rule()
    def drop(self) -> None:
        self._close()

    @rule(
        symbol=st.sampled_from(SYMBOLS + ("035720",)),
        moves=st.lists(st.integers(-3, 3), min_size=1, max_size=4),
        drift=st.booleans(),
    )
    def trade(self, symbol: str, moves: list[int], drift: bool) -> None:
        recs = []
        price = self.last.get(symbol, (PREV[symbol], 0, 0.0))[0]
        hhmmss = datetime.fromtimestamp(self.clock.now(), KST).strftime("%H%M%S")
        for m in moves:
            price = max(1_000, price + 100 * m)
            self.volume[symbol] += 1
            rec = trade(symbol, hhmmss, price, PREV[symbol], self.volume[symbol])
            recs.append(rec if drift else rec[:46])  # 47 fields since 2026-09-14, 46 before
        text = frames.data_frame("H0STCNT0", recs)
        for session in self.exchange.route("H0STCNT0", symbol):
            assert session is self.sx
            self.exchange.sent(session, len(recs))
            self._to_client(text)
            self.frames += 1
            self.records += len(recs)
            self.last[symbol] = (price, self.volume[symbol], self.clock.now())
            self.ticks[symbol] = self.ticks.get(symbol, 0) + len(recs)

    @precondition(lambda self: self.connected)
    @rule()
    def pingpong(self) -> None:
        self.exchange.heartbeat_sent(self.sx, self.clock.now())
        self._to_client(
            frames.pingpong(datetime.fromtimestamp(self.clock.now(), KST).strftime("%Y%m%d%H%M%S"))
        )
        self.pings += 1

    @precondition(lambda self: self.connected)
    @rule(symbol=st.sampled_from(SYMBOLS))
    def subscribe_again(self, symbol: str) -> None:
        from gateway.session import subscribe_message

        self._to_server(subscribe_message(self.approval, "H0STCNT0", symbol))  # -> OPSP0002

    @precondition(lambda self: self.connected)
    @rule(text=st.text(max_size=80), prefix=st.sampled_from(["x", "{", "0|H0STCNT0|", "1|H0STCNI0|001|"]))
    def garbage(self, text: str, prefix: str) -> None:
        before = self.metrics.ws_messages
        self._to_client(prefix + text)
        if self.metrics.ws_messages == before:
            self.undecodable += 1
        else:  # random text that happens to be a well-formed frame: count it as data, as the gateway must
            self.frames += 1

    @rule(dt=st.floats(0, 40))
    def advance(self, dt: float) -> None:
        self.clock.advance(dt)

    # -- invariants ----------------------------------------------------------------------------
    @invariant()
    def metrics_tell_the_truth(self) -> None:
        if not hasattr(self, "metrics"):
            return
        stats = self.exchange.stats
        assert self.metrics.ws_messages == self.frames
        assert self.metrics.ws_records >= self.records == stats.records_sent
        assert self.metrics.ws_pingpongs == self.pings == stats.pingpongs_sent == stats.ping_echoes
        assert self.metrics.ws_connected == self.connected
        assert self.metrics.ws_malformed >= self.undecodable
        if self.connected:
            assert self.metrics.ws_subscriptions == len(self.sx.registered) == len(SYMBOLS)

    @invariant()
    def cache_has_every_tick_in_order(self) -> None:
        if not hasattr(self, "cache"):
            return
        for symbol, (price, volume, received) in self.last.items():
            q = self.cache.get(symbol)
            assert (q.price, q.volume, q.received_at, q.ticks) == (
                price,
                volume,
                received,
                self.ticks[symbol],
            )
        assert self.cache.get("035720") is None  # never subscribed, never cached

    @invariant()
    def source_follows_the_rule(self) -> None:
        if not hasattr(self, "cache"):
            return
        now = self.clock.now()
        for symbol in SYMBOLS + ("035720",):
            got, why = select(now, self.cache.get(symbol), self.worker_calendar, self.cfg.freshness_s)
            fresh = symbol in self.last and now - self.last[symbol][2] <= self.cfg.freshness_s
            assert got == ("kis-ws" if market_open(now) and fresh else "kis-rest"), (symbol, why)

    @invariant()
    def no_secret_in_logs(self) -> None:
        if not hasattr(self, "log"):
            return
        blob = "\n".join(self.log.lines)
        for secret in (APPKEY, SECRET, self.approval):
            assert secret not in blob

    @property
    def worker_calendar(self):
        from gateway.market import KrxCalendar

        if not hasattr(self, "_cal"):
            self._cal = KrxCalendar()
        return self._cal


KisPair.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestKisPair = KisPair.TestCase


# -- bugs found or feared, replayed as explicit step sequences (the stateful form of @example) --------


def _machine(start: float = STARTS[0], remembers: bool = False) -> KisPair:
    m = KisPair()
    m.setup(start, remembers)
    return m


def _check(m: KisPair) -> None:
    m.metrics_tell_the_truth()
    m.cache_has_every_tick_in_order()
    m.source_follows_the_rule()
    m.no_secret_in_logs()


def test_example_already_subscribed_counts_as_subscribed() -> None:
    m = _machine()
    m.connect()
    m.subscribe_again("005930")
    assert m.exchange.stats.acks["OPSP0002"] == 1
    _check(m)


def test_example_server_remembering_registrations_after_reconnect() -> None:
    m = _machine(remembers=True)
    m.connect()
    m.drop()
    m.connect()
    assert m.exchange.stats.acks["OPSP0002"] == 2
    _check(m)


def test_example_multi_record_47_field_frame_keeps_every_tick_in_order() -> None:
    m = _machine()
    m.connect()
    m.trade("005930", [1, -2, 3, 0], drift=True)
    _check(m)
    assert m.cache.get("005930").ticks == 4


def test_example_reconnect_resubscribes_and_freshness_follows_our_clock() -> None:
    m = _machine()
    m.connect()
    m.trade("000660", [1], drift=False)
    m.drop()
    m.advance(11.0)
    _check(m)  # stale after 10 s: kis-rest
    m.connect()
    m.trade("000660", [2], drift=False)
    _check(m)  # fresh again: kis-ws
    assert m.exchange.stats.acks["OPSP0000"] == 4


def test_example_garbage_and_encrypted_before_key_are_counted_not_fatal() -> None:
    m = _machine()
    m.connect()
    m.garbage("QUJD", "1|H0STCNI0|001|")
    m.garbage("", "{")
    m.trade("005930", [1], drift=False)
    _check(m)
    assert m.metrics.ws_malformed == 2


def test_example_holiday_with_fresh_ticks_is_rest() -> None:
    m = _machine(kst(2026, 9, 25, 10, 0))  # Chuseok
    m.connect()
    m.trade("005930", [1], drift=False)
    _check(m)
