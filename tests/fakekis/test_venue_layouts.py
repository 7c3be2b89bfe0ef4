"""The market-day TRs' layouts against the documented field lists (docs/kis/endpoints.md §C2-§C5, typed
here again from the docs, not derived from either table) and against the real doc examples both sides must
name (kisreal-075 H0STANC0, kisreal-077 H0STMKO0).

What it catches: a field dropped, renamed or moved in one TR's table (a price read from the volume's
place), the unified book's extra field on the wrong day, and a doc example one side cannot name.
"""

from __future__ import annotations

from datetime import date

import pytest

from conftest import real_frames
from fakekis.wire import layouts as fk
from gateway import codec

TRADE_45 = (
    "MKSC_SHRN_ISCD STCK_CNTG_HOUR STCK_PRPR PRDY_VRSS_SIGN PRDY_VRSS PRDY_CTRT WGHN_AVRG_STCK_PRC STCK_OPRC "
    "STCK_HGPR STCK_LWPR ASKP1 BIDP1 CNTG_VOL ACML_VOL ACML_TR_PBMN SELN_CNTG_CSNU SHNU_CNTG_CSNU NTBY_CNTG_CSNU "
    "CTTR SELN_CNTG_SMTN SHNU_CNTG_SMTN CNTG_CLS_CODE SHNU_RATE PRDY_VOL_VRSS_ACML_VOL_RATE OPRC_HOUR "
    "OPRC_VRSS_PRPR_SIGN OPRC_VRSS_PRPR HGPR_HOUR HGPR_VRSS_PRPR_SIGN HGPR_VRSS_PRPR LWPR_HOUR LWPR_VRSS_PRPR_SIGN "
    "LWPR_VRSS_PRPR BSOP_DATE NEW_MKOP_CLS_CODE TRHT_YN ASKP_RSQN1 BIDP_RSQN1 TOTAL_ASKP_RSQN TOTAL_BIDP_RSQN "
    "VOL_TNRT PRDY_SMNS_HOUR_ACML_VOL PRDY_SMNS_HOUR_ACML_VOL_RATE HOUR_CLS_CODE MRKT_TRTM_CLS_CODE"
).split()
BOOK_59 = (
    ["MKSC_SHRN_ISCD", "BSOP_HOUR", "HOUR_CLS_CODE"]
    + [f"ASKP{i}" for i in range(1, 11)]
    + [f"BIDP{i}" for i in range(1, 11)]
    + [f"ASKP_RSQN{i}" for i in range(1, 11)]
    + [f"BIDP_RSQN{i}" for i in range(1, 11)]
    + "TOTAL_ASKP_RSQN TOTAL_BIDP_RSQN OVTM_TOTAL_ASKP_RSQN OVTM_TOTAL_BIDP_RSQN ANTC_CNPR ANTC_CNQN ANTC_VOL "
    "ANTC_CNTG_VRSS ANTC_CNTG_VRSS_SIGN ANTC_CNTG_PRDY_CTRT ACML_VOL TOTAL_ASKP_RSQN_ICDC TOTAL_BIDP_RSQN_ICDC "
    "OVTM_TOTAL_ASKP_ICDC OVTM_TOTAL_BIDP_ICDC STCK_DEAL_CLS_CODE".split()
)
MIDS = ["KMID_PRC", "KMID_TOTAL_RSQN", "KMID_CLS_CODE", "NMID_PRC", "NMID_TOTAL_RSQN", "NMID_CLS_CODE"]
MKO = (
    "MKSC_SHRN_ISCD TRHT_YN TR_SUSP_REAS_CNTT MKOP_CLS_CODE ANTC_MKOP_CLS_CODE MRKT_TRTM_CLS_CODE "
    "DIVI_APP_CLS_CODE ISCD_STAT_CLS_CODE VI_CLS_CODE OVTM_VI_CLS_CODE"
).split()
BEFORE, NXT, AFTER = date(2025, 3, 3), date(2025, 3, 4), date(2026, 9, 14)
DOCUMENTED = [
    ("H0STANC0", BEFORE, TRADE_45),
    ("H0STANC0", NXT, [*TRADE_45, "DUMMY"]),
    ("H0STMKO0", AFTER, MKO),
    ("H0NXCNT0", BEFORE, [*TRADE_45, "VI_STND_PRC"]),
    ("H0UNCNT0", AFTER, [*TRADE_45, "VI_STND_PRC", "MARKET_CLS_CODE"]),
    ("H0NXASP0", AFTER, [*BOOK_59, *MIDS]),
    ("H0UNASP0", date(2026, 9, 13), [*BOOK_59, *MIDS]),
    ("H0UNASP0", AFTER, [*BOOK_59, *MIDS, "ANTC_EXCH_CLS_CODE"]),
]


@pytest.mark.parametrize(("tr_id", "day", "names"), DOCUMENTED, ids=lambda v: str(v)[:10])
def test_layout_is_the_documented_field_list(tr_id: str, day: date, names: list[str]) -> None:
    assert list(fk.layout(tr_id, day).names) == names


@pytest.mark.parametrize(
    ("capture", "tr_id", "want"),
    [
        (
            "kisreal-075",
            "H0STANC0",
            {
                "STCK_PRPR": "77600",
                "ACML_VOL": "221986",
                "HOUR_CLS_CODE": "B",
                "NEW_MKOP_CLS_CODE": "00",
                "MRKT_TRTM_CLS_CODE": "",
            },
        ),
        (
            "kisreal-077",
            "H0STMKO0",
            {
                "TR_SUSP_REAS_CNTT": "(null)",
                "ANTC_MKOP_CLS_CODE": "311",
                "ISCD_STAT_CLS_CODE": "55",
                "VI_CLS_CODE": "N",
            },
        ),
    ],
)
def test_both_sides_name_the_doc_examples(capture: str, tr_id: str, want: dict[str, str]) -> None:
    text = next(e["text"] for e in real_frames() if e["id"] == capture)
    ev = codec.decode(text)
    assert isinstance(ev, codec.Frame) and ev.error is None and ev.tr_id == tr_id
    theirs = ev.named(0)
    assert fk.named(tr_id, text.split("|")[3].split("^")) == theirs
    assert {k: theirs[k] for k in want} == want
    # the expected-trade example is the whole auction in price x volume (§C2)
    if tr_id == "H0STANC0":
        assert int(theirs["ACML_TR_PBMN"]) == int(theirs["ACML_VOL"]) * int(theirs["STCK_PRPR"])
