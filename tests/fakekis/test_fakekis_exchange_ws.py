"""fakekis's exchange rules (docs/kis/protocol.md §4.3, §4.7), through the sans-I/O core: no sockets, no time."""

from __future__ import annotations

import json

import pytest

from fakekis.exchange.actions import Drop, Reply, encode
from fakekis.exchange.auth import Registry
from fakekis.exchange.sessions import Exchange
from gateway.session import subscribe_message

pytestmark = pytest.mark.ws


def _exchange(**kw) -> tuple[Exchange, str]:
    reg = Registry("mock")
    key = reg.issue_approval(
        {"grant_type": "client_credentials", "appkey": "A" * 36, "secretkey": "s" * 180}
    )[1]["approval_key"]
    return Exchange(reg, **kw), str(key)


def _body(action) -> dict:
    assert isinstance(action, Reply)
    return json.loads(encode(action))


def test_subscribe_ack_duplicate_unsubscribe_and_unknown_unsubscribe() -> None:
    ex, key = _exchange()
    s = ex.open()
    ack = _body(s.receive(subscribe_message(key, "H0STCNT0", "005930"))[0])
    assert ack["header"] == {"tr_id": "H0STCNT0", "tr_key": "005930", "encrypt": "N"}
    assert ack["body"]["msg_cd"] == "OPSP0000" and ack["body"]["rt_cd"] == "0"
    iv, k = ack["body"]["output"]["iv"], ack["body"]["output"]["key"]
    assert len(iv) == 16 and all(c in "0123456789abcdef" for c in iv)
    assert len(k) == 32 and k.isalpha() and k.islower()
    dup = _body(s.receive(subscribe_message(key, "H0STCNT0", "005930"))[0])["body"]
    assert (dup["rt_cd"], dup["msg_cd"], dup["msg1"]) == ("1", "OPSP0002", "ALREADY IN SUBSCRIBE")
    off = _body(s.receive(subscribe_message(key, "H0STCNT0", "005930", register=False))[0])["body"]
    assert (off["rt_cd"], off["msg_cd"]) == ("0", "OPSP0001")
    gone = _body(s.receive(subscribe_message(key, "H0STCNT0", "005930", register=False))[0])["body"]
    assert (gone["rt_cd"], gone["msg_cd"], gone["msg1"]) == ("1", "OPSP0003", "UNSUBSCRIBE ERROR(not found!)")


def test_the_42nd_registration_is_refused_and_the_connection_kept() -> None:
    ex, key = _exchange()
    s = ex.open()
    codes = [
        _body(s.receive(subscribe_message(key, "H0STCNT0", f"{i:06d}"))[0])["body"]["msg_cd"]
        for i in range(42)
    ]
    assert codes[:41] == ["OPSP0000"] * 41 and codes[41] == "OPSP0008"
    assert s.open and len(s.subscriptions) == 41


def test_unknown_approval_key_is_refused_then_dropped() -> None:
    ex, _ = _exchange()
    out = ex.open().receive(subscribe_message("no-such-key", "H0STCNT0", "005930"))
    assert _body(out[0])["body"]["msg_cd"] == "OPSP0011" and isinstance(out[1], Drop)


def test_second_session_on_one_appkey_gets_opsp8996_then_dropped() -> None:
    ex, key = _exchange()
    first, second = ex.open(), ex.open()
    first.receive(subscribe_message(key, "H0STCNT0", "005930"))
    out = second.receive(subscribe_message(key, "H0STCNT0", "005930"))
    assert _body(out[0]) == {
        "header": {"tr_id": "(null)", "tr_key": "", "encrypt": "N"},
        "body": {"rt_cd": "9", "msg_cd": "OPSP8996", "msg1": "ALREADY IN USE appkey"},
    }
    assert isinstance(out[1], Drop)
    ex.closed(second)
    ex.closed(first)  # the appkey is free again once its owner is gone
    third = ex.open()
    assert (
        _body(third.receive(subscribe_message(key, "H0STCNT0", "005930"))[0])["body"]["msg_cd"] == "OPSP0000"
    )


def test_parse_errors_are_rt_cd_9_and_keep_the_connection() -> None:
    ex, key = _exchange()
    s = ex.open()
    for text, code in [
        ("hello", "OPSP9999"),
        ("{}", "OPSP9998"),
        ('{"header":{}}', "OPSP9992"),
        ('{"header":{},"body":{}}', "OPSP9991"),
        (
            '{"header":{"custtype":"P","tr_type":"7"},"body":{"input":{"tr_id":"H0STCNT0","tr_key":"1"}}}',
            "OPSP8997",
        ),
    ]:
        out = s.receive(text)
        assert len(out) == 1, text
        body = _body(out[0])
        assert (
            body["header"]["tr_id"] == "" and body["body"]["rt_cd"] == "9" and body["body"]["msg_cd"] == code
        )
    assert _body(s.receive(subscribe_message(key, "H0STCNT0", "005930"))[0])["body"]["msg_cd"] == "OPSP0000"


def test_pingpong_echo_is_accepted_silently() -> None:
    ex, _ = _exchange()
    assert ex.open().receive('{"header":{"tr_id":"PINGPONG","datetime":"20261125090000"}}') == []
    assert ex.stats.ping_echoes == 1 and ex.stats.parse_errors == 0


def test_data_goes_only_to_acked_registrations() -> None:
    ex, key = _exchange()
    a = ex.open()
    a.receive(subscribe_message(key, "H0STCNT0", "005930"))
    assert ex.route("H0STCNT0", "005930") == [a]
    ex.sent(a, 2)
    assert ex.route("H0STCNT0", "000660") == [] and ex.route("H0STASP0", "005930") == []
    a.receive(subscribe_message(key, "H0STCNT0", "005930", register=False))
    assert ex.route("H0STCNT0", "005930") == []
    assert ex.stats.frames_sent == 1 and ex.stats.records_sent == 2
