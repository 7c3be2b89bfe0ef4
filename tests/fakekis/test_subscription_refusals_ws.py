"""Subscriptions KIS refuses (protocol.md §4.3, §5.4) and the PINGPONG deadline (§4.4, F3), through the
sans-I/O exchange: no sockets, time only as the numbers passed in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fakekis.exchange.actions import Action, Drop, Reply, encode
from fakekis.exchange.auth import Registry
from fakekis.exchange.sessions import Exchange
from fakekis.exchange.trs import TRS, Key, Status, status
from gateway.session import subscribe_message

pytestmark = pytest.mark.ws


def _exchange(env: str = "mock", **kw: Any) -> tuple[Exchange, str]:
    reg = Registry(env)
    key = reg.issue_approval(
        {"grant_type": "client_credentials", "appkey": "A" * 36, "secretkey": "s" * 180}
    )[1]["approval_key"]
    return Exchange(reg, **kw), str(key)


def _answer(env: str, tr_id: str, tr_key: str, **kw: Any) -> tuple[dict[str, Any], list[Action]]:
    ex, key = _exchange(env, **kw)
    s = ex.open()
    actions = s.receive(subscribe_message(key, tr_id, tr_key))
    assert isinstance(actions[0], Reply)
    return json.loads(encode(actions[0])), actions[1:]


def _code(msg: dict[str, Any]) -> tuple[str, str, str]:
    return msg["body"]["rt_cd"], msg["body"]["msg_cd"], msg["body"]["msg1"]


@pytest.mark.parametrize("env", ["live", "mock"])
def test_unknown_tr_id_is_refused_with_opsp8991_echoing_the_request(env: str) -> None:
    msg, rest = _answer(env, "BOGUS123", "005930")
    assert _code(msg) == ("1", "OPSP8991", "SUBSCRIBE ERROR : invalid tr_id")
    assert msg["header"]["tr_id"] == "BOGUS123" and "output" not in msg["body"] and rest == []


@pytest.mark.parametrize("env", ["live", "mock"])
@pytest.mark.parametrize("tr_key", ["abc", "", "00593", "0059300", "005930 "])
def test_a_stock_tr_with_a_malformed_code_gets_opsp8993_and_the_socket_stays(env: str, tr_key: str) -> None:
    msg, rest = _answer(env, "H0STCNT0", tr_key)
    assert _code(msg) == ("9", "OPSP8993", "JSON PARSING ERROR : invalid tr_key")
    assert msg["header"]["tr_id"] == "" and rest == []


@pytest.mark.parametrize(("env", "tr_id"), [("live", "H0STCNI0"), ("mock", "H0STCNI9")])
def test_a_wrong_hts_id_gets_opsp0017_then_a_drop(env: str, tr_id: str) -> None:
    msg, rest = _answer(env, tr_id, "someoneelse", hts_id="myhtsid")
    assert _code(msg) == ("9", "OPSP0017", "ERROR : htsid가잘못되었습니다")
    assert msg["header"]["tr_id"] == "(null)" and rest == [Drop("OPSP0017")]


@pytest.mark.parametrize(("env", "tr_id"), [("live", "H0STCNI0"), ("mock", "H0STCNI9")])
def test_any_non_empty_hts_id_is_right_unless_one_is_configured(env: str, tr_id: str) -> None:
    assert _code(_answer(env, tr_id, "anyone")[0])[1] == "OPSP0000"
    assert _code(_answer(env, tr_id, "myhtsid", hts_id="myhtsid")[0])[1] == "OPSP0000"


@pytest.mark.parametrize(
    "tr_id", ["H0STCNI0", "H0NXCNT0", "H0UNCNT0", "H0NXASP0", "H0UNASP0", "H0STANC0", "H0STMKO0"]
)
def test_trs_mock_does_not_serve_are_refused_on_mock_and_acked_on_live(tr_id: str) -> None:
    key = "myhts" if tr_id == "H0STCNI0" else "005930"
    assert _code(_answer("mock", tr_id, key)[0]) == ("9", "OPSP8993", "JSON PARSING ERROR : invalid tr_key")
    assert _code(_answer("live", tr_id, key)[0])[1] == "OPSP0000"


@pytest.mark.parametrize("tr_id", sorted(t for t, tr in TRS.items() if not tr.modelled))
def test_a_tr_kis_serves_but_fakekis_does_not_model_is_refused_like_an_unknown_one(tr_id: str) -> None:
    """Live serves H0STOUP0, H0STPGM0, H0UPCNT0 ...; fakekis has no data for them, so it answers as KIS
    answers an unknown tr_id instead of acking into silence. Mock refuses them as not served first."""
    msg, rest = _answer("live", tr_id, "0001" if TRS[tr_id].key is Key.OTHER else "005930")
    assert _code(msg) == ("1", "OPSP8991", "SUBSCRIBE ERROR : invalid tr_id")
    assert msg["header"] == {"tr_id": tr_id, "tr_key": msg["header"]["tr_key"], "encrypt": "N"}
    assert "output" not in msg["body"] and rest == []
    assert status(tr_id, "live") is Status.NOT_MODELLED and status(tr_id, "mock") is Status.NOT_ON_ENV


def test_the_modelled_trs_are_the_ones_fakekis_has_layouts_for() -> None:
    """A TR marked modelled without a layout would be acked and then carry frames nobody can name."""
    from fakekis.wire import layouts

    modelled = {t for t, tr in TRS.items() if tr.modelled}
    assert modelled - {"H0STCNI0", "H0STCNI9"} == set(layouts.trs())  # notices: encrypted, no table here
    assert {t: status(t, "live") for t in ("H0STCNT0", "H0UNCNT0", "H0STOUP0", "BOGUS")} == {
        "H0STCNT0": Status.SERVED,
        "H0UNCNT0": Status.SERVED,
        "H0STOUP0": Status.NOT_MODELLED,
        "BOGUS": Status.UNKNOWN,
    }


def test_the_mock_fill_notice_tr_is_not_served_on_live() -> None:
    assert _code(_answer("live", "H0STCNI9", "myhts")[0])[1] == "OPSP8993"


def test_mock_serves_exactly_three_realtime_trs() -> None:  # endpoints.md §C0
    assert sorted(t for t, tr in TRS.items() if tr.mock) == ["H0STASP0", "H0STCNI9", "H0STCNT0"]


@pytest.mark.parametrize(
    ("tr_id", "tr_key"), [("BOGUS123", "005930"), ("H0STCNT0", "abc"), ("H0STCNI9", "x"), ("H0NXCNT0", "1")]
)
def test_lenient_acks_everything_well_formed(tr_id: str, tr_key: str) -> None:
    msg, rest = _answer("mock", tr_id, tr_key, lenient=True, hts_id="other")
    assert _code(msg) == ("0", "OPSP0000", "SUBSCRIBE SUCCESS") and rest == []


def test_refusals_are_counted_and_do_not_start_the_replay() -> None:
    ex, key = _exchange("mock")
    s = ex.open()
    s.receive(subscribe_message(key, "BOGUS123", "005930"))
    s.receive(subscribe_message(key, "H0STCNT0", "abc"))
    assert ex.stats.as_dict()["refusals"] == {"OPSP8991": 1, "OPSP8993": 1}
    assert not ex.acked_any and s.subscriptions == []


# -- the PINGPONG deadline -----------------------------------------------------------------------


def test_an_unanswered_pingpong_drops_the_session_at_exactly_the_deadline() -> None:
    ex, _ = _exchange(pingpong_deadline=100)
    s = ex.open(0.0)
    assert ex.deadline(s) is None  # nothing unanswered yet
    for t in range(10, 120, 10):  # PINGPONG every 10 s, never answered: the first one starts the clock
        ex.heartbeat_sent(s, float(t))
    assert ex.deadline(s) == 110.0
    assert ex.due(s, 109.999) == []
    assert ex.due(s, 110.0) == [Drop("pingpong-deadline")]
    assert ex.stats.as_dict()["pingpong_deadline_drops"] == 1


@pytest.mark.parametrize("answer", ["echo", "pong"])
def test_an_answer_resets_the_deadline(answer: str) -> None:
    ex, _ = _exchange(pingpong_deadline=100)
    s = ex.open(0.0)
    ex.heartbeat_sent(s, 10.0)
    if answer == "echo":
        s.receive('{"header":{"tr_id":"PINGPONG","datetime":"20261125090010"}}', 50.0)
    else:
        s.pong_frame(50.0)
    assert ex.deadline(s) is None and ex.due(s, 110.0) == []
    ex.heartbeat_sent(s, 60.0)  # the next unanswered one starts a new deadline
    assert (
        ex.deadline(s) == 160.0 and ex.due(s, 159.0) == [] and ex.due(s, 160.0) == [Drop("pingpong-deadline")]
    )


def test_deadline_zero_is_never() -> None:
    ex, _ = _exchange(pingpong_deadline=0)
    s = ex.open(0.0)
    ex.heartbeat_sent(s, 10.0)
    assert ex.deadline(s) is None and ex.due(s, 1e9) == [] and ex.stats.pingpong_deadline_drops == 0


def test_each_market_day_tr_goes_to_its_own_subscribers_only() -> None:
    """A market-day tape carries eight TRs per symbol: each frame goes to the sessions that registered that
    (tr_id, code), never to a neighbour TR of the same symbol."""
    from fakekis.exchange.actions import Data
    from fakekis.tape.market_day import VENUE_TRS

    ex, _ = _exchange("live")
    sessions = {}
    for tr_id in (tr for trs in VENUE_TRS.values() for tr in trs):
        reg = ex.registry
        key = reg.issue_approval(
            {"grant_type": "client_credentials", "appkey": tr_id.ljust(36, "K"), "secretkey": "s" * 180}
        )[1]["approval_key"]
        s = sessions[tr_id] = ex.open()
        (reply,) = s.receive(subscribe_message(str(key), tr_id, "005930"))
        assert isinstance(reply, Reply) and reply.msg_cd == "OPSP0000", (tr_id, reply)
    for tr_id, session in sessions.items():
        frame = Data(tr_id, 1, f"0|{tr_id}|001|005930^...")
        assert ex.deliver(frame, "005930", 0.0) == [(session, frame)]
        assert ex.deliver(frame, "000660", 0.0) == []


@pytest.mark.parametrize(("env", "tr_id", "flag"), [("live", "H0STCNI0", "Y"), ("mock", "H0STCNI9", "N")])
def test_the_fill_notice_ack_flags_encryption_as_each_environment_does(
    env: str, tr_id: str, flag: str
) -> None:
    # mock "N" as the captured mock ack kisreal-088 (docs/kis/real-frames.md); live "Y" (protocol.md §4.3, INF)
    msg, _ = _answer(env, tr_id, "myhtsid")
    assert msg["header"]["encrypt"] == flag and set(msg["body"]["output"]) == {"iv", "key"}
    assert _answer(env, "H0STCNT0", "005930")[0]["header"]["encrypt"] == "N"
