"""The gateway's table of realtime record layouts by era, for naming fields and telling which
era a frame is in (`kis-gateway decode` prints it as `era`).

The record width itself is always read off the frame (fields / count, gateway/codec.py); this table
only says what the fields are called and which KIS layout a width belongs to. Facts, with their
sources (docs/kis/real-frames.md "Notable oddities" item 1; docs/kis/protocol.md §5.1, §5.2;
docs/kis/endpoints.md §C0, §C4, §C5):

- `H0STCNT0`: 46 fields; 47 from 2026-09-14, the trailing one `MARKET_CLS_CODE` (`2` = regular
  session in every capture). `H0NXCNT0`/`H0UNCNT0` share the columns, #21 named `CNTG_CLS_CODE`
  (docs/kis/endpoints.md §C4; no live NXT or unified frame captured, so their eras are assumed to be
  `H0STCNT0`'s).
- `H0STANC0`: the trade columns 0–44 (#21 `CNTG_CLS_CODE`), 45 fields; 46 with an unused `DUMMY` from the
  NXT launch (assumed: the 2024 example has 45, the 2026 one 46; §C2).
- `H0NXASP0`: 65 (the official sample: the book's 59, `KMID_*`, `NMID_*`; the spec says 62, §C5).
  `H0UNASP0`: the same 65; 66 from 2026-09-14 with `ANTC_EXCH_CLS_CODE` (reported).
- `H0STMKO0`: 10 fields, code first (every example; the documented 11th is never sent, §C3).
- `H0STASP0`: 59 fields before NXT; 62 with `KMID_PRC`, `KMID_TOTAL_RSQN`, `KMID_CLS_CODE` from the
  NXT launch (2025-03-04 assumed: captures only bound it between 2024-10 and 2026-02); 63 from
  2026-09-22. The 63rd field has no capture in tests/data/real-frames.jsonl; the 2026 spec
  transcription names it `MARKET_CLS_CODE` (docs/kis/endpoints.md §C0), and that is the name used here.

A deliberate duplicate of fakekis/wire/layouts.py: the gateway never imports fakekis (a shared table
would hide a shared mistake). tests/project/test_layouts_agree.py checks both against each other and
against the real captures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

_TRADE = (
    "MKSC_SHRN_ISCD STCK_CNTG_HOUR STCK_PRPR PRDY_VRSS_SIGN PRDY_VRSS PRDY_CTRT WGHN_AVRG_STCK_PRC STCK_OPRC "
    "STCK_HGPR STCK_LWPR ASKP1 BIDP1 CNTG_VOL ACML_VOL ACML_TR_PBMN SELN_CNTG_CSNU SHNU_CNTG_CSNU NTBY_CNTG_CSNU "
    "CTTR SELN_CNTG_SMTN SHNU_CNTG_SMTN CCLD_DVSN SHNU_RATE PRDY_VOL_VRSS_ACML_VOL_RATE OPRC_HOUR "
    "OPRC_VRSS_PRPR_SIGN OPRC_VRSS_PRPR HGPR_HOUR HGPR_VRSS_PRPR_SIGN HGPR_VRSS_PRPR LWPR_HOUR LWPR_VRSS_PRPR_SIGN "
    "LWPR_VRSS_PRPR BSOP_DATE NEW_MKOP_CLS_CODE TRHT_YN ASKP_RSQN1 BIDP_RSQN1 TOTAL_ASKP_RSQN TOTAL_BIDP_RSQN "
    "VOL_TNRT PRDY_SMNS_HOUR_ACML_VOL PRDY_SMNS_HOUR_ACML_VOL_RATE HOUR_CLS_CODE MRKT_TRTM_CLS_CODE VI_STND_PRC"
).split()

_BOOK = (
    ["MKSC_SHRN_ISCD", "BSOP_HOUR", "HOUR_CLS_CODE"]
    + [f"{kind}{i}" for kind in ("ASKP", "BIDP", "ASKP_RSQN", "BIDP_RSQN") for i in range(1, 11)]
    + (
        "TOTAL_ASKP_RSQN TOTAL_BIDP_RSQN OVTM_TOTAL_ASKP_RSQN OVTM_TOTAL_BIDP_RSQN ANTC_CNPR ANTC_CNQN ANTC_VOL "
        "ANTC_CNTG_VRSS ANTC_CNTG_VRSS_SIGN ANTC_CNTG_PRDY_CTRT ACML_VOL TOTAL_ASKP_RSQN_ICDC TOTAL_BIDP_RSQN_ICDC "
        "OVTM_TOTAL_ASKP_ICDC OVTM_TOTAL_BIDP_ICDC STCK_DEAL_CLS_CODE"
    ).split()
)
_KMID = ["KMID_PRC", "KMID_TOTAL_RSQN", "KMID_CLS_CODE"]
_NMID = ["NMID_PRC", "NMID_TOTAL_RSQN", "NMID_CLS_CODE"]
_VENUE_TRADE = ["CNTG_CLS_CODE" if n == "CCLD_DVSN" else n for n in _TRADE]
_MKO = (
    "MKSC_SHRN_ISCD TRHT_YN TR_SUSP_REAS_CNTT MKOP_CLS_CODE ANTC_MKOP_CLS_CODE MRKT_TRTM_CLS_CODE "
    "DIVI_APP_CLS_CODE ISCD_STAT_CLS_CODE VI_CLS_CODE OVTM_VI_CLS_CODE"
).split()


@dataclass(frozen=True, slots=True)
class Era:
    """One layout of one TR, in force from `since` (None: as far back as captures go)."""

    label: str
    since: date | None
    names: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.names)


_TRADE_ERAS = (
    Era("pre-2026-09", None, tuple(_TRADE)),
    Era("2026-09", date(2026, 9, 14), (*_TRADE, "MARKET_CLS_CODE")),
)
_VENUE_TRADE_ERAS = (
    Era("pre-2026-09", None, tuple(_VENUE_TRADE)),
    Era("2026-09", date(2026, 9, 14), (*_VENUE_TRADE, "MARKET_CLS_CODE")),
)
_VENUE_BOOK = (*_BOOK, *_KMID, *_NMID)
ERAS: dict[str, tuple[Era, ...]] = {
    "H0STCNT0": _TRADE_ERAS,
    "H0NXCNT0": _VENUE_TRADE_ERAS,
    "H0UNCNT0": _VENUE_TRADE_ERAS,
    "H0STANC0": (
        Era("pre-nxt", None, tuple(_VENUE_TRADE[:45])),
        Era("2025", date(2025, 3, 4), (*_VENUE_TRADE[:45], "DUMMY")),
    ),
    "H0STMKO0": (Era("documented", None, tuple(_MKO)),),
    "H0NXASP0": (Era("sample", None, _VENUE_BOOK),),
    "H0UNASP0": (
        Era("sample", None, _VENUE_BOOK),
        Era("2026-09", date(2026, 9, 14), (*_VENUE_BOOK, "ANTC_EXCH_CLS_CODE")),
    ),
    "H0STASP0": (
        Era("pre-nxt", None, tuple(_BOOK)),
        Era("2025", date(2025, 3, 4), (*_BOOK, *_KMID)),
        Era("2026-09", date(2026, 9, 22), (*_BOOK, *_KMID, "MARKET_CLS_CODE")),
    ),
}


def era(tr_id: str, width: int) -> Era | None:
    """The era whose `tr_id` records are `width` fields wide; None for a width no era has."""
    return next((e for e in ERAS.get(tr_id, ()) if e.width == width), None)


def names(tr_id: str, width: int) -> tuple[str, ...] | None:
    """Field names for a `width`-field record: the era's, or for an unknown width the newest era's
    names, with fields beyond them left for the caller to call `FIELD_<n>`. None for TRs not here."""
    eras = ERAS.get(tr_id)
    if not eras:
        return None
    known = era(tr_id, width)
    return known.names if known else eras[-1].names


def describe(tr_id: str, width: int) -> dict[str, object]:
    """What `kis-gateway decode` adds to a record of `tr_id`: `era` (null when no era has the width)."""
    if tr_id not in ERAS:
        return {}
    known = era(tr_id, width)
    return {"era": known.label if known else None}
