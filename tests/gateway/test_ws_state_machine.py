"""Hypothesis stateful test over the sans-I/O cores of both sides, wired together in-process:
fakekis's Exchange on one side; on the other the gateway's ClientSession and ConnectionPolicy, fed by the
worker's per-connection and per-text steps (`QuoteWorker.opened` / `on_message` / `closed`, the same code
the socket pump runs), QuoteCache and select; one manual clock, no sockets. Thousands of interleavings of
connect, drop, trades (multi-record, 46/47 fields, subscribed or not), PINGPONG, duplicate subscribes,
garbage and time (which fires the policy's idle and ack deadlines, as the pump's watchdog does), with the
invariants checked after every step. The machine only drives; the invariants only observe:

- the gateway's metrics tell the truth about what fakekis sent (frames, records, acks, PINGPONGs), and
  `ws_connected` is what the gateway's own close handling says, never written by the machine;
- the policy's view agrees: a deadline only while connected and never in the past, health exactly when a
  subscription was acked, failures counted independently, every backoff inside the equal-jitter band;
- no tick is lost, duplicated or reordered in the cache while connected;
- `source` follows the selection rule exactly (KRX calendar from `holidays`, our receive time);
- nothing raises out of the worker's message handling, whatever arrives;
- no secret ever appears in a stage-log line.
"""

from __future__ import annotations

import random
from datetime import datetime

import holidays
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from conftest import kst, trade
from fakekis import faults
from fakekis.exchange.actions import Close, Drop, encode
from fakekis.exchange.auth import Registry
from fakekis.exchange.sessions import Session
from fakekis.wire import frames
from gateway.cache import QuoteCache
from gateway.config import from_env
from gateway.market import KrxCalendar
from gateway.metrics import Metrics
from gateway.policy import ConnectionPolicy
from gateway.quotes import select
from gateway.redact import Redactor, StageLog
from gateway.session import ClientSession
from gateway.worker import QuoteWorker
from kisclock import KST, ManualClock

pytestmark = pytest.mark.ws

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


class NoRest:
    """The machine opens connections itself: nothing asks for an approval key over HTTP."""

    async def approval_key(self, fresh: bool = False) -> str:
        raise AssertionError("the state machine never runs connect_once")


def market_open(ts: float) -> bool:
    """An independent statement of the rule: weekday, not an XKRX holiday, 09:00 <= t < 15:30 KST."""
    d = datetime.fromtimestamp(ts, KST)
    return d.weekday() < 5 and d.date() not in XKRX and (9, 0) <= (d.hour, d.minute) < (15, 30)


class KisPair(RuleBasedStateMachine):
    @initialize(
        start=st.sampled_from(STARTS) | st.floats(kst(2026, 1, 1, 0, 0), kst(2027, 12, 31, 0, 0)),
        remembers=st.booleans(),
        swallowed=st.sampled_from([0, 0, 2]),
    )
    def setup(self, start: float, remembers: bool = False, swallowed: int = 0) -> None:
        """`remembers`: after a reconnect the server still knows the old registrations (acks OPSP0002, F11).
        `swallowed`: the first connections get no ack at all (F1), so the ack deadline fires."""
        self.clock = ManualClock(start)
        self.registry = Registry("mock")
        self.approval = str(
            self.registry.issue_approval(
                {"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET}
            )[1]["approval_key"]
        )
        from fakekis.exchange.sessions import Exchange

        chosen: list[faults.Fault] = [faults.AlreadySubscribedAfterReconnect()] if remembers else []
        if swallowed:
            chosen.append(faults.NoAck(connections=swallowed))
        self.swallowed = swallowed
        scenario = faults.Scenario(chosen)
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
        self.worker = QuoteWorker(
            self.cfg, NoRest(), self.cache, self.metrics, self.log, self.clock, rng=random.Random(0)
        )
        self.policy: ConnectionPolicy = self.worker.policy
        self.sx: Session | None = None
        self.client: ClientSession | None = None  # the gateway's side of the current connection
        self.next_attempt_at = start
        self.calendar = KrxCalendar()
        # the policy, modelled independently
        self.failures = 0
        self.acks_at_open = 0
        # the model
        self.frames = self.records = self.pings = self.undecodable = 0
        self.last: dict[str, tuple[int, int, float]] = {}  # symbol -> (price, volume, received_at)
        self.ticks: dict[str, int] = {}
        self.volume = {s: 1_000 for s in PREV}

    # -- the wire, in-process ------------------------------------------------------------------
    def _to_client(self, text: str) -> None:
        if self.client is None:  # closed while the server's earlier actions were handled
            return
        for reply in self.worker.on_message(self.client, text):
            self._to_server(reply)

    def _to_server(self, text: str) -> None:
        if self.sx is None:
            return
        for action in self.sx.receive(text, self.clock.now()):
            if self.sx is None:
                return
            if isinstance(action, Drop):
                self._close(1006)
                return
            if isinstance(action, Close):
                self._close(action.code)
                return
            out = encode(action)
            self._to_client(out if isinstance(out, str) else out.decode("utf-8", "replace"))

    def _acks(self) -> int:
        acks = self.exchange.stats.acks
        return acks["OPSP0000"] + acks["OPSP0002"]

    def _close(self, code: int | None) -> None:
        """What the pump does when the socket closes: the gateway's close handling, then the backoff."""
        assert self.sx is not None
        self.exchange.closed(self.sx)
        self.sx = self.client = None
        healthy = self.worker.closed(code)
        model_healthy = self._acks() > self.acks_at_open
        assert healthy == model_healthy
        delay = self.policy.end_attempt(healthy)
        self.failures = 0 if model_healthy else self.failures + 1
        assert self.policy.failures == self.failures
        ceiling = min(self.cfg.backoff_cap_s, self.cfg.backoff_base_s * 2.0 ** min(self.failures, 16))
        assert ceiling / 2 <= delay <= ceiling, (self.failures, delay)  # a floor and a cap (F13)
        self.next_attempt_at = self.clock.now() + delay

    @property
    def connected(self) -> bool:
        return self.sx is not None

    # -- rules ---------------------------------------------------------------------------------
    @precondition(lambda self: not self.connected)
    @rule()
    def connect(self) -> None:
        if self.clock.now() < self.next_attempt_at:  # the pump sleeps out its backoff first
            self.clock.set(self.next_attempt_at)
        self.policy.begin_attempt()
        self.policy.on_approval()  # the machine has its approval key
        self.acks_at_open = self._acks()
        self.sx = self.exchange.open(self.clock.now())
        self.client = self.worker.opened(self.clock.now())
        for text in self.client.subscribe_messages(self.approval):
            if self.client is None:
                return  # the server closed mid-subscribe
            self._to_server(text)

    @precondition(lambda self: self.connected)
    @rule(code=st.sampled_from([1006, 1000, 1001]))
    def drop(self, code: int) -> None:
        self._close(code)

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
        assert self.sx is not None
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
        """Move time, stopping at each of the policy's deadlines as the pump's watchdog does: a deadline
        that fires aborts the socket (no close frame: 1006)."""
        target = self.clock.now() + dt
        while self.connected:
            due = self.policy.next_deadline(self.clock.now())
            assert due is not None and due >= self.clock.now()
            if due > target:
                break
            self.clock.set(due)
            problem = self.policy.on_deadline(due)
            if problem is not None:
                self.worker._error(problem)
                self._close(1006)
        self.clock.set(max(target, self.clock.now()))

    # -- invariants ----------------------------------------------------------------------------
    @invariant()
    def metrics_tell_the_truth(self) -> None:
        stats = self.exchange.stats
        assert self.metrics.ws_messages == self.frames
        assert self.metrics.ws_records >= self.records == stats.records_sent
        assert self.metrics.ws_pingpongs == self.pings == stats.pingpongs_sent == stats.ping_echoes
        assert self.metrics.ws_connected == self.connected
        assert self.metrics.ws_malformed >= self.undecodable
        if self.sx is not None:
            assert self.metrics.ws_subscriptions == len(self.sx.registered)
            if self.sx.number >= self.swallowed:  # every desired subscription, re-sent on every connection
                assert len(self.sx.registered) == len(SYMBOLS)

    @invariant()
    def policy_agrees(self) -> None:
        now = self.clock.now()
        due = self.policy.next_deadline(now)
        assert self.policy.open == self.connected and (due is None) == (not self.connected)
        if due is not None:
            assert due >= now and self.policy.on_deadline(now) is None  # every due deadline was acted on
        if self.connected:
            assert self.policy.healthy == (self._acks() > self.acks_at_open)
            assert self.policy.failures == (0 if self.policy.healthy else self.failures)

    @invariant()
    def cache_has_every_tick_in_order(self) -> None:
        for symbol, (price, volume, received) in self.last.items():
            q = self.cache.get(symbol)
            assert q is not None
            assert (q.price, q.volume, q.received_at, q.ticks) == (
                price,
                volume,
                received,
                self.ticks[symbol],
            )
        assert self.cache.get("035720") is None  # never subscribed, never cached

    @invariant()
    def source_follows_the_rule(self) -> None:
        now = self.clock.now()
        for symbol in SYMBOLS + ("035720",):
            got, why = select(now, self.cache.get(symbol), self.calendar, self.cfg.freshness_s)
            fresh = symbol in self.last and now - self.last[symbol][2] <= self.cfg.freshness_s
            assert got == ("kis-ws" if market_open(now) and fresh else "kis-rest"), (symbol, why)

    @invariant()
    def no_secret_in_logs(self) -> None:
        blob = "\n".join(self.log.lines)
        for secret in (APPKEY, SECRET, self.approval):
            assert secret not in blob


KisPair.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestKisPair = KisPair.TestCase


# -- bugs found or feared, replayed as explicit step sequences (the stateful form of @example) --------


def _machine(start: float = STARTS[0], remembers: bool = False, swallowed: int = 0) -> KisPair:
    m = KisPair()
    m.setup(start, remembers, swallowed)
    return m


def _check(m: KisPair) -> None:
    m.metrics_tell_the_truth()
    m.policy_agrees()
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
    m.drop(1006)
    m.connect()
    assert m.exchange.stats.acks["OPSP0002"] == 2
    _check(m)


def test_example_multi_record_47_field_frame_keeps_every_tick_in_order() -> None:
    m = _machine()
    m.connect()
    m.trade("005930", [1, -2, 3, 0], drift=True)
    _check(m)
    q = m.cache.get("005930")
    assert q is not None and q.ticks == 4


def test_example_reconnect_resubscribes_and_freshness_follows_our_clock() -> None:
    m = _machine()
    m.connect()
    m.trade("000660", [1], drift=False)
    m.drop(1006)
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


def test_example_reconnect_resubscribes_everything_on_a_fresh_session() -> None:
    """Known bug (F1, python-kis PR #36): the acked set kept across connections, so nothing is re-sent."""
    m = _machine()
    m.connect()
    m.drop(1006)
    m.connect()
    assert (
        m.sx is not None
        and len(m.sx.registered) == len(SYMBOLS)
        and m.exchange.stats.acks["OPSP0000"] == 2 * len(SYMBOLS)
    )
    _check(m)


def test_example_pingpong_is_echoed() -> None:
    """Known bug (F3, JuGa PR #106): PINGPONG counted but not echoed back."""
    m = _machine()
    m.connect()
    m.pingpong()
    assert m.exchange.stats.ping_echoes == 1
    _check(m)


def test_example_swallowed_subscribes_back_off_with_a_floor() -> None:
    """No ack within the ack timeout: the deadline aborts, failures grow, every wait is inside the band."""
    m = _machine(swallowed=2)
    m.connect()
    m.advance(m.cfg.ack_timeout_s)  # the ack deadline fires; _close checks the backoff band
    assert not m.connected and m.policy.failures == 1
    assert "no subscribe ack" in (m.metrics.last_error or "")
    m.connect()
    m.advance(m.cfg.ack_timeout_s)
    assert m.policy.failures == 2 and m.next_attempt_at - m.clock.now() >= 2.0  # half of 4 s, never less
    m.connect()  # the third connection is acked: healthy, the streak is over
    _check(m)
    assert m.policy.healthy and m.policy.failures == 0


def test_example_idle_connection_is_aborted_and_reconnects() -> None:
    """F1 half-open: no text at all for idle_timeout_s (PINGPONG would have kept it)."""
    m = _machine()
    m.connect()
    m.advance(30.0)
    m.pingpong()
    m.advance(40.0)
    assert m.connected  # 40 s since the PINGPONG
    m.advance(20.0)
    assert not m.connected and "no message for 60s" in (m.metrics.last_error or "")
    _check(m)
