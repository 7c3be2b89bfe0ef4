"""The venue on the WebSocket path (KIS_VENUE): the trade TR subscribed, ingested and selected, against
fakekis's exchange in-process, on the manual clock.

What it catches: a unified gateway that still subscribes H0STCNT0, drops H0UNCNT0 frames on the floor
(ingest only knew H0STCNT0), or serves 19:00 from REST although the tick is fresh; a krx gateway that
serves NXT hours from the WebSocket.
"""

from __future__ import annotations

import json
from datetime import datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import APPKEY, SECRET, kst, trade
from fakekis.exchange.actions import Reply, encode
from fakekis.exchange.auth import Registry
from fakekis.exchange.sessions import Exchange
from fakekis.wire import frames
from gateway.cache import Quote, QuoteCache
from gateway.config import from_env
from gateway.ingest import Ingest
from gateway.market import NXT_SESSIONS, KrxCalendar
from gateway.metrics import Metrics
from gateway.policy import ConnectionPolicy
from gateway.quotes import select
from gateway.redact import Redactor, StageLog
from gateway.session import ClientSession
from kisclock import KST, ManualClock

pytestmark = pytest.mark.ws
EVENING = kst(2026, 11, 25, 19, 0)  # a Wednesday, NXT after-market


@settings(max_examples=200, deadline=None)
@given(minute=st.integers(8 * 60, 20 * 60 - 1), age=st.floats(0, 10), fresh=st.floats(0.5, 60))
def test_a_fresh_tick_in_nxt_hours_is_served_from_the_socket_on_unified(
    minute: int, age: float, fresh: float
) -> None:
    clock = ManualClock(datetime(2026, 11, 25, tzinfo=KST).timestamp() + minute * 60)
    received = clock.now()
    clock.advance(age)
    quote = Quote("005930", received_at=received)
    wall = datetime.fromtimestamp(clock.now(), KST).time()
    in_nxt = any(a <= wall < b for a, b in NXT_SESSIONS)
    in_krx = time(9, 0) <= wall < time(15, 30)
    fresh_enough = clock.now() - received <= fresh  # the age as the clock's floats make it
    unified = select(clock.now(), quote, KrxCalendar.for_venue("unified"), fresh)[0]
    krx = select(clock.now(), quote, KrxCalendar.for_venue("krx"), fresh)[0]
    assert unified == ("kis-ws" if (in_nxt or in_krx) and fresh_enough else "kis-rest")
    assert krx == ("kis-ws" if in_krx and fresh_enough else "kis-rest")


def test_unified_subscribes_h0uncnt0_ingests_it_and_serves_19_00_from_it() -> None:
    cfg = from_env(
        {"KIS_ENV": "live", "KIS_VENUE": "unified", "KIS_APP_KEY": APPKEY, "KIS_APP_SECRET": SECRET}
    )
    clock = ManualClock(EVENING)
    registry = Registry("live")
    approval = str(
        registry.issue_approval({"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET})[
            1
        ]["approval_key"]
    )
    exchange = Exchange(registry)
    server = exchange.open(clock.now())
    cache, metrics = QuoteCache(), Metrics()
    ingest = Ingest(cache, metrics, StageLog(Redactor(cfg.secrets)), ConnectionPolicy(60, 10, 1, 30))
    client = ClientSession.for_symbols(cfg.symbols, cfg.trade_trs)  # what the worker builds
    for text in client.subscribe_messages(approval):
        assert json.loads(text)["body"]["input"]["tr_id"] == "H0UNCNT0"
        for action in server.receive(text, clock.now()):
            assert isinstance(action, Reply) and action.msg_cd == "OPSP0000"
            ingest.receive(client, encode(action), clock.now())
    assert client.subscriptions == 1
    record = trade("005930", "190000", 71_300, 71_000, 5_000)
    for tr in ("H0STASP0", "H0UNCNT0"):  # a book is not a quote; the unified trade is
        ingest.receive(client, frames.data_frame(tr, [record]), clock.now())
    q = cache.get("005930")
    assert q is not None and (q.price, q.volume, q.venue) == (71_300, 5_000, "unified") and q.ticks == 1
    clock.advance(2.0)
    calendar = KrxCalendar.for_venue(cfg.venue, cfg.session_hours)
    assert select(clock.now(), q, calendar, cfg.freshness_s) == ("kis-ws", None)
    source, why = select(clock.now(), q, KrxCalendar.for_venue("krx"), cfg.freshness_s)
    assert source == "kis-rest" and "outside the session 09:00-15:30" in (why or "")
    ingest.receive(client, frames.data_frame("H0NXCNT0", [record]), clock.now())
    assert cache.get("005930").venue == "nxt"  # type: ignore[union-attr]
