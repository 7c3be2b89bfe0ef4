"""REST record -> replay: `fakekis record` stamps each rest.yaml interaction with its tape time `t`, and a
fakekis serving that recording answers each call with what KIS said at that point of the tape."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conftest import APPKEY, SECRET, kst, trade, write_recording
from fakekis import tape
from fakekis.serve.proxy import Recorder
from fakekis.serve.rest import INQUIRE_PRICE
from fakekis.serve.server import FakeKis
from fakekis.wire import frames
from kisclock import ManualClock

pytestmark = pytest.mark.anyio
WED = kst(2026, 11, 25, 10, 0)
QUERY = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}
FAST = {"mock": 1000}  # the budget is not under test here


async def _headers(http: httpx.AsyncClient, base: str) -> dict[str, str]:
    body = {"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}
    token = (await http.post(f"{base}/oauth2/tokenP", json=body)).json()["access_token"]
    return {
        "authorization": f"Bearer {token}",
        "appkey": APPKEY,
        "appsecret": SECRET,
        "tr_id": "FHKST01010100",
        "custtype": "P",
    }


async def _price(http: httpx.AsyncClient, base: str, headers: dict[str, str]) -> str:
    got = await http.get(f"{base}{INQUIRE_PRICE}", params=QUERY, headers=headers)
    assert got.status_code == 200, got.text
    return str(got.json()["output"]["stck_prpr"])


async def test_recorded_rest_answers_replay_on_the_tape_timeline(tmp_path: Path) -> None:
    first = frames.data_frame("H0STCNT0", [trade("005930", "100000", 71_000, 70_000, 100)])
    source = tape.load(write_recording(tmp_path / "source", WED, [(0.5, first)]))
    rec_clock = ManualClock(WED)
    async with (
        FakeKis(source, clock=ManualClock(WED), rest_rps=FAST) as upstream,
        httpx.AsyncClient() as http,
    ):
        up = upstream.urls["mock"]
        async with Recorder(
            tmp_path / "rec", rest_upstream=up["rest_url"], ws_upstream=up["ws_url"], clock=rec_clock
        ) as rec:
            headers = await _headers(http, rec.rest_url)
            rec_clock.advance(10)
            recorded_early = await _price(http, rec.rest_url, headers)
            later = frames.data_frame("H0STCNT0", [trade("005930", "100130", 72_500, 70_000, 300)])
            upstream.market.apply("H0STCNT0", later, 1, "005930")
            rec_clock.advance(90)
            recorded_late = await _price(http, rec.rest_url, headers)
    assert (recorded_early, recorded_late) == ("71000", "72500")
    recording = tape.load(tmp_path / "rec")
    assert [it.get("t") for it in recording.rest] == [0.0, 10.0, 100.0]  # tokenP, then the two prices

    clock = ManualClock(WED)
    async with (
        FakeKis(recording, clock=clock, start_on="ready", speed=10.0, rest_rps=FAST) as kis,
        httpx.AsyncClient() as http,
    ):
        base = kis.urls["mock"]["rest_url"]
        headers = await _headers(http, base)  # issued by this exchange: auth is never replayed
        clock.advance(0.5)  # tape time runs ten times faster: 5 s of tape
        before = await _price(http, base, headers)  # nothing recorded yet: the exchange's own answer
        clock.advance(4.5)
        at_50 = await _price(http, base, headers)
        clock.advance(10)
        at_150 = await _price(http, base, headers)
        ccnl = "/uapi/domestic-stock/v1/quotations/inquire-investor"  # a path without rules
        missing = await http.get(f"{base}{ccnl}", headers=headers)
        stats = (await http.get(f"{base}/__fakekis/stats")).json()["rest_replay"]
    assert before != "71000" and (at_50, at_150) == ("71000", "72500")
    assert missing.status_code == 404
    assert stats["interactions"] == 2 and stats["hits"] == 2
    assert stats["misses"] == 2 and stats["too_early"] == 1
    assert stats["missed"] == {
        f"GET {INQUIRE_PRICE} tr_id=FHKST01010100": 1,
        f"GET {ccnl} tr_id=FHKST01010100": 1,
    }
