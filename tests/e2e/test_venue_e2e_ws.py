"""KIS_VENUE=unified end to end: the gateway against fakekis serving a market-day tape (synth, venues
unified) at 19:00 tape time, the NXT after-market, over real loopback sockets on one manual clock.

What it catches: a unified gateway that subscribes a KRX TR (nothing trades at 19:00 on KRX), that fakekis
refuses or never feeds, or that calls 19:00 closed and answers from REST although fresh trades arrive.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from conftest import eventually, running
from fakekis import faults, tape
from fakekis.tape import synth
from kisclock import KST, ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]


def _evening(tmp: Path, venues: tuple[str, ...]) -> tape.Recording:
    start = datetime(2026, 11, 25, 19, 0, tzinfo=KST)  # a Wednesday
    session, lines = synth.generate(start, 2.0, synth.DEFAULT_SYMBOLS[:1], 11, env="live", venues=venues)
    return tape.load(tape.write(tmp / "rec", session, lines))


async def test_unified_at_19_00_is_served_from_the_socket_with_the_tapes_last_trade(tmp_path: Path) -> None:
    rec = _evening(tmp_path, ("unified", "krx"))
    clock = ManualClock(rec.start)
    async with running(rec, clock, tmp_path, "005930", KIS_ENV="live", KIS_VENUE="unified") as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 1, what="the H0UNCNT0 ack")
        await r.advance(6.0, step=0.5)
        q = await r.quote("005930")
        assert q["source"] == "kis-ws" and q["venue"] == "unified", q
        tape_now = clock.now() - rec.start
        last = [f for f in rec.data_frames() if f.tr_id == "H0UNCNT0" and f.t <= tape_now][-1]
        assert q["price"] == int(last.text.split("|")[3].split("^")[2])
        assert q["exchange_time"].startswith("2026-11-25T19:00:0")
        seen = r.seen()
        assert seen["acks"] == {"OPSP0000": 1} and seen["refusals"] == {}
        m = (await r.http.get("/v1/metrics/quote")).json()
        assert m["venue"] == "unified" and m["market_open"] is True
        assert m["source_venues"] == {"kis-ws": {"unified": 1}}
        # the KRX TRs of the same tape are silent at 19:00: a krx gateway would have nothing to serve
        assert not [f for f in rec.data_frames() if f.tr_id.startswith("H0ST")]


async def test_with_krx_silent_and_trades_on_nxt_a_unified_gateway_still_serves_from_the_socket(
    tmp_path: Path,
) -> None:
    """The krx-silent-nxt fault (F5) moves a KRX tape's trades to H0NXCNT0/H0UNCNT0: the remedy
    its catalogue entry names, KIS_VENUE=unified, works during the KRX session too."""
    start = datetime(2026, 11, 25, 9, 5, tzinfo=KST)  # a plain KRX morning tape: H0STCNT0 only
    morning = synth.generate(start, 1.0, synth.DEFAULT_SYMBOLS[:1], 3, env="live")
    rec = tape.load(tape.write(tmp_path / "morning", *morning))
    clock = ManualClock(rec.start)
    scenario = faults.Scenario([faults.KrxSilentNxtTrades()])
    async with running(rec, clock, tmp_path, "005930", scenario, KIS_ENV="live", KIS_VENUE="unified") as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 1, what="the H0UNCNT0 ack")
        await r.advance(4.0, step=0.5)
        q = await r.quote("005930")
        assert q["source"] == "kis-ws" and q["venue"] == "unified", q
