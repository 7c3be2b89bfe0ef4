"""Both sides against the real KIS messages in tests/data/real-frames.jsonl (copied from the captures described in docs/kis/real-frames.md).

Gateway: every WebSocket message decodes to its hand-read `expected` values, malformed ones are
reported without losing the well-formed records around them. fakekis: its encoder produces byte-
identical text for the same content, so the fake speaks the real wire format, not its own dialect.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import real_frames
from fakekis.wire import frames as fk
from gateway import codec

pytestmark = pytest.mark.ws

FRAMES = real_frames()
WS = [f for f in FRAMES if f["kind"].startswith("ws ")]
# The ack that came with the captured encrypted fill notice (kisreal-027's note gives its key/iv).
CNI_KEYS = {"H0STCNI0": ("ymmahjojvrgbvmgfnmiuqhvnavgygpzg", "71430b89402b6e40")}

# expected-key -> H0STCNT0 field name
CNT_NAMES = {
    "symbol": "MKSC_SHRN_ISCD",
    "time": "STCK_CNTG_HOUR",
    "price": "STCK_PRPR",
    "sign": "PRDY_VRSS_SIGN",
    "change": "PRDY_VRSS",
    "change_rate": "PRDY_CTRT",
    "acml_vol": "ACML_VOL",
    "bsop_date": "BSOP_DATE",
}
ASP_NAMES = {
    "symbol": "MKSC_SHRN_ISCD",
    "time": "BSOP_HOUR",
    "hour_cls_code": "HOUR_CLS_CODE",
    "askp1": "ASKP1",
    "bidp1": "BIDP1",
    "askp_rsqn1": "ASKP_RSQN1",
    "bidp_rsqn1": "BIDP_RSQN1",
    "total_askp_rsqn": "TOTAL_ASKP_RSQN",
    "total_bidp_rsqn": "TOTAL_BIDP_RSQN",
    "acml_vol": "ACML_VOL",
}
# TRs the gateway does not name: expected-key -> field index, from the official column lists.
INDEX = {
    "HDFSCNT0": {
        "rsym": 0,
        "symbol": 1,
        "zdiv": 2,
        "local_date": 4,
        "local_time": 5,
        "kr_date": 6,
        "kr_time": 7,
        "last": 11,
        "sign": 12,
        "diff": 13,
        "rate": 14,
        "evol": 19,
        "tvol": 20,
    },
    "H0UPCNT0": {
        "index_code": 0,
        "time": 1,
        "value": 2,
        "sign": 3,
        "change": 4,
        "acml_vol": 5,
        "change_rate": 9,
    },
    "H0IFCNT0": {
        "symbol": 0,
        "time": 1,
        "prdy_vrss": 2,
        "sign": 3,
        "prdy_ctrt": 4,
        "price": 5,
        "last_cnqn": 9,
        "acml_vol": 10,
    },
    "HDFSASP0": {
        "rsym": 0,
        "symbol": 1,
        "local_time": 4,
        "kr_time": 6,
        "pbid1": 11,
        "pask1": 12,
        "vbid1": 13,
        "vask1": 14,
    },
}


def _ids(frames: list[dict]) -> list[str]:
    return [f["id"] for f in frames]


@pytest.mark.parametrize(
    "entry",
    [f for f in WS if f["kind"].startswith("ws data")],
    ids=_ids([f for f in WS if f["kind"].startswith("ws data")]),
)
def test_gateway_decodes_every_real_data_frame(entry: dict) -> None:
    exp = entry["expected"]
    ev = codec.decode(entry["text"], CNI_KEYS)
    assert isinstance(ev, codec.Frame), ev
    assert ev.encrypted is exp["encrypted"]
    assert ev.tr_id == entry["tr_id"]
    assert ev.declared == exp["records_declared"]
    if exp["encrypted"]:
        summary = exp["decrypted_summary"]
        assert ev.width == summary["plaintext_fields"] and ev.count == 1
        named = ev.named(0)
        for key, value in summary.items():
            if key.isupper():
                assert named[key] == value, key
        return
    truncated = entry.get("truncated") and exp.get("fields_per_record") is None
    if not truncated:
        assert len(ev.fields) == exp["fields_total"]
        assert ev.error is None
        assert ev.count == exp["records_declared"]
    tr = entry["tr_id"]
    records = exp.get("records") or [exp]
    if tr in ("H0STCNT0", "H0STASP0"):
        names = CNT_NAMES if tr == "H0STCNT0" else ASP_NAMES
        whole = [r for i, r in enumerate(records) if i < ev.count]
        for i, want in enumerate(whole):
            got = ev.named(i)
            for key, field in names.items():
                if key in want:
                    assert got[field] == want[key], (i, key)
        if tr == "H0STCNT0" and not truncated:
            assert ev.width == exp["fields_per_record"]
    elif tr in INDEX:
        for i, want in enumerate(records):
            rec = ev.record(i)
            for key, idx in INDEX[tr].items():
                if key in want:
                    assert rec[idx] == want[key], (i, key)
    else:  # generic TRs: the record splits and its first two fields are the documented key and next field
        rec = ev.record(0)
        assert rec[0] == exp["key"] and rec[1] == exp["second_field"]


def test_truncated_multi_record_frame_keeps_the_whole_record_and_reports_the_rest() -> None:
    entry = next(f for f in FRAMES if f["id"] == "kisreal-003")
    ev = codec.decode(entry["text"])
    assert isinstance(ev, codec.Frame)
    assert ev.count == 1 and ev.width == 46
    assert ev.named(0)["STCK_PRPR"] == entry["expected"]["records"][0]["price"]
    assert ev.error and "truncated" in ev.error


def test_count_smaller_than_the_records_inside_recovers_all_of_them() -> None:
    entry = next(f for f in FRAMES if f["id"] == "kisreal-005")  # 3 records under a header saying 001
    text = entry["text"].replace("|003|", "|001|", 1)
    ev = codec.decode(text)
    assert isinstance(ev, codec.Frame)
    assert ev.count == 3 and ev.width == 46 and ev.error
    assert [ev.named(i)["STCK_PRPR"] for i in range(3)] == [r["price"] for r in entry["expected"]["records"]]


@pytest.mark.parametrize(
    "entry",
    [f for f in WS if f["kind"] in ("ws ack", "ws error")],
    ids=_ids([f for f in WS if f["kind"] in ("ws ack", "ws error")]),
)
def test_gateway_decodes_acks_and_errors(entry: dict) -> None:
    exp = entry["expected"]
    ev = codec.decode(entry["text"])
    assert isinstance(ev, codec.Control)
    assert (ev.rt_cd, ev.msg_cd, ev.msg1) == (exp["rt_cd"], exp["msg_cd"], exp["msg1"])
    assert ev.tr_id == exp["header"].get("tr_id", "")
    if "output" in exp:
        assert (ev.iv, ev.key) == (exp["output"]["iv"], exp["output"]["key"])


@pytest.mark.parametrize(
    "entry",
    [f for f in WS if f["kind"] == "ws pingpong"],
    ids=_ids([f for f in WS if f["kind"] == "ws pingpong"]),
)
def test_gateway_decodes_pingpong(entry: dict) -> None:
    ev = codec.decode(entry["text"])
    assert isinstance(ev, codec.PingPong)
    assert ev.datetime == entry["expected"]["header"]["datetime"] and ev.text == entry["text"]


def test_encrypted_frame_before_its_key_is_an_error_not_a_crash() -> None:
    entry = next(f for f in FRAMES if f["id"] == "kisreal-027")
    ev = codec.decode(entry["text"])
    assert isinstance(ev, codec.DecodeError) and "before its key" in ev.reason


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "0|H0STCNT0",
        "0|H0STCNT0|abc|1^2",
        "{not json",
        "[]",
        '{"header":{"tr_id":"H0STCNT0"}}',
        "0|H0STCNT0|002|a^b^c",
    ],
)
def test_garbage_is_a_decode_error(text: str) -> None:
    assert isinstance(codec.decode(text), codec.DecodeError)


# -- fakekis's encoder speaks the same bytes ------------------------------------------------


def _split(text: str) -> tuple[str, str, str, list[str]]:
    flag, tr, count, payload = text.split("|", 3)
    return flag, tr, count, payload.split("^")


@pytest.mark.parametrize(
    "entry",
    [
        f
        for f in WS
        if f["kind"] == "ws data frame"
        and not f.get("truncated")
        and f["expected"].get("count_field", "").isdigit()
        and len(f["expected"]["count_field"]) == 3
    ],
    ids=lambda f: f["id"],
)
def test_fakekis_encodes_real_data_frames_byte_for_byte(entry: dict) -> None:
    _, tr, count, fields = _split(entry["text"])
    n = int(count)
    width = len(fields) // n
    records = [fields[i * width : (i + 1) * width] for i in range(n)]
    assert fk.data_frame(tr, records) == entry["text"]


@pytest.mark.parametrize(
    "entry",
    [
        f
        for f in WS
        if f["kind"] in ("ws ack", "ws error", "ws pingpong")
        and f["text"].startswith('{"header":{"tr_id"')
        and '"encrypt"' in f["text"]
        or f["kind"] == "ws pingpong"
    ],
    ids=lambda f: f["id"],
)
def test_fakekis_encodes_real_control_messages_byte_for_byte(entry: dict) -> None:
    msg = json.loads(entry["text"])
    h = msg["header"]
    if h["tr_id"] == "PINGPONG":
        assert fk.pingpong(h["datetime"]) == entry["text"]
        return
    b = msg["body"]
    assert (
        fk.control(h["tr_id"], h["tr_key"], b["rt_cd"], b["msg_cd"], b["msg1"], b.get("output"), h["encrypt"])
        == entry["text"]
    )


def test_fakekis_session_error_matches_the_real_opsp8996() -> None:
    entry = next(f for f in FRAMES if f["id"] == "kisreal-047")
    assert fk.session_error("OPSP8996", "ALREADY IN USE appkey") == entry["text"]


def test_fakekis_encryption_matches_the_protocol_test_vector_and_the_gateway_decrypts_it() -> None:
    # docs/kis/protocol.md §9.6: the official doc's placeholder key/iv and a 26-field fill notice.
    key, iv = "abcdefghijklmnopabcdefghijklmnop", "0123456789abcdef"
    plain = (
        "myhtsid^5012345601^0000012345^^02^0^00^0^005930^0000000010^000071600^101523^0^2^2^06010^000000010"
        "^홍길동^^1^Y^^^^삼성전자^000071600"
    )
    text = fk.encrypted_frame("H0STCNI9", [plain.split("^")], key, iv)
    assert text == (
        "1|H0STCNI9|001|gu6CjMn4TYo8BdIgWOVxHxgxg7QkrpmJT6MVe5GccB5QtE3XMNsW3OHxqOD47C15T7uGWIKqkmD4+NyQ"
        "HHAB/tRuaTp3/saqzrwhHdtz7XxbBPdN6s9WB5v4Kh2XTkPf9RJSeMbzDF3OPs4uDnVvFhYAaLkM4TYDU0Oqj8vLREhb5XH3"
        "prmnttSnsEVMDW61"
    )
    ev = codec.decode(text, {"H0STCNI9": (key, iv)})
    assert isinstance(ev, codec.Frame) and ev.width == 26
    assert ev.named(0)["CNTG_ISNM40"] == "삼성전자" and ev.named(0)["CNTG_QTY"] == "0000000010"


# -- the decode CLI -----------------------------------------------------------------------


def test_decode_cli_over_all_real_messages() -> None:
    key, iv = CNI_KEYS["H0STCNI0"]
    cni_ack = fk.control("H0STCNI0", "x", "0", "OPSP0000", "SUBSCRIBE SUCCESS", {"iv": iv, "key": key})
    lines = [cni_ack] + [f["text"] for f in WS] + ["garbage line"]
    proc = subprocess.run(
        [sys.executable, "-m", "gateway", "decode"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    records = [o for o in out if o.get("type") == "record"]
    expected_records = sum(
        min(
            int(f["expected"].get("records_actual") or f["expected"]["records_declared"]),
            f["expected"]["records_declared"],
        )
        for f in WS
        if f["kind"].startswith("ws data")
    )
    assert len(records) == expected_records
    errors = [o for o in out if "error" in o]
    assert any(e["line"] == len(lines) for e in errors)  # the garbage line, named by number
    assert any("truncated" in e["error"] for e in errors)  # kisreal-003
    fill = next(o for o in records if o["tr_id"] == "H0STCNI0")
    assert fill["fields"]["ACNT_NO"] == "***" and fill["fields"]["CUST_ID"] == "***"  # no personal data out
    assert sum(o.get("type") == "pingpong" for o in out) == sum(f["kind"] == "ws pingpong" for f in WS)
