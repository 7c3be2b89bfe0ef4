"""The scrubber, called directly: a learned secret leaves no trace in any spelling a client or server may
give it (JSON escapes of any mix, percent-encoding, base64), short secrets go in their own fields only,
and fill notices are kept readable only under the recording's own key, with the customer fields gone."""

from __future__ import annotations

import base64
import json
import string

from hypothesis import given
from hypothesis import strategies as st

from fakekis.wire import frames
from fakekis.wire.scrub import Scrubber, decrypt, is_notice_tr

KEY, IV = "abcdefghijklmnopabcdefghijklmnop", "0123456789abcdef"  # the protocol's test-vector placeholders
HTS, ACCOUNT, NAME = "canaryhts", "7319004201", "홍카나리"
NOTICE = [HTS, ACCOUNT, "0000012345", "", "02", "0", "00", "0", "005930", "0000000010", "000071600"]
NOTICE += [
    "101523",
    "0",
    "2",
    "2",
    "06010",
    "000000010",
    NAME,
    "",
    "1",
    "Y",
    "",
    "",
    "",
    "삼성전자",
    "000071600",
]
SECRET_CHARS = string.ascii_letters + string.digits + "+/=-_.~"


def _spellings(secret: str, picks: list[int]) -> str:
    """`secret` written as a JSON encoder might: each character verbatim, \\uXXXX (either case) or \\/."""
    out = []
    for c, pick in zip(secret, picks, strict=False):
        if pick == 1:
            out.append(f"\\u{ord(c):04x}")
        elif pick == 2:
            out.append(f"\\u{ord(c):04X}")
        elif pick == 3 and c == "/":
            out.append("\\/")
        else:
            out.append(c)
    return "".join(out)


@given(
    secret=st.text(SECRET_CHARS, min_size=1, max_size=40),
    picks=st.lists(st.integers(0, 3), min_size=40, max_size=40),
    field=st.sampled_from(["appsecret", "appkey", "secretkey", "access_token", "approval_key", "CANO"]),
)
def test_a_secret_field_is_scrubbed_however_its_json_escapes_it(
    secret: str, picks: list[int], field: str
) -> None:
    # "n" is empty so that it can never equal the secret (min_size=1): 'x' did, and failed the check below
    body = '{"grant_type":"client_credentials","' + field + '":"' + _spellings(secret, picks) + '","n":""}'
    s = Scrubber()
    out = s.json_text(body)
    assert json.loads(out)[field].startswith("REDACTED")
    assert secret not in json.loads(out).values()
    if len(secret) >= 4:  # long enough to be replaced in free text too: any spelling, anywhere
        other = f"echo {_spellings(secret, picks[::-1])} and {secret} end"
        assert secret not in s(other) and _spellings(secret, picks[::-1]) not in s(other)


def test_percent_and_base64_spellings_are_scrubbed() -> None:
    secret = "PSab+c/d=EFGHIJKLMNOP1234"
    s = Scrubber()
    s.learn(secret, "appkey")
    for text in (
        "?appkey=PSab%2Bc%2Fd%3DEFGHIJKLMNOP1234&x=1",
        "?appkey=PSab%2bc%2fd%3dEFGHIJKLMNOP1234",
        "Basic " + base64.b64encode(f"{secret}:pw".encode()).decode(),
        "Basic " + base64.b64encode(f"x{secret}".encode()).decode(),
        "Basic " + base64.b64encode(f"xy{secret}yy".encode()).decode(),
    ):
        out = s(text)
        assert "EFGHIJKLMNOP" not in out and out != text, text
        for pad in range(3):
            assert base64.b64encode(b"\0" * pad + secret.encode()).decode()[4:-4] not in out


def test_short_secrets_are_scrubbed_in_their_fields_only() -> None:
    s = Scrubber()
    body = '{"CANO":"7","ACNT_PRDT_CD":"01","tr_key":"005930","sign":"01","price":"77000"}'
    out = json.loads(s.json_text(body))
    assert out["CANO"].startswith("REDACTED") and out["ACNT_PRDT_CD"].startswith("REDACTED")
    assert (out["sign"], out["price"], out["tr_key"]) == (
        "01",
        "77000",
        "005930",
    )  # "7" and "01" elsewhere stay
    assert s.query("https://kis/x?CANO=7&ACNT_PRDT_CD=01&FID_COND=01") == (
        "https://kis/x?CANO=REDACTEDACCOUNT1&ACNT_PRDT_CD=REDACTEDACCOUNTPRODUCT1&FID_COND=01"
    )
    assert s.pairs([("appkey", "k"), ("custtype", "P")]) == [("appkey", "REDACTEDAPPKEY1"), ("custtype", "P")]


def _ack(tr_id: str, encrypt: str = "Y") -> str:
    return frames.control(tr_id, HTS, "0", "OPSP0000", "SUBSCRIBE SUCCESS", {"iv": IV, "key": KEY}, encrypt)


def test_a_recorded_notice_reads_only_under_the_recordings_own_key_and_names_nobody() -> None:
    s = Scrubber()
    sub = '{"header":{"approval_key":"a-approval-key-1234","custtype":"P","tr_type":"1"},'
    sub += '"body":{"input":{"tr_id":"H0STCNI9","tr_key":"' + HTS + '"}}}'
    kept = [s.ws(sub, "send"), s.ws(_ack("H0STCNI9"), "recv")]
    kept.append(s.ws(frames.encrypted_frame("H0STCNI9", [NOTICE, NOTICE], KEY, IV), "recv"))
    blob = "\n".join(kept)
    assert KEY not in blob and IV not in blob and HTS not in blob  # the real key/iv never kept
    output = json.loads(kept[1])["body"]["output"]
    kind, tr_id, count, payload = kept[2].split("|")
    assert (kind, tr_id, count) == ("1", "H0STCNI9", "002")
    assert decrypt(payload, KEY, IV) is None  # the real key no longer reads it...
    plain = decrypt(payload, output["key"], output["iv"])  # ...the recorded ack's key does
    assert plain is not None
    fields = plain.split("^")
    assert len(fields) == 2 * len(NOTICE)
    for secret in (HTS, ACCOUNT, ACCOUNT[:8], NAME):
        assert secret not in plain
    assert fields[8] == "005930" and fields[26 + 10] == "000071600"  # the trade itself survives
    assert fields[0] == json.loads(kept[0])["body"]["input"]["tr_key"]  # one pseudonym throughout
    assert s.notices_rewritten == 1


def test_a_notice_that_cannot_be_read_is_not_kept() -> None:
    s = Scrubber()
    frame = frames.encrypted_frame("H0STCNI0", [NOTICE], KEY, IV)
    assert s.ws(frame, "recv", conn=0) == "1|H0STCNI0|001|"  # no ack with its key seen on this connection
    s.ws(_ack("H0STCNI0"), "recv", conn=1)
    assert s.ws(frame, "recv", conn=2) == "1|H0STCNI0|001|"  # keys are per connection
    assert s.notices_dropped == 2


def test_every_notice_like_tr_is_secret_bearing() -> None:
    for tr_id in ("H0STCNI0", "H0STCNI9", "H0GSCNI0", "H0IFCNI0", "H0IFCNI9", "H0XXCNI5"):
        assert is_notice_tr(tr_id), tr_id
        s = Scrubber()
        kept = s.ws(frames.data_frame(tr_id, [NOTICE]), "recv")  # even sent in clear
        assert HTS not in kept and ACCOUNT not in kept and NAME not in kept, tr_id
    assert not is_notice_tr("H0STCNT0")
    s = Scrubber()  # an unknown TR whose ack says encrypt "Y": its tr_key is an HTS ID, its frames notices
    s.ws(_ack("H0ZZZZZ0", "Y"), "recv")
    assert HTS not in s.ws(frames.data_frame("H0ZZZZZ0", [NOTICE]), "recv")
    assert s("free text naming canaryhts") == "free text naming " + s.pseudonyms[HTS]


def test_quote_frames_pass_unchanged() -> None:
    s = Scrubber()
    s.learn("PSCANARYKEY123456", "appkey")
    frame = frames.data_frame("H0STCNT0", [["005930", "093354", "71900"] + ["0"] * 43])
    assert s.ws(frame, "recv") == frame
