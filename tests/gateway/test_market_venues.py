"""KIS_VENUE (krx | nxt | unified): which sessions count as open, which TR is subscribed, which market
division REST asks for, and one line with exit 2 for a bad value.

What it catches: a unified gateway that calls 19:00 closed (quotes from REST all evening), an NXT gateway
open during NXT's pauses (08:50-09:00, 15:20-15:30), a krx gateway whose hours or messages changed, a
venue that subscribes or asks REST for another venue's data.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import APPKEY, SECRET, kst, trade
from fakekis.exchange.auth import Registry
from fakekis.exchange.market import MarketState
from fakekis.serve.rest import create_app
from fakekis.wire import frames
from gateway.config import ConfigError, from_env
from gateway.market import NXT_SESSIONS, KrxCalendar
from gateway.metrics import Metrics
from gateway.redact import Redactor, StageLog
from gateway.rest import MARKET_DIV, RestClient
from kisclock import KST, ManualClock

LIVE = {"KIS_ENV": "live", "KIS_APP_KEY": APPKEY, "KIS_APP_SECRET": SECRET}


def _within(at: time, windows: tuple[tuple[time, time], ...]) -> bool:
    return any(a <= at < b for a, b in windows)


@settings(max_examples=300, deadline=None)
@given(minute=st.integers(0, 24 * 60 - 1), second=st.integers(0, 59))
def test_unified_is_open_exactly_when_krx_or_nxt_is(minute: int, second: int) -> None:
    at = datetime(2026, 11, 25, tzinfo=KST) + timedelta(minutes=minute, seconds=second)  # a Wednesday
    instant, wall = at.timestamp(), at.time()
    krx, nxt, unified = (KrxCalendar.for_venue(v) for v in ("krx", "nxt", "unified"))
    assert krx.is_open(instant) is (time(9, 0) <= wall < time(15, 30))
    assert nxt.is_open(instant) is _within(wall, NXT_SESSIONS)
    assert unified.is_open(instant) is (krx.is_open(instant) or nxt.is_open(instant))


def test_the_venues_sessions_and_their_reasons() -> None:
    unified, nxt = KrxCalendar.for_venue("unified"), KrxCalendar.for_venue("nxt")
    assert unified.is_open(kst(2026, 11, 25, 19, 0)) and nxt.is_open(kst(2026, 11, 25, 8, 0))
    assert not nxt.is_open(kst(2026, 11, 25, 8, 55)) and not nxt.is_open(kst(2026, 11, 25, 15, 25))
    assert unified.why_closed(kst(2026, 11, 25, 20, 0)) == (
        "20:00 KST is outside the unified sessions 08:00-08:50, 09:00-20:00"
    )
    assert "Saturday" in (unified.why_closed(kst(2026, 11, 28, 19, 0)) or "")  # NXT keeps KRX's days
    assert "holiday" in (nxt.why_closed(kst(2026, 9, 25, 19, 0)) or "")
    # krx is today's calendar, message and all; its configured hours extend unified too.
    assert KrxCalendar.for_venue("krx", "09:00-15:30") == KrxCalendar.from_hours("09:00-15:30")
    assert KrxCalendar.for_venue("unified", "07:00-20:00").windows == ((time(7, 0), time(20, 0)),)
    with pytest.raises(ValueError):
        KrxCalendar.for_venue("nyse")


@pytest.mark.parametrize(
    ("venue", "tr", "div"),
    [("krx", "H0STCNT0", "J"), ("nxt", "H0NXCNT0", "NX"), ("unified", "H0UNCNT0", "UN")],
)
def test_each_venue_subscribes_its_trade_tr_and_asks_rest_for_its_market(
    venue: str, tr: str, div: str
) -> None:
    cfg = from_env({**LIVE, "KIS_VENUE": venue.upper()})
    assert (cfg.venue, cfg.trade_trs, MARKET_DIV[cfg.venue]) == (venue, (tr,), div)


def test_the_default_is_krx() -> None:
    for env in (LIVE, {**LIVE, "KIS_VENUE": ""}, {**LIVE, "KIS_ENV": "mock"}):
        assert from_env(env).venue == "krx" and from_env(env).trade_trs == ("H0STCNT0",)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({**LIVE, "KIS_VENUE": "nasdaq"}, "KIS_VENUE='nasdaq' must be 'krx', 'nxt' or 'unified'"),
        ({**LIVE, "KIS_ENV": "mock", "KIS_VENUE": "unified"}, "needs KIS_ENV=live"),
    ],
)
def test_a_bad_venue_is_one_line(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as e:
        from_env(env)
    assert says in str(e.value) and "\n" not in str(e.value)


@pytest.mark.anyio
@pytest.mark.parametrize(("venue", "div"), [("krx", "J"), ("unified", "UN"), ("nxt", "NX")])
async def test_the_rest_fallback_asks_fakekis_for_the_venues_market(
    venue: str, div: str, tmp_path: Path
) -> None:
    """The request that goes out, seen by an httpx hook in front of fakekis's real REST app."""
    clock = ManualClock(kst(2026, 11, 25, 19, 0))
    registry = Registry("live", rest_rps=100)
    market = MarketState()
    # fakekis answers each market from its own frames (NX from NXT's; UN falls back to KRX's)
    for tr_id in ("H0STCNT0", "H0NXCNT0"):
        text = frames.data_frame(tr_id, [trade("005930", "150000", 71_500, 71_000, 9)])
        market.apply(tr_id, text, 1, "005930")
    asked: list[str | None] = []

    async def hook(request: httpx.Request) -> None:
        if request.url.path.endswith("inquire-price"):
            asked.append(request.url.params.get("FID_COND_MRKT_DIV_CODE"))

    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(registry, market, clock)),
        base_url="http://kis",
        event_hooks={"request": [hook]},
    )
    env = {**LIVE, "KIS_VENUE": venue, "KIS_REST_URL": "http://kis", "GATEWAY_TOKEN_DIR": str(tmp_path)}
    cfg = from_env(env)
    rest = RestClient(cfg, clock, Metrics(), StageLog(Redactor(cfg.secrets)), http)
    try:
        out = await rest.inquire_price("005930")
    finally:
        await rest.aclose()
    assert asked == [div] and out["stck_prpr"] == "71500"
