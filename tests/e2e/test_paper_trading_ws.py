"""Paper trading end to end on loopback: REST orders against the replayed bundled morning, fill notices on
the WebSocket encrypted with the client's own ack key, and the ledger queries agreeing with the notices."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets
from paper_client import Client, approval, notice, start

from conftest import eventually
from fakekis import tape
from fakekis.serve.server import FakeKis
from gateway.session import subscribe_message
from kisclock import ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]


async def test_market_buy_gets_acceptance_and_fill_notices_that_match_daily_ccld_and_balance() -> None:
    rec = tape.load(tape.bundled(tape.DEFAULT_BUNDLED))
    clock = ManualClock(rec.start)
    async with FakeKis(
        rec, clock=clock, speed=1.0, start_on="ready", hts_id="myhtsid", rest_rps={"mock": 50}
    ) as kis:
        clock.advance(30)  # 09:05:30 on the tape
        await eventually(kis.caught_up, what="the first 30 s replayed")
        url = kis.urls["mock"]
        async with (
            httpx.AsyncClient(base_url=url["rest_url"]) as http,
            websockets.connect(url["ws_url"]) as ws,
        ):
            client = Client(http, await start(http))
            await ws.send(subscribe_message(await approval(http), "H0STCNI9", "myhtsid"))
            ack = json.loads(await ws.recv())
            assert ack["body"]["msg_cd"] == "OPSP0000"
            key, iv = ack["body"]["output"]["key"], ack["body"]["output"]["iv"]

            answer = await client.order("VTTC0012U", PDNO="005930", ORD_DVSN="01", ORD_QTY="3", ORD_UNPR="0")
            assert (answer["rt_cd"], answer["msg_cd"]) == ("0", "40600000")
            assert list(answer) == ["rt_cd", "msg_cd", "msg1", "output"]
            out = answer["output"]
            assert (
                out["KRX_FWDG_ORD_ORGNO"] == "00950" and len(out["ODNO"]) == 10 and out["ORD_TMD"] == "090530"
            )

            accepted = await notice(ws, key, iv)
            assert len(accepted) == 26
            assert accepted[0] == "myhtsid" and accepted[1] == "5012345601" and accepted[2] == out["ODNO"]
            assert (accepted[13], accepted[14], accepted[9]) == ("1", "1", "0000000003")  # CNTG_YN 1: 접수
            fills = []
            while sum(int(f[9]) for f in fills) < 3:
                f = await notice(ws, key, iv)
                assert f[13] == "2" and f[2] == out["ODNO"]
                fills.append(f)

            ccld, tr_cont = await client.query("inquire-daily-ccld", "VTTC0081R", INQR_STRT_DT="20261125")
            row = ccld["output1"][0]
            assert tr_cont == "E" and row["odno"] == out["ODNO"] and row["tot_ccld_qty"] == "3"
            assert int(row["tot_ccld_amt"]) == sum(int(f[9]) * int(f[10]) for f in fills)

            bal, _ = await client.query("inquire-balance", "VTTC8434R", INQR_DVSN="02")
            holding = bal["output1"][0]
            assert (holding["pdno"], holding["hldg_qty"]) == ("005930", "3")
            assert int(bal["output2"][0]["dnca_tot_amt"]) == 10_000_000 - int(row["tot_ccld_amt"])

            seen = (await http.get("/__fakekis/accounts")).json()
            assert seen["accounts"][0]["holdings"]["005930"]["qty"] == 3


async def test_a_resting_limit_buy_fills_when_the_tape_trades_down_to_it_and_cancel_after_fill_is_refused() -> (
    None
):
    rec = tape.load(tape.bundled(tape.DEFAULT_BUNDLED))
    clock = ManualClock(rec.start)
    async with FakeKis(rec, clock=clock, speed=1.0, start_on="ready", rest_rps={"mock": 50}) as kis:
        url = kis.urls["mock"]
        async with (
            httpx.AsyncClient(base_url=url["rest_url"]) as http,
            websockets.connect(url["ws_url"]) as ws,
        ):
            client = Client(http, await start(http))
            await ws.send(subscribe_message(await approval(http), "H0STCNI9", "anyid"))
            ack = json.loads(await ws.recv())
            key, iv = ack["body"]["output"]["key"], ack["body"]["output"]["iv"]
            clock.advance(1)
            await eventually(kis.caught_up, what="the first second replayed")
            low = min(
                int(f.text.split("|")[3].split("^")[2])
                for f in rec.data_frames()
                if f.tr_id == "H0STCNT0" and f.tr_key == "005930" and 60 <= f.t <= 120
            )
            answer = await client.order(
                "VTTC0802U", PDNO="005930", ORD_DVSN="00", ORD_QTY="1", ORD_UNPR=str(low)
            )
            assert answer["rt_cd"] == "0", answer  # the legacy tr_id is accepted too
            assert (await notice(ws, key, iv))[13] == "1"
            clock.advance(120)
            fill = await notice(ws, key, iv)
            assert fill[13] == "2" and int(fill[10]) <= low  # filled at a tape price that reached the limit
            cancel = await client.order(
                "VTTC0013U",
                "order-rvsecncl",
                KRX_FWDG_ORD_ORGNO="",
                ORGN_ODNO=answer["output"]["ODNO"],
                ORD_DVSN="00",
                RVSE_CNCL_DVSN_CD="02",
                ORD_QTY="0",
                ORD_UNPR="0",
                QTY_ALL_ORD_YN="Y",
            )
            assert (cancel["rt_cd"], cancel["msg_cd"]) == ("1", "40330000")


async def _scripted_session() -> list[tuple[str, int, int, str]]:
    """One scripted morning on the manual clock: orders between steps of the replay."""
    rec = tape.load(tape.bundled(tape.DEFAULT_BUNDLED))
    clock = ManualClock(rec.start)
    async with FakeKis(rec, clock=clock, speed=1.0, start_on="ready", rest_rps={"mock": 50}) as kis:
        url = kis.urls["mock"]
        async with httpx.AsyncClient(base_url=url["rest_url"]) as http:
            client = Client(http, await start(http))
            for step, (symbol, dvsn, qty, offset) in enumerate(
                [
                    ("005930", "01", "3", 0),
                    ("000660", "00", "5", -1),
                    ("035720", "00", "7", 0),
                    ("005930", "00", "9", -2),
                ]
            ):
                clock.advance(20)
                await eventually(kis.caught_up, what=f"step {step} replayed")
                last = int(kis.market.inquire_price(symbol)["stck_prpr"])
                tick = int(kis.market.inquire_price(symbol)["aspr_unit"])
                price = "0" if dvsn == "01" else str(last + offset * tick)
                answer = await client.order(
                    "VTTC0012U", PDNO=symbol, ORD_DVSN=dvsn, ORD_QTY=qty, ORD_UNPR=price
                )
                assert answer["rt_cd"] == "0", answer
            clock.advance(120)
            await eventually(kis.caught_up, what="the last two minutes replayed")
        return list(kis.paper["mock"].fills)


async def test_the_same_tape_and_orders_on_the_manual_clock_give_the_same_fills() -> None:
    first = await _scripted_session()
    assert len(first) >= 3  # the market order and some limit orders filled
    assert await _scripted_session() == first
