"""The gateway and fakekis together over real loopback sockets, mock environment, one manual clock.

Each test states a symptom from the field: kis-ws while open and fresh; kis-rest on a Saturday even
with fresh ticks; kis-rest when the tick is stale, with a REST price that agrees with the tape; and
metrics that agree with what fakekis itself saw.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from conftest import eventually, kst, running, trade, write_recording
from fakekis import tape
from fakekis.wire import frames
from kisclock import ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]

WED = kst(2026, 11, 25, 9, 5)  # a Wednesday, regular session
SAT = kst(2026, 11, 28, 9, 5)  # a Saturday


def _tape(tmp: Path, start: float) -> tape.Recording:
    frames_ = [
        (0.5, frames.data_frame("H0STCNT0", [trade("005930", "090500", 71_100, 71_000, 1_000)])),
        (
            1.0,
            frames.data_frame(
                "H0STCNT0",
                [
                    trade("005930", "090501", 71_200, 71_000, 1_010),
                    trade("005930", "090501", 71_300, 71_000, 1_030),
                    trade("005930", "090501", 71_200, 71_000, 1_031),
                ],
            ),
        ),
        (2.0, frames.data_frame("H0STCNT0", [trade("000660", "090502", 180_000, 177_000, 500)])),
        (3.0, frames.data_frame("H0STCNT0", [trade("005930", "090503", 71_400, 71_000, 1_040)])),
    ]
    return tape.load(
        write_recording(tmp / "rec", start, frames_, [("H0STCNT0", "005930"), ("H0STCNT0", "000660")])
    )


async def test_open_market_and_fresh_tick_is_served_from_ws(tmp_path: Path) -> None:
    clock = ManualClock(WED)
    async with running(_tape(tmp_path, WED), clock, tmp_path, "005930,000660") as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 2, what="both acks")
        await r.advance(3.0, step=0.5)
        q = await r.quote("005930")
        assert q["source"] == "kis-ws"
        assert (q["price"], q["change"], q["change_rate"], q["volume"]) == (71_400, 400, "0.56", 1_040)
        assert q["exchange_time"] == "2026-11-25T09:05:03+09:00"
        assert 0 <= q["age_ms"] <= 10_000
        m = (await r.http.get("/v1/metrics/quote")).json()
        assert m["ws_connected"] is True
        assert all(m["stages"][s]["reached"] for s in m["stages"]), m["stages"]
        assert m["source_counts"] == {"kis-ws": 1, "kis-rest": 0}


async def test_metrics_agree_with_what_fakekis_saw(tmp_path: Path) -> None:
    clock = ManualClock(WED)
    async with running(_tape(tmp_path, WED), clock, tmp_path, "005930,000660") as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 2, what="both acks")
        await r.advance(25.0)  # the whole tape plus two PINGPONGs
        seen = r.seen()
        await eventually(lambda: r.metrics.ws_pingpongs == seen["pingpongs_sent"], what="pingpongs")
        m = (await r.http.get("/v1/metrics/quote")).json()
        assert seen["frames_sent"] == 4 and seen["records_sent"] == 6
        assert m["ws_messages"] == seen["frames_sent"]
        assert m["ws_records"] == seen["records_sent"]
        assert m["ws_subscriptions"] == seen["acks"]["OPSP0000"] == 2
        assert m["ws_pingpongs"] == seen["pingpongs_sent"] == 2
        assert seen["ping_echoes"] == 2  # every PINGPONG echoed back as text
        assert m["ws_connected"] is True and len(seen["open_sessions"]) == 1
        assert r.gw.cache.get("005930").ticks == 5  # no record of the 3-record frame lost


async def test_saturday_is_served_from_rest_even_with_fresh_ticks(tmp_path: Path) -> None:
    clock = ManualClock(SAT)
    async with running(_tape(tmp_path, SAT), clock, tmp_path, "005930,000660") as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 2, what="both acks")
        await r.advance(3.0, step=0.5)
        assert r.gw.cache.get("005930") is not None  # the tick is there and fresh ...
        q = await r.quote("005930")
        assert q["source"] == "kis-rest"  # ... but the KRX is closed
        assert "Saturday" in q["fallback_reason"]
        assert q["price"] == 71_400  # fakekis REST agrees with the tape at replay time
        m = (await r.http.get("/v1/metrics/quote")).json()
        assert m["stages"]["served_ws"]["reached"] is False
        assert m["source_counts"] == {"kis-ws": 0, "kis-rest": 1}
        assert m["token_issuances"] == 1


async def test_stale_tick_falls_back_to_rest_with_the_tape_price(tmp_path: Path) -> None:
    clock = ManualClock(WED)
    async with running(_tape(tmp_path, WED), clock, tmp_path, "005930,000660") as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 2, what="both acks")
        await r.advance(3.0, step=0.5)
        assert (await r.quote("005930"))["source"] == "kis-ws"
        await r.advance(10.5)  # the tape has ended: the last 005930 tick is now 10.5 s old
        q = await r.quote("005930")
        assert q["source"] == "kis-rest"
        assert "old" in q["fallback_reason"]
        assert (q["price"], q["volume"]) == (71_400, 1_040)
        assert r.metrics.ws_connected  # quiet is not broken: PINGPONG kept the session alive


async def test_unknown_symbol_and_invalid_symbol(tmp_path: Path) -> None:
    clock = ManualClock(WED)
    async with running(_tape(tmp_path, WED), clock, tmp_path) as r:
        bad = await r.http.get("/v1/quotes/5930")
        assert bad.status_code == 400 and bad.json()["error"] == "invalid symbol"
        await r.advance(3.0, step=0.5)  # 000660 has traded on the tape
        q = await r.quote("000660")  # on the tape but not subscribed: REST answers
        assert q["source"] == "kis-rest" and "no WebSocket tick" in q["fallback_reason"]
        assert q["price"] == 180_000
        unknown = await r.http.get("/v1/quotes/035720")  # well-formed, but KIS lists no such stock
        assert unknown.status_code == 404, unknown.json()
        assert unknown.json()["error"] == "unknown symbol" and "035720" in unknown.json()["reason"]
        m = r.metrics.as_dict()
        assert m["source_counts"] == {"kis-ws": 0, "kis-rest": 1} and m["rest_errors"] == {
            "unknown-symbol": 1
        }
        assert (await r.http.get("/nope")).status_code == 404


async def test_rest_unreachable_is_a_503_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on any more
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    clock = ManualClock(SAT)
    async with running(_tape(tmp_path, SAT), clock, tmp_path, KIS_REST_URL=dead) as r:
        resp = await r.http.get("/v1/quotes/005930")
        assert resp.status_code == 503
        body = resp.json()
        assert body["error"] == "upstream unavailable" and "unreachable" in body["reason"]
        assert "Saturday" in body["fallback_reason"]
        assert r.metrics.worker_restarts == 0  # an unreachable upstream is an error value, not a crash
