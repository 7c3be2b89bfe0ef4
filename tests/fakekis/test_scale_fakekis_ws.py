"""fakekis for scale-out tests (issue #17): the REST budget per appkey, the release delay and the hold (a
zombie tied to the real previous owner), the ledger, and the admin routes, through the sans-I/O exchange and
over real loopback sockets."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from conftest import APPKEY, eventually, gateway_env, kst, trade, write_recording
from fakekis import tape
from fakekis.exchange.actions import Drop, Reply, encode
from fakekis.exchange.auth import Registry
from fakekis.exchange.ledger import Ledger, appkey_id
from fakekis.exchange.sessions import Exchange
from fakekis.serve.server import FakeKis
from fakekis.wire import frames
from gateway.app import create_app
from gateway.config import from_env
from gateway.session import subscribe_message
from kisclock import ManualClock

pytestmark = pytest.mark.ws
WED = kst(2026, 11, 25, 9, 5)


def _exchange(**kw: object) -> tuple[Exchange, str]:
    reg = Registry("mock")
    key = reg.issue_approval(
        {"grant_type": "client_credentials", "appkey": "A" * 36, "secretkey": "s" * 180}
    )[1]["approval_key"]
    return Exchange(reg, **kw), str(key)  # type: ignore[arg-type]


def _code(actions: list[object]) -> str:
    assert isinstance(actions[0], Reply)
    return str(json.loads(encode(actions[0]))["body"]["msg_cd"])


def test_the_rest_budget_is_per_appkey() -> None:
    reg = Registry("mock", rest_rps=2)
    assert reg.spend_budget(10.2, 10.2, "a") and reg.spend_budget(10.5, 10.5, "a")
    assert not reg.spend_budget(10.9, 10.9, "a")
    assert reg.spend_budget(10.9, 10.9, "b"), "another appkey's calls must not eat this one's budget"
    assert reg.spend_budget(11.0, 11.0, "a")


def test_an_appkey_stays_taken_for_the_release_delay_after_its_owner_goes() -> None:
    ex, key = _exchange(release_delay=5.0)
    first = ex.open(0.0)
    assert _code(first.receive(subscribe_message(key, "H0STCNT0", "005930"), 1.0)) == "OPSP0000"
    ex.closed(first, 10.0, "test")
    second = ex.open(11.0)
    out = second.receive(subscribe_message(key, "H0STCNT0", "005930"), 12.0)
    assert _code(out) == "OPSP8996" and isinstance(out[1], Drop)
    third = ex.open(15.0)
    assert _code(third.receive(subscribe_message(key, "H0STCNT0", "005930"), 15.0)) == "OPSP0000"


def test_a_hold_ties_the_zombie_to_the_current_owner_only() -> None:
    ex, key = _exchange()
    owner = ex.open(0.0)
    owner.receive(subscribe_message(key, "H0STCNT0", "005930"), 0.0)
    appkey = ex.appkey_by_id(appkey_id("mock", "A" * 36))
    assert appkey == "A" * 36
    ex.hold(appkey, 30.0, 1.0)
    assert (
        _code(owner.receive(subscribe_message(key, "H0STCNT0", "000660"), 2.0)) == "OPSP0000"
    )  # still the owner
    ex.closed(owner, 3.0, "test")
    assert _code(ex.open(4.0).receive(subscribe_message(key, "H0STCNT0", "005930"), 32.9)) == "OPSP8996"
    assert _code(ex.open(4.0).receive(subscribe_message(key, "H0STCNT0", "005930"), 33.0)) == "OPSP0000"
    assert not ex.holds, "the hold is used up by the owner's close"


def test_the_ledger_has_one_data_entry_per_record_with_acml_vol() -> None:
    led = Ledger("mock")
    text = frames.data_frame("H0STCNT0", [trade("005930", "090501", 71_000, 70_000, v) for v in (5, 6, 9)])
    led.data(3, "A" * 36, text, 12.5)
    assert [(e["symbol"], e["acml_vol"], e["exch_time"]) for e in led.events] == [
        ("005930", v, "090501") for v in (5, 6, 9)
    ]
    assert {e["appkey"] for e in led.events} == {appkey_id("mock", "A" * 36)}
    assert "A" * 36 not in led.jsonl()


@pytest.mark.anyio
async def test_admin_routes_drop_and_hold_one_appkey_and_the_history_shows_it(tmp_path: Path) -> None:
    clock = ManualClock(WED)
    out = [
        (0.5 + i, frames.data_frame("H0STCNT0", [trade("005930", "090500", 71_000, 71_000, 100 + i)]))
        for i in range(5)
    ]
    rec = tape.load(write_recording(tmp_path / "rec", WED, out))
    async with FakeKis(rec, clock=clock, speed=1.0, ledger=True) as kis:
        admin = kis.urls["mock"]["rest_url"]
        cfg = from_env(gateway_env(kis.urls["mock"], tmp_path, "005930"))
        app = create_app(cfg, clock)
        ident = appkey_id("mock", APPKEY)
        async with app.router.lifespan_context(app), httpx.AsyncClient(base_url=admin) as http:
            gw = app.state.gateway
            await eventually(lambda: gw.metrics.ws_subscriptions == 1, what="the ack")
            clock.advance(3.0)
            await eventually(lambda: gw.metrics.ws_records >= 3, what="three records")
            assert (
                await http.post("/__fakekis/sessions/hold", params={"appkey_id": ident, "for_s": "nan"})
            ).status_code == 400
            assert (
                await http.post("/__fakekis/sessions/drop", params={"appkey_id": "0" * 16})
            ).status_code == 404
            r = await http.post("/__fakekis/sessions/hold", params={"appkey_id": ident, "for_s": "60"})
            assert r.json() == {"held_for_s": 60.0, "owner_connected": True}
            assert (await http.post("/__fakekis/sessions/drop", params={"appkey_id": ident})).json() == {
                "dropped": 1
            }
            await eventually(lambda: not gw.metrics.ws_connected, what="the drop")
            await eventually(lambda: gw.metrics.ws_next_attempt_at is not None, what="the backoff")
            clock.advance(gw.metrics.ws_next_attempt_at - clock.now() + 0.01)
            await eventually(lambda: gw.metrics.ws_refusals["OPSP8996"] >= 1, what="the zombie's refusal")
            history = [json.loads(line) for line in (await http.get("/__fakekis/history")).text.splitlines()]
        kinds = [e["kind"] for e in history]
        assert {"session-open", "session-owner", "ack", "data", "oauth", "session-close"} <= set(kinds)
        closes = [e for e in history if e["kind"] == "session-close"]
        assert closes[0]["cause"] == "admin-drop" and closes[0]["appkey"] == ident
        vols = [e["acml_vol"] for e in history if e["kind"] == "data"]
        assert vols == sorted(vols) and vols[:3] == [100, 101, 102]
        assert any(e["kind"] == "ack" and e["code"] == "OPSP8996" for e in history)
        assert any(e["kind"] == "oauth" and e["call"] == "approval" and e["status"] == 200 for e in history)
        assert APPKEY not in json.dumps(history)
        assert kis.history("mock") == history


def test_the_bundled_100_symbol_tape_keeps_acml_vol_growing_per_symbol() -> None:
    from fakekis.tape.format import bundled

    rec = tape.load(bundled("synthetic-100-symbols"))
    subs = {key for _, key in rec.subscriptions}
    assert len(subs) == 100
    last: dict[str, int] = {}
    seen: set[str] = set()
    for f in rec.data_frames():
        parsed = frames.parse_data_frame(f.text)
        assert parsed is not None
        for r in parsed.records():
            vol = int(r[13])
            assert vol > last.get(r[0], 0), f"{r[0]}: acml_vol {vol} after {last.get(r[0])}"
            last[r[0]] = vol
            seen.add(r[0])
    assert seen == subs
