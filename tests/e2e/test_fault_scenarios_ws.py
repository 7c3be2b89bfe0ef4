"""One test per fault in fakekis's catalogue (docs/faults.md): the symptom a KIS client sees, and the
gateway surviving it. Gateway and fakekis run over real loopback sockets on one manual clock."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import paper_client
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from conftest import APPKEY, SECRET, eventually, kst, running, trade, write_recording
from fakekis import faults, tape
from fakekis.serve.server import FakeKis
from fakekis.wire import frames
from gateway.session import subscribe_message
from kisclock import ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]
WED = kst(2026, 11, 25, 10, 0)
SYMS = "005930,000660"


def _tape(tmp: Path, seconds: int = 120) -> tape.Recording:
    out = []
    for i in range(seconds):
        hh = f"10{i // 60:02d}{i % 60:02d}"
        recs = [
            trade("005930", hh, 71_000 + 100 * (i % 5), 71_000, 1_000 + 2 * i + j)
            for j in range(2 if i % 4 == 0 else 1)
        ]
        out.append((0.5 + i, frames.data_frame("H0STCNT0", recs)))
        out.append((0.8 + i, frames.data_frame("H0STCNT0", [trade("000660", hh, 180_000, 177_000, 500 + i)])))
    return tape.load(write_recording(tmp / "rec", WED, out, [("H0STCNT0", "005930"), ("H0STCNT0", "000660")]))


def _run(tmp: Path, *fault_list: faults.Fault, **env: str):
    return running(_tape(tmp), ManualClock(WED), tmp, SYMS, faults.Scenario(list(fault_list)), **env)


async def _subscribed(r, n: int = 2) -> None:
    await eventually(lambda: r.metrics.ws_subscriptions == n, what=f"{n} acked subscriptions")


# -- F1 --------------------------------------------------------------------------------------


async def test_drop_without_close_frame(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.DropAfter(after_s=5)) as r:
        await _subscribed(r)
        await r.advance(5.0)
        await eventually(lambda: not r.metrics.ws_connected, what="the drop")
        assert "1006" in r.metrics.last_error and r.seen()["drops"]["drop"] == 1
        await r.reconnect()
        await _subscribed(r)
        before = r.metrics.ws_messages
        await r.advance(3.0)
        assert r.metrics.ws_reconnects == 1 and r.metrics.ws_messages > before
        assert (await r.quote("005930"))["source"] == "kis-ws"


async def test_half_open_silence(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.HalfOpen(after_s=5), GATEWAY_WS_IDLE_TIMEOUT="20") as r:
        await _subscribed(r)
        await r.advance(5.0)
        stuck = r.metrics.ws_messages
        await r.advance(19.0)
        assert r.metrics.ws_connected and r.metrics.ws_messages == stuck  # the socket looks fine ...
        await r.advance(2.0)
        await eventually(lambda: r.metrics.ws_connects == 2, what="the idle watchdog to reconnect")
        assert "no message for 20s" in r.metrics.last_error
        await _subscribed(r)


async def test_no_ack_reconnects_after_the_ack_timeout(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.NoAck(connections=1), GATEWAY_ACK_TIMEOUT="5") as r:
        await eventually(lambda: r.metrics.ws_connected, what="connect")
        await r.advance(4.0)
        assert r.metrics.ws_subscriptions == 0 and r.metrics.ws_connected  # connected, silent, no acks
        await r.advance(1.0)
        await eventually(lambda: not r.metrics.ws_connected, what="the ack timeout")
        assert "no subscribe ack within 5s" in r.metrics.last_error
        await eventually(lambda: r.gw.worker.failures == 1, what="the failure to count")  # not healthy
        await r.reconnect()
        await _subscribed(r)


async def test_error_ack_leaves_that_symbol_on_rest(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.ErrorAck(tr_key="000660")) as r:
        await _subscribed(r, 1)
        await eventually(lambda: r.metrics.ws_refusals["OPSP0007"] == 1, what="the refusal")
        await r.advance(2.0)
        assert (await r.quote("005930"))["source"] == "kis-ws"
        q = await r.quote("000660")
        assert q["source"] == "kis-rest" and q["price"] == 180_000


# -- F2, F8, F11, F4 -------------------------------------------------------------------------


async def test_session_in_use_backs_off_then_connects(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.SessionInUse(for_s=40)) as r:
        await eventually(lambda: r.metrics.ws_refusals["OPSP8996"] >= 1, what="OPSP8996")
        await eventually(lambda: r.gw.worker.failures >= 5, what="the hold-off")
        assert "OPSP8996" in r.metrics.last_error
        await r.advance(14.0)
        assert r.seen()["sessions_opened"] == 1  # no storm: one attempt in 14 s
        for _ in range(6):  # then it comes back once the zombie is gone
            if r.metrics.ws_subscriptions == 2:
                break
            await r.advance(10.0)
        await _subscribed(r)
        assert r.seen()["sessions_opened"] <= 4


async def test_approval_rejected_once_gets_one_fresh_key(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.ApprovalRejected(times=1)) as r:
        await eventually(lambda: r.metrics.ws_refusals["OPSP0011"] == 1, what="OPSP0011")
        await r.reconnect()
        await _subscribed(r)
        assert len(r.kis.envs["mock"].registry.approvals) == 2  # exactly one fresh approval key


async def test_approval_rejected_again_backs_off(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.ApprovalRejected(times=5)) as r:
        await eventually(lambda: r.metrics.ws_refusals["OPSP0011"] == 1, what="first OPSP0011")
        await r.reconnect()
        await eventually(lambda: r.metrics.ws_refusals["OPSP0011"] == 2, what="second OPSP0011")
        await eventually(lambda: r.gw.worker.failures >= 5, what="the hold-off")
        await r.advance(10.0)
        assert r.metrics.ws_refusals["OPSP0011"] == 2  # no third attempt within the hold-off floor


async def test_already_subscribed_after_reconnect_counts_as_subscribed(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.DropAfter(after_s=3), faults.AlreadySubscribedAfterReconnect()) as r:
        await _subscribed(r)
        await r.advance(3.0)
        await r.reconnect()
        await _subscribed(r)
        assert r.seen()["acks"]["OPSP0002"] == 2
        before = r.metrics.ws_messages
        await r.advance(2.0)
        assert r.metrics.ws_messages > before and (await r.quote("005930"))["source"] == "kis-ws"


async def test_max_subscribe_over(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.MaxSubscribe(limit=1)) as r:
        await _subscribed(r, 1)
        await eventually(lambda: r.metrics.ws_refusals["OPSP0008"] == 1, what="OPSP0008")
        await r.advance(2.0)
        assert r.metrics.ws_connected  # the connection stays up
        sources = {(await r.quote(s))["source"] for s in ("005930", "000660")}
        assert sources == {"kis-ws", "kis-rest"}


# -- F3 --------------------------------------------------------------------------------------


async def test_pingpong_timeout_spares_a_client_that_echoes(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.PingpongTimeout(timeout_s=3)) as r:
        await _subscribed(r)
        await r.advance(45.0)  # four PINGPONGs, each echoed in time
        assert r.metrics.ws_connects == 1 and r.metrics.ws_pingpongs == 4 and r.seen()["drops"] == {}


async def test_pingpong_timeout_drops_a_client_that_does_not_answer() -> None:
    clock = ManualClock(WED)
    async with FakeKis(
        None, clock=clock, scenario=faults.Scenario([faults.PingpongTimeout(timeout_s=3)])
    ) as kis:
        async with websockets.connect(kis.urls["mock"]["ws_url"], ping_interval=None) as ws:
            clock.advance(10)
            assert json.loads(await ws.recv())["header"]["tr_id"] == "PINGPONG"  # ... and no answer
            clock.advance(3)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is None and kis.stats("mock")["drops"]["pingpong-timeout"] == 1


async def test_client_websocket_pings_kill_the_session() -> None:
    async with FakeKis(None, scenario=faults.Scenario([faults.ClientPingKills()])) as kis:
        async with websockets.connect(kis.urls["mock"]["ws_url"], ping_interval=None) as ws:
            await ws.ping()
            reply = json.loads(await ws.recv())
            assert reply["body"]["rt_cd"] == "9"
            with pytest.raises(ConnectionClosed):
                await ws.recv()


async def test_gateway_sends_no_websocket_pings(tmp_path: Path) -> None:
    # websockets' keepalive pings run on real time (20 s by default), which the manual clock cannot
    # hurry: so check the setting the worker connects with, then that the strict server never objected.
    from conftest import gateway_env
    from gateway.app import create_app
    from gateway.config import from_env

    seen: list[dict] = []

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return websockets.connect(*args, **kwargs)

    clock = ManualClock(WED)
    async with FakeKis(
        _tape(tmp_path), clock=clock, scenario=faults.Scenario([faults.ClientPingKills()])
    ) as kis:
        app = create_app(from_env(gateway_env(kis.urls["mock"], tmp_path, SYMS)), clock, connect=spy)
        async with app.router.lifespan_context(app):
            await eventually(lambda: app.state.gateway.metrics.ws_subscriptions == 2, what="acks")
            assert seen and all(kw.get("ping_interval", 20) is None for kw in seen)
            assert kis.stats("mock")["drops"] == {}


# -- F5 --------------------------------------------------------------------------------------


async def test_market_closed_is_quiet_not_broken(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.MarketClosed()) as r:
        await _subscribed(r)
        await r.advance(130.0, step=5.0)  # twice the idle timeout, PINGPONG only
        assert r.metrics.ws_connected and r.metrics.ws_connects == 1
        assert r.metrics.ws_messages == 0 and r.metrics.ws_pingpongs == 13
        q = await r.quote("005930")
        assert q["source"] == "kis-rest" and "no WebSocket tick" in q["fallback_reason"]


async def test_krx_silent_while_nxt_trades(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.KrxSilentNxtTrades()) as r:
        await _subscribed(r)
        await r.advance(5.0)
        assert r.metrics.ws_messages == 0 and r.seen()["frames_sent"] == 0
        key = await r.gw.rest.approval_key()
    clock = ManualClock(WED)  # a client on the unified TR gets the trades (live: mock does not serve it)
    async with FakeKis(
        _tape(tmp_path / "u"),
        envs=("live",),
        clock=clock,
        scenario=faults.Scenario([faults.KrxSilentNxtTrades()]),
    ) as kis:
        import httpx

        async with httpx.AsyncClient(base_url=kis.urls["live"]["rest_url"]) as http:
            key = (
                await http.post(
                    "/oauth2/Approval",
                    json={"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET},
                )
            ).json()["approval_key"]
        async with websockets.connect(kis.urls["live"]["ws_url"], ping_interval=None) as ws:
            await ws.send(subscribe_message(key, "H0UNCNT0", "005930"))
            assert json.loads(await ws.recv())["body"]["msg_cd"] == "OPSP0000"
            clock.advance(1.0)
            assert (await ws.recv()).startswith("0|H0UNCNT0|")


# -- F9, F12, F14 ----------------------------------------------------------------------------


async def test_field_drift_to_a_width_no_era_has(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.FieldDrift()) as r:
        await _subscribed(r)
        await r.advance(4.0)
        assert r.metrics.ws_malformed == 0 and r.gw.cache.get("005930").price > 0
        assert r.gw.cache.get("005930").ticks == r.seen()["records_sent"] - 4  # 4 of the frames were 000660


async def test_malformed_frames_are_counted_not_fatal(tmp_path: Path) -> None:
    async with _run(
        tmp_path, faults.Malformed(every=3, mode="garbage"), faults.Malformed(every=5, mode="count")
    ) as r:
        await _subscribed(r)
        await r.advance(10.0)
        assert r.metrics.ws_malformed >= 4 and r.metrics.ws_connects == 1 and r.metrics.worker_restarts == 0
        assert (await r.quote("005930"))["source"] == "kis-ws"


async def test_invalid_utf8_closes_and_the_worker_reconnects(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.InvalidUtf8(nth=3)) as r:
        await _subscribed(r)
        await r.advance(2.0)
        await eventually(lambda: not r.metrics.ws_connected, what="the 1007 close")
        assert "1007" in r.metrics.last_error
        await r.reconnect()
        await _subscribed(r)


async def test_encrypted_frame_before_its_key(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.EncryptedBeforeKey()) as r:
        await _subscribed(r)
        await eventually(lambda: r.metrics.ws_malformed == 1, what="the report")
        await r.advance(2.0)
        assert r.metrics.ws_connected and (await r.quote("005930"))["source"] == "kis-ws"


async def test_burst_batching_loses_nothing(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.BurstBatching(size=4)) as r:
        await _subscribed(r)
        await r.advance(20.0)
        seen = r.seen()
        assert (
            seen["records_sent"] == 4 * seen["frames_sent"] and r.metrics.ws_records == seen["records_sent"]
        )
        q = r.gw.cache.get("005930")
        assert q.ticks + r.gw.cache.get("000660").ticks == seen["records_sent"]


# -- F6, F7, F13 -----------------------------------------------------------------------------


async def test_token_throttle_answers_503_then_recovers_after_a_minute(tmp_path: Path) -> None:
    async with running(
        _tape(tmp_path),
        ManualClock(kst(2026, 11, 28, 10, 0)),
        tmp_path,
        SYMS,
        faults.Scenario([faults.TokenThrottle(times=1)]),
    ) as r:
        first = await r.http.get("/v1/quotes/005930")
        assert first.status_code == 503 and "EGW00133" in first.json()["reason"]
        held = await r.http.get("/v1/quotes/005930")  # within the minute: no second tokenP call at all
        assert held.status_code == 503 and "held back" in held.json()["reason"]
        await r.advance(60.0, step=10.0)
        assert (await r.quote("005930"))["source"] == "kis-rest"
        assert r.metrics.token_issuances == 1


async def test_rest_tps_is_retried_once(tmp_path: Path) -> None:
    async with running(
        _tape(tmp_path),
        ManualClock(kst(2026, 11, 28, 10, 0)),
        tmp_path,
        SYMS,
        faults.Scenario([faults.RestTps(times=1)]),
    ) as r:
        q = await r.quote("005930")
        assert (
            q["source"] == "kis-rest"
            and r.metrics.rest_errors == {"EGW00201": 1}
            and r.metrics.rest_calls == 2
        )


async def test_token_expired_reissues_within_the_one_per_minute_rule(tmp_path: Path) -> None:
    async with running(
        _tape(tmp_path),
        ManualClock(kst(2026, 11, 28, 10, 0)),
        tmp_path,
        SYMS,
        faults.Scenario([faults.TokenExpired(times=1)]),
    ) as r:
        first = await r.http.get("/v1/quotes/005930")  # EGW00123 right after issuance: re-issue must wait
        assert first.status_code == 503 and "held back" in first.json()["reason"]
        await r.advance(60.0, step=10.0)
        assert (await r.quote("005930"))["source"] == "kis-rest"
        assert r.metrics.token_issuances == 2


async def test_env_mismatch_is_named_and_not_retried(tmp_path: Path) -> None:
    async with running(
        _tape(tmp_path),
        ManualClock(kst(2026, 11, 28, 10, 0)),
        tmp_path,
        SYMS,
        faults.Scenario([faults.EnvMismatch()]),
    ) as r:
        resp = await r.http.get("/v1/quotes/005930")
        assert resp.status_code == 503 and "EGW02004" in resp.json()["reason"] and r.metrics.rest_calls == 1


async def test_reconnect_storm_lockout(tmp_path: Path) -> None:
    lockout = faults.ReconnectLockout(max_connects=2, window_s=10, lockout_s=30)
    async with _run(tmp_path, faults.DropAfter(after_s=1, connections=3), lockout) as r:
        await _subscribed(r)
        while not (r.metrics.ws_subscriptions == 2 and r.seen()["drops"].get("drop") == 3):
            if r.metrics.ws_connected:
                await r.advance(0.5)  # let the next drop come
            else:
                await r.reconnect()
            assert r.clock.now() - WED < 300, "never recovered"
        refused = sum("HTTP 403" in line for line in r.gw.log.lines)
        assert refused >= 1  # the lockout was hit ...
        assert r.gw.worker.failures == 0  # ... and survived: healthy again
        assert r.clock.now() - WED >= 30


# -- the trading path (F15, docs/paper-trading.md) -------------------------------------------------


async def _trading(scenario: faults.Scenario, test: Any) -> None:
    """The bundled morning 30 s in, a client with a token and a fill-notice subscription, then `test`."""
    rec = tape.load(tape.bundled(tape.DEFAULT_BUNDLED))
    clock = ManualClock(rec.start)
    async with FakeKis(rec, clock=clock, start_on="ready", rest_rps={"mock": 50}, scenario=scenario) as kis:
        clock.advance(30)
        await eventually(kis.caught_up, what="30 s of tape replayed")
        url = kis.urls["mock"]
        async with (
            httpx.AsyncClient(base_url=url["rest_url"]) as http,
            websockets.connect(url["ws_url"]) as ws,
        ):
            client = paper_client.Client(http, await paper_client.start(http))
            await ws.send(subscribe_message(await paper_client.approval(http), "H0STCNI9", "htsid"))
            out = json.loads(await ws.recv())["body"]["output"]
            await test(kis, clock, client, ws, out["key"], out["iv"])


def _market_buy(client: paper_client.Client, qty: str = "1") -> Any:
    return client.order("VTTC0012U", PDNO="005930", ORD_DVSN="01", ORD_QTY=qty, ORD_UNPR="0")


async def test_order_reject_refuses_the_first_order_as_kis_then_takes_the_next() -> None:
    async def test(kis: FakeKis, clock: ManualClock, client: Any, ws: Any, key: str, iv: str) -> None:
        first = await _market_buy(client)
        assert (first["rt_cd"], first["msg_cd"], first["msg1"]) == (
            "1",
            "40580000",
            "모의투자 장종료 입니다.",
        )
        assert kis.paper["mock"].orders() == []
        assert (await _market_buy(client))["rt_cd"] == "0"

    await _trading(faults.Scenario([faults.OrderReject(reason="closed", times=1)]), test)


async def test_order_tps_answers_egw00201_and_places_nothing() -> None:
    async def test(kis: FakeKis, clock: ManualClock, client: Any, ws: Any, key: str, iv: str) -> None:
        r = await client.http.post(
            paper_client.TRADING + "order-cash",
            json={
                **paper_client.ACCOUNT,
                "PDNO": "005930",
                "ORD_DVSN": "01",
                "ORD_QTY": "1",
                "ORD_UNPR": "0",
            },
            headers=client.headers("VTTC0012U"),
        )
        assert r.status_code == 500 and r.json()["msg_cd"] == "EGW00201"
        assert kis.paper["mock"].orders() == []
        assert (await _market_buy(client))["rt_cd"] == "0"

    await _trading(faults.Scenario([faults.OrderTps(times=1)]), test)


async def test_acceptance_delay_answers_when_the_exchange_clock_has_moved() -> None:
    async def test(kis: FakeKis, clock: ManualClock, client: Any, ws: Any, key: str, iv: str) -> None:
        due = clock.now() + 2
        pending = asyncio.ensure_future(_market_buy(client))
        # the order is parked on the exchange clock (a sleeper due 2 s from now)
        await eventually(lambda: any(d == due for d, _, _ in clock._sleepers), what="the order parked")
        assert not pending.done() and kis.paper["mock"].orders() == []
        clock.advance(2)
        answer = await asyncio.wait_for(pending, 10)
        assert answer["output"]["ORD_TMD"] == "090532"  # taken at the market of 2 s later

    await _trading(faults.Scenario([faults.AcceptanceDelay(after_s=2.0)]), test)


async def test_notice_delay_holds_notices_until_the_clock_reaches_them() -> None:
    async def test(kis: FakeKis, clock: ManualClock, client: Any, ws: Any, key: str, iv: str) -> None:
        assert (await _market_buy(client))["rt_cd"] == "0"
        assert kis.stats("mock")["paper"]["notices_sent"] == 0
        clock.advance(5)
        assert (await paper_client.notice(ws, key, iv))[13] == "1"  # the acceptance, 5 s late

    await _trading(faults.Scenario([faults.NoticeDelay(after_s=5.0)]), test)


async def test_notice_lost_drops_every_second_notice_but_the_ledger_has_the_fill() -> None:
    async def test(kis: FakeKis, clock: ManualClock, client: Any, ws: Any, key: str, iv: str) -> None:
        answer = await _market_buy(client)
        assert (await paper_client.notice(ws, key, iv))[13] == "1"  # the acceptance goes out
        paper = kis.stats("mock")["paper"]
        assert paper["notices_lost"] >= 1 and paper["fills"] >= 1  # its fill notice was lost
        ccld, _ = await client.query("inquire-daily-ccld", "VTTC0081R")
        assert ccld["output1"][0]["odno"] == answer["output"]["ODNO"]
        assert ccld["output1"][0]["tot_ccld_qty"] == "1"

    await _trading(faults.Scenario([faults.NoticeLost(every=2)]), test)


# -- network faults (family N, and F1's resets and timeouts) -----------------------------------


async def _open(kis: FakeKis, clock: ManualClock, *symbols: str):
    """A raw client that sent subscribe requests for `symbols`; waits until fakekis has received them all
    (a reply held on the wire does not stop fakekis from reading the next request)."""
    ws = await websockets.connect(kis.urls["mock"]["ws_url"], ping_interval=None)
    for sym in symbols:
        key = kis.envs["mock"].registry.issue_approval(
            {"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET}
        )[1]["approval_key"]
        await ws.send(subscribe_message(str(key), "H0STCNT0", sym))
    await eventually(
        lambda: sum(s["texts_received"] for s in kis.stats("mock")["open_sessions"]) == len(symbols),
        what="fakekis to receive every subscribe request",
    )
    return ws


async def _nothing_for_now(ws) -> None:
    """Nothing arrives while the clock stands still (bounded real-time look)."""
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ws.recv(), 0.3)


async def test_latency_holds_each_message_until_the_clock_reaches_it() -> None:
    clock = ManualClock(WED)
    scenario = faults.Scenario([faults.Latency(latency_s=2.0)])
    async with FakeKis(None, clock=clock, scenario=scenario) as kis:
        ws = await _open(kis, clock, "005930")
        await _nothing_for_now(ws)  # the ack is on the wire for 2 s of fakekis's clock
        clock.advance(2.0)
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ack["body"]["msg1"] == "SUBSCRIBE SUCCESS"
        await ws.close()


async def test_latency_with_jitter_delivers_in_order_once_the_clock_passes() -> None:
    clock = ManualClock(WED)
    scenario = faults.Scenario([faults.Latency(latency_s=0.5, jitter_s=0.4, seed=3)])
    async with FakeKis(None, clock=clock, scenario=scenario) as kis:
        ws = await _open(kis, clock, "005930", "000660", "035720")
        await _nothing_for_now(ws)
        clock.advance(1.0)  # every ack is due by 0.9 s, whatever the jitter drew
        keys = [json.loads(await asyncio.wait_for(ws.recv(), 5))["header"]["tr_key"] for _ in range(3)]
        assert keys == ["005930", "000660", "035720"]
        await ws.close()


async def test_bandwidth_paces_by_size() -> None:
    clock = ManualClock(WED)
    scenario = faults.Scenario([faults.Bandwidth(bytes_per_s=20)])
    async with FakeKis(None, clock=clock, scenario=scenario) as kis:
        ws = await _open(kis, clock, "005930")
        await _nothing_for_now(ws)
        clock.advance(1.0)  # 20 bytes of an ack of ~100: not yet
        await _nothing_for_now(ws)
        clock.advance(20.0)
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["header"]["tr_id"] == "H0STCNT0"
        await ws.close()


async def test_slow_rest_answers_late() -> None:
    import httpx

    clock = ManualClock(WED)
    async with FakeKis(None, clock=clock, scenario=faults.Scenario([faults.SlowRest(delay_s=5)])) as kis:
        async with httpx.AsyncClient(base_url=kis.urls["mock"]["rest_url"]) as http:
            body = {"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}
            call = asyncio.ensure_future(http.post("/oauth2/tokenP", json=body))
            done, _ = await asyncio.wait({call}, timeout=0.3)
            assert not done  # held for 5 s of fakekis's clock
            clock.advance(5.0)
            assert (await asyncio.wait_for(call, 5)).status_code == 200


async def test_tcp_reset_aborts_and_the_gateway_reconnects(tmp_path: Path) -> None:
    async with _run(tmp_path, faults.TcpReset(after_s=3)) as r:
        await _subscribed(r)
        await r.advance(3.0)
        await eventually(lambda: not r.metrics.ws_connected, what="the reset")
        assert r.seen()["drops"]["tcp-reset"] == 1 and "1006" in r.metrics.last_error
        await r.reconnect()
        await _subscribed(r)


async def test_tcp_reset_is_a_reset_not_a_close() -> None:
    clock = ManualClock(WED)
    async with FakeKis(None, clock=clock, scenario=faults.Scenario([faults.TcpReset(after_s=1)])) as kis:
        ws = await _open(kis, clock, "005930")
        await ws.recv()  # the ack
        clock.advance(1.0)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is None and isinstance(closed.value.__cause__, ConnectionResetError)


async def test_timeout_goes_silent_then_closes_and_holds_rest(tmp_path: Path) -> None:
    clock = ManualClock(WED)
    scenario = faults.Scenario([faults.Timeout(after_s=1, close_after_s=4)])
    async with FakeKis(None, clock=clock, ping_interval=2.0, scenario=scenario) as kis:
        ws = await _open(kis, clock, "005930")
        await ws.recv()  # the ack, before the timeout starts
        clock.advance(1.0)
        clock.advance(2.0)  # a PINGPONG was due: swallowed
        await _nothing_for_now(ws)
        clock.advance(2.0)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert kis.stats("mock")["drops"]["timeout"] == 1


async def test_timeout_holds_rest_answers_until_removed() -> None:
    import httpx

    body = {"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET}
    async with FakeKis(None, scenario=faults.Scenario([faults.Timeout(on="rest")])) as kis:
        async with httpx.AsyncClient(base_url=kis.urls["mock"]["rest_url"]) as http:
            with pytest.raises(httpx.ReadTimeout):  # the client's own timeout is what ends it
                await http.post("/oauth2/Approval", json=body, timeout=0.3)
            held = asyncio.ensure_future(http.post("/oauth2/Approval", json=body, timeout=10))
            await eventually(lambda: kis.net.held >= 1, what="fakekis to hold the answer")
            assert kis.remove_fault() == 1  # the network heals: held answers go at once
            assert (await asyncio.wait_for(held, 5)).status_code == 200
            await eventually(lambda: kis.net.held == 0, what="every held answer to be released")


async def test_slicer_sends_one_message_in_fragments() -> None:
    clock = ManualClock(WED)
    async with FakeKis(None, clock=clock, scenario=faults.Scenario([faults.Slicer(size=16)])) as kis:
        ws = await _open(kis, clock, "005930")
        pieces = [p async for p in ws.recv_streaming()]
        assert len(pieces) > 2 and all(len(p) <= 16 for p in pieces)
        assert json.loads("".join(pieces))["body"]["msg1"] == "SUBSCRIBE SUCCESS"
        await ws.close()
