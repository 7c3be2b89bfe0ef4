"""What a quote says, pinned at the cores that compute it: the cache's reading of an H0STCNT0 record,
the freshness boundary of selection, the stage clock and the per-source counters. Each of these was caught
before only by a loopback e2e test minutes into `pytest -k ws`; here they fail in milliseconds (the bug zoo,
mutants/zoo.py, bugs 18-24)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from conftest import APPKEY, SECRET, kst, trade
from fakekis import faults
from fakekis.exchange.auth import Registry
from fakekis.exchange.market import MarketState
from fakekis.serve.rest import create_app
from fakekis.wire import frames
from gateway.cache import QuoteCache
from gateway.config import from_env
from gateway.market import KrxCalendar
from gateway.metrics import Metrics
from gateway.quotes import select
from gateway.redact import Redactor, StageLog
from gateway.rest import RestClient, RestError
from kisclock import ManualClock

pytestmark = pytest.mark.ws

OPEN = kst(2026, 11, 25, 10, 0)  # a Wednesday, mid-session
LIVE = {"KIS_ENV": "live", "KIS_APP_KEY": APPKEY, "KIS_APP_SECRET": SECRET, "KIS_SYMBOLS": "005930"}


@given(
    price=st.integers(1, 3_000_000),
    prev_close=st.integers(1, 3_000_000),
    volume=st.integers(0, 10**9),
    qty=st.integers(1, 10**6),
    date=st.sampled_from(["20260801", "20261125"]),  # 46- and 47-field eras
)
@example(price=70_000, prev_close=71_000, volume=1_234, qty=5, date="20261125")  # a falling stock
def test_the_cache_reads_change_rate_volume_and_date_from_their_own_fields(
    price: int, prev_close: int, volume: int, qty: int, date: str
) -> None:
    rec = trade("005930", "101502", price, prev_close, volume, date=date, qty=qty)
    cache = QuoteCache()
    assert cache.update_from_h0stcnt0(rec, 0, 1.0)
    q = cache.get("005930")
    assert q is not None
    assert q.price == price and q.change == price - prev_close  # signed: a fall is negative
    assert q.change_rate == rec[5] and (q.change_rate.startswith("-") == (price < prev_close))
    assert q.volume == volume  # ACML_VOL (the day), not CNTG_VOL (this trade)
    assert q.exchange_time == f"{date[:4]}-{date[4:6]}-{date[6:]}T10:15:02+09:00"


def test_a_record_further_along_a_multi_record_frame_is_read_at_its_offset() -> None:
    first, second = (
        trade("005930", "101500", 70_000, 71_000, 10),
        trade("000660", "101501", 200_000, 190_000, 7),
    )
    cache = QuoteCache()
    assert cache.update_from_h0stcnt0(first + second, len(first), 1.0)
    q = cache.get("000660")
    assert q is not None and cache.get("005930") is None
    assert (q.price, q.change, q.volume, q.change_rate) == (200_000, 10_000, 7, second[5])


@given(freshness=st.floats(0.5, 600, allow_nan=False), extra=st.floats(1e-3, 60, allow_nan=False))
@example(freshness=3.0, extra=1e-3)
def test_a_tick_exactly_freshness_old_is_served_and_one_older_is_not(freshness: float, extra: float) -> None:
    """README: a tick is served from the WebSocket while it is no older than the window."""
    received = OPEN - freshness
    window = OPEN - received  # exactly the tick's age at OPEN, whatever the float rounding
    cache = QuoteCache()
    cache.update_from_h0stcnt0(trade("005930", "100000", 71_000, 70_000, 5), 0, received)
    cal = KrxCalendar()
    assert select(OPEN, cache.get("005930"), cal, window) == ("kis-ws", None)
    source, reason = select(OPEN + extra, cache.get("005930"), cal, window)
    assert source == "kis-rest" and reason is not None and "old" in reason


def test_a_stage_keeps_its_first_time_and_moves_its_last_on_every_reach() -> None:
    m = Metrics()
    assert m.reach("connected", 100.0) is True
    assert m.reach("connected", 250.0) is False  # a reconnect reaches it again
    stage = m.as_dict()["stages"]["connected"]  # type: ignore[index]
    assert stage["reached"] and stage["first_at"] != stage["last_at"]
    assert (m.first["connected"], m.last["connected"]) == (100.0, 250.0)


def test_each_source_is_counted_under_its_own_name() -> None:
    m = Metrics()
    for source in ("kis-ws", "kis-ws", "kis-ws", "kis-rest"):
        m.count_served(source, "krx")
    assert m.as_dict()["source_counts"] == {"kis-ws": 3, "kis-rest": 1}


@pytest.mark.anyio
async def test_an_expired_token_is_dropped_and_reissued_once_a_minute_has_passed(tmp_path: Path) -> None:
    """EGW00123 on inquire-price (F7): the gateway drops the token and re-issues, within the one-per-minute
    rule, against fakekis's real REST app in-process (the REST fallback of the WebSocket path)."""
    clock = ManualClock(OPEN)
    registry, market = Registry("live", rest_rps=100), MarketState()
    market.apply(
        "H0STCNT0", frames.data_frame("H0STCNT0", [trade("005930", "095900", 71_500, 71_000, 9)]), 1, "005930"
    )
    run = faults.Scenario([faults.TokenExpired(times=1)]).run()
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(registry, market, clock, scenario=run)),
        base_url="http://kis",
    )
    cfg = from_env({**LIVE, "KIS_REST_URL": "http://kis", "GATEWAY_TOKEN_DIR": str(tmp_path)})
    metrics = Metrics()
    rest = RestClient(cfg, clock, metrics, StageLog(Redactor(cfg.secrets)), http)
    try:
        with pytest.raises(RestError):  # expired right after issuance: the re-issue must wait a minute
            await rest.inquire_price("005930")
        assert metrics.rest_errors["EGW00123"] == 1 and metrics.token_issuances == 1
        clock.advance(61.0)
        out = await rest.inquire_price("005930")
    finally:
        await rest.aclose()
    assert out["stck_prpr"] == "71500" and metrics.token_issuances == 2
