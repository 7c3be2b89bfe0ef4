"""`kis-gateway decode` never prints an HTS ID or an account number from a fill notice (issue #12):
not for the domestic layout it knows by name, not for the overseas/futures notices or a CNI TR it has
never seen, not in the ack's tr_key, not when the notice is plaintext, repeated, multi-record or broken.
Canary values are fed through the real CLI entry (`gateway.cli.main`)."""

from __future__ import annotations

import io
import json
import sys

import pytest

from fakekis.wire import frames as fk
from gateway.cli import main

HTS = "canaryhts77"
ACCOUNT = "7788990011"  # CANO 77889900 + product 11
NAME = "카나리아홍길동"
KEY, IV = "abcdefghijklmnopabcdefghijklmnop", "0123456789abcdef"
CANARIES = (HTS, ACCOUNT, ACCOUNT[:8])  # in every notice; the account name where the layout is known
NOTICE_TRS = ["H0STCNI0", "H0STCNI9", "H0GSCNI0", "H0GSCNI9", "H0IFCNI0", "H0IFCNI9", "H0ZZCNI7"]


def notice(width: int = 26) -> list[str]:
    rec = [
        HTS,
        ACCOUNT,
        "0000012345",
        "",
        "02",
        "0",
        "00",
        "0",
        "005930",
        "0000000010",
        "000071600",
        "101523",
    ]
    rec += ["0"] * (width - len(rec))
    if width >= 18:
        rec[17] = NAME
    rec[-1] = f"memo {ACCOUNT[:8]} {HTS}"  # the same values repeated in a free-text field
    return rec


def decode(lines: list[str], monkeypatch: pytest.MonkeyPatch) -> str:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(line + "\n" for line in lines)))
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["decode"]) == 0
    return out.getvalue()


@pytest.mark.parametrize("tr_id", NOTICE_TRS)
def test_no_notice_prints_an_hts_id_or_account(tr_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KIS_ACCOUNT_NO", "KIS_CANO", "KIS_APP_KEY", "KIS_APP_SECRET"):
        monkeypatch.delenv(name, raising=False)
    lines = [
        fk.control(tr_id, HTS, "0", "OPSP0000", "SUBSCRIBE SUCCESS", {"iv": IV, "key": KEY}),
        fk.encrypted_frame(tr_id, [notice()], KEY, IV),
        fk.encrypted_frame(tr_id, [notice(), notice()], KEY, IV),
        fk.encrypted_frame(tr_id, [notice(23)], KEY, IV),
        fk.data_frame(tr_id, [notice()]),  # a notice already decrypted, pasted in
        fk.data_frame(tr_id, [notice()])[:-7],  # ... and truncated: an error line
        fk.data_frame(tr_id, [notice()]).replace("|001|", "|007|"),  # a count that does not fit
        fk.control(tr_id, HTS, "1", "OPSP0017", "ERROR : htsid " + HTS),
    ]
    out = decode(lines, monkeypatch)
    objs = [json.loads(line) for line in out.splitlines()]
    records = [o for o in objs if o.get("type") == "record"]
    assert len(records) >= 5, out  # the notices were decoded, not just dropped
    assert all(r["fields"].get("STCK_SHRN_ISCD", r["fields"].get("FIELD_8")) == "005930" for r in records), (
        out
    )
    for canary in CANARIES + ((NAME,) if tr_id in ("H0STCNI0", "H0STCNI9") else ()):
        assert canary not in out, (canary, out)


def test_configured_secrets_are_masked_in_any_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """An account number in KIS_ACCOUNT_NO is masked even where no notice layout would find it."""
    monkeypatch.setenv("KIS_ACCOUNT_NO", "12345678-01")
    out = decode(
        [
            '{"header":{"tr_id":"H0STCNT0","tr_key":"005930"},"body":{"rt_cd":"1",'
            '"msg_cd":"OPSP0011","msg1":"account 12345678 refused"}}'
        ],
        monkeypatch,
    )
    assert "12345678" not in out and "OPSP0011" in out
