"""The gateway's WebSocket client against fakekis (always) and against real KIS (only when
KIS_APP_KEY and KIS_APP_SECRET are in the environment; skipped otherwise)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from conftest import eventually, kst, running, trade, write_recording
from fakekis import tape
from fakekis.wire import frames
from gateway import session as s
from kisclock import ManualClock, WallClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]
WED = kst(2026, 11, 25, 10, 0)


def _tape(tmp: Path) -> tape.Recording:
    out = []
    for i in range(40):  # one frame a second; every fifth is a 3-record batch
        n = 3 if i % 5 == 0 else 1
        recs = [
            trade("005930", f"1000{i % 60:02d}", 71_000 + 100 * (i % 7), 71_000, 1_000 + 3 * i + j)
            for j in range(n)
        ]
        out.append((0.5 + i, frames.data_frame("H0STCNT0", recs)))
        out.append(
            (
                0.7 + i,
                frames.data_frame(
                    "H0STCNT0", [trade("000660", f"1000{i % 60:02d}", 180_000, 177_000, 500 + i)]
                ),
            )
        )
    return tape.load(write_recording(tmp / "rec", WED, out, [("H0STCNT0", "005930"), ("H0STCNT0", "000660")]))


async def test_acks_pingpong_echo_and_multi_record_frames(tmp_path: Path) -> None:
    async with running(_tape(tmp_path), ManualClock(WED), tmp_path, "005930,000660") as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 2, what="acks")
        seen = r.seen()
        assert seen["acks"] == {"OPSP0000": 2}
        assert seen["open_sessions"][0]["subscriptions"] == [["H0STCNT0", "005930"], ["H0STCNT0", "000660"]]
        await r.advance(10.0)
        seen = r.seen()
        assert seen["pingpongs_sent"] == 1
        await eventually(lambda: r.seen()["ping_echoes"] == 1, what="the PINGPONG echo")
        assert r.metrics.ws_records == seen["records_sent"] > r.metrics.ws_messages == seen["frames_sent"]
        assert r.gw.cache.get("005930").ticks == seen["records_sent"] - 10  # 10 frames were 000660


async def test_reconnect_after_a_dropped_socket_resubscribes_everything(tmp_path: Path) -> None:
    async with running(_tape(tmp_path), ManualClock(WED), tmp_path, "005930,000660") as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 2, what="acks")
        await r.advance(5.0)
        before = r.metrics.ws_messages
        assert r.kis.drop_connections("mock") == 1  # no close frame: the client sees 1006
        await eventually(lambda: not r.metrics.ws_connected, what="the drop to be noticed")
        assert r.metrics.last_error == "websocket closed with code 1006"  # no cause given by the server
        assert r.metrics.ws_subscriptions == 0
        await r.advance(r.gw.cfg.backoff_base_s, step=0.25)  # backoff after a healthy connection is <= base
        await eventually(lambda: r.metrics.ws_subscriptions == 2, what="resubscription")
        seen = r.seen()
        assert seen["sessions_opened"] == 2 and seen["acks"] == {"OPSP0000": 4}
        assert r.metrics.ws_reconnects == 1
        assert seen["open_sessions"][0]["subscriptions"] == [["H0STCNT0", "005930"], ["H0STCNT0", "000660"]]
        await r.advance(5.0)
        assert r.metrics.ws_messages > before  # data flows on the new connection
        assert seen["open_sessions"][0]["number"] == 1


async def test_already_subscribed_counts_as_subscribed() -> None:
    sess = s.ClientSession([("H0STCNT0", "005930")])
    out = sess.receive(frames.control("H0STCNT0", "005930", "1", "OPSP0002", "ALREADY IN SUBSCRIBE"))
    assert out == [s.Acked("H0STCNT0", "005930", "OPSP0002")] and sess.subscriptions == 1
    assert sess.subscribe_messages("k") == []  # nothing left to ask for


async def test_pingpong_is_echoed_verbatim_and_session_errors_are_not_refusals() -> None:
    sess = s.ClientSession([("H0STCNT0", "005930")])
    ping = frames.pingpong("20261125100000")
    assert sess.receive(ping) == [s.Heartbeat("20261125100000"), s.Reply(ping)]
    out = sess.receive(frames.session_error("OPSP8996", "ALREADY IN USE appkey"))
    assert out == [s.SessionError("OPSP8996", "ALREADY IN USE appkey")]
    out = sess.receive(frames.control("H0STCNT0", "005930", "1", "OPSP0008", "MAX SUBSCRIBE OVER"))
    assert out == [s.Refused("H0STCNT0", "005930", "OPSP0008", "MAX SUBSCRIBE OVER")]


@pytest.mark.skipif(
    not (os.environ.get("KIS_APP_KEY") and os.environ.get("KIS_APP_SECRET")),
    reason="real KIS: set KIS_APP_KEY and KIS_APP_SECRET (and KIS_ENV) to run",
)
async def test_against_real_kis(tmp_path: Path) -> None:  # pragma: no cover - needs credentials
    from gateway.app import create_app
    from gateway.config import from_env

    cfg = from_env({**os.environ, "GATEWAY_TOKEN_DIR": os.environ.get("GATEWAY_TOKEN_DIR", str(tmp_path))})
    app = create_app(cfg, WallClock())
    async with app.router.lifespan_context(app):
        m = app.state.gateway.metrics
        with contextlib.suppress(AssertionError):
            await eventually(lambda: m.ws_subscriptions == len(cfg.symbols), timeout=20, what="acks from KIS")
        assert m.ws_subscriptions == len(cfg.symbols), m.as_dict()
        if app.state.gateway.calendar.why_closed(WallClock().now()) is None:  # closed: acks are the evidence
            await eventually(lambda: m.ws_messages > 0, timeout=30, what="a trade from KIS")
