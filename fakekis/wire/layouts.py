"""Record layouts of the realtime TRs, by era: which fields KIS sent on a given day.

KIS appends fields to its realtime records without changing the tr_id (docs/kis/real-frames.md,
"Notable oddities" item 1; docs/kis/protocol.md §5.1, §5.2; docs/kis/endpoints.md §C0, §C5):

- `H0STCNT0` (trades): the documented 46 fields; **47** from 2026-09-14, a trailing
  `MARKET_CLS_CODE` (`1` pre, `2` regular, `3` after-market, `5` closing; `2` in every capture) that
  came with the KRX after-market. Captures: 46 on 2026-09-08 (kisreal-021), 47 on 2026-09-14
  (kisreal-024) and on the mock server on 2026-09-22 (kisreal-009). The notes say "46 up to
  2026-09-09"; no capture covers 09-10..09-13, so the switch is put on 09-14 (a Monday, the
  after-market's first day).
- `H0STASP0` (order books): 59 fields before NXT; **62** with `KMID_PRC^KMID_TOTAL_RSQN^
  KMID_CLS_CODE` (the KRX mid-price block: `KMID_PRC` = (best ask + best bid) / 2 in every capture);
  **63** from 2026-09-22, one more trailing field (`2` in the notes' captures), named
  `MARKET_CLS_CODE` by the 2026 spec transcription (docs/kis/endpoints.md §C0), as on `H0STCNT0`.

Uncertain, and said so: the day the book grew from 59 to 62 is not captured. The last dated 59-field
capture is from about 2024-10 (kisreal-039), the first dated 62-field one from 2026-02-23
(kisreal-025); the notes say "59 <= 2024, 62 in 2025-26" and tie the block to NXT. We put the change
on the NXT launch day, 2025-03-04 (docs/kis/protocol.md §6, "NXT (Nextrade ATS, since 2025-03-04)"). The
63-field book has no capture in tests/data/real-frames.jsonl at all; the name of its last field is
the spec's, the position reported, not observed.

The TRs of the market-day tapes (docs/kis/endpoints.md §C0, §C2–§C5; fakekis/tape/market_day.py):

- `H0STANC0` (expected trades): H0STCNT0's fields 0–44 with #21 named `CNTG_CLS_CODE`; 45 fields in the
  official sample and the 2024 doc example (kisreal-075), 46 in the 2026 spec and its example (a trailing
  unused field, named `DUMMY` here). The day it grew is not known; it is put on the NXT launch, when the
  NXT/unified variants got their own #45 (an assumption, said so in docs/kis/endpoints.md §C2).
- `H0NXCNT0` / `H0UNCNT0`: H0STCNT0's eras, #21 named `CNTG_CLS_CODE` (§C4; no live frame captured).
- `H0NXASP0`: 65 fields, the official sample's (H0STASP0 0–58, `KMID_*`, `NMID_*`); the spec lists 62
  (`NMID_*` only). The sample is code that runs against KIS, so it wins (§8 item 11, confidence `?`).
- `H0UNASP0`: the same 65; 66 from 2026-09-14 with `ANTC_EXCH_CLS_CODE` (reported, position unconfirmed).
- `H0STMKO0` (market operation): 10 fields, code first; the documented 11th `EXCH_CLS_CODE` is in no
  example or capture (kisreal-077; §C3, §8 item 14).

This table is fakekis's own. The gateway keeps its own (gateway/layouts.py) on purpose: the two
sides never share code (docs/architecture.md), and tests/project/test_layouts_agree.py checks that
the tables agree with each other and with the real captures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

H0STCNT0_46 = (
    "MKSC_SHRN_ISCD STCK_CNTG_HOUR STCK_PRPR PRDY_VRSS_SIGN PRDY_VRSS PRDY_CTRT WGHN_AVRG_STCK_PRC STCK_OPRC "
    "STCK_HGPR STCK_LWPR ASKP1 BIDP1 CNTG_VOL ACML_VOL ACML_TR_PBMN SELN_CNTG_CSNU SHNU_CNTG_CSNU NTBY_CNTG_CSNU "
    "CTTR SELN_CNTG_SMTN SHNU_CNTG_SMTN CCLD_DVSN SHNU_RATE PRDY_VOL_VRSS_ACML_VOL_RATE OPRC_HOUR "
    "OPRC_VRSS_PRPR_SIGN OPRC_VRSS_PRPR HGPR_HOUR HGPR_VRSS_PRPR_SIGN HGPR_VRSS_PRPR LWPR_HOUR LWPR_VRSS_PRPR_SIGN "
    "LWPR_VRSS_PRPR BSOP_DATE NEW_MKOP_CLS_CODE TRHT_YN ASKP_RSQN1 BIDP_RSQN1 TOTAL_ASKP_RSQN TOTAL_BIDP_RSQN "
    "VOL_TNRT PRDY_SMNS_HOUR_ACML_VOL PRDY_SMNS_HOUR_ACML_VOL_RATE HOUR_CLS_CODE MRKT_TRTM_CLS_CODE VI_STND_PRC"
).split()

H0STASP0_59 = (
    ["MKSC_SHRN_ISCD", "BSOP_HOUR", "HOUR_CLS_CODE"]
    + [f"ASKP{i}" for i in range(1, 11)]
    + [f"BIDP{i}" for i in range(1, 11)]
    + [f"ASKP_RSQN{i}" for i in range(1, 11)]
    + [f"BIDP_RSQN{i}" for i in range(1, 11)]
    + (
        "TOTAL_ASKP_RSQN TOTAL_BIDP_RSQN OVTM_TOTAL_ASKP_RSQN OVTM_TOTAL_BIDP_RSQN ANTC_CNPR ANTC_CNQN ANTC_VOL "
        "ANTC_CNTG_VRSS ANTC_CNTG_VRSS_SIGN ANTC_CNTG_PRDY_CTRT ACML_VOL TOTAL_ASKP_RSQN_ICDC TOTAL_BIDP_RSQN_ICDC "
        "OVTM_TOTAL_ASKP_ICDC OVTM_TOTAL_BIDP_ICDC STCK_DEAL_CLS_CODE"
    ).split()
)

KMID = ("KMID_PRC", "KMID_TOTAL_RSQN", "KMID_CLS_CODE")
NMID = ("NMID_PRC", "NMID_TOTAL_RSQN", "NMID_CLS_CODE")
ANTC_EXCH_CLS_CODE = "ANTC_EXCH_CLS_CODE"
# NXT/unified trades and expected trades name #21 CNTG_CLS_CODE where H0STCNT0 says CCLD_DVSN (§C2, §C4).
NXT_TRADE_46 = tuple("CNTG_CLS_CODE" if n == "CCLD_DVSN" else n for n in H0STCNT0_46)
H0STANC0_45 = NXT_TRADE_46[:45]
H0STMKO0_10 = (
    "MKSC_SHRN_ISCD TRHT_YN TR_SUSP_REAS_CNTT MKOP_CLS_CODE ANTC_MKOP_CLS_CODE MRKT_TRTM_CLS_CODE "
    "DIVI_APP_CLS_CODE ISCD_STAT_CLS_CODE VI_CLS_CODE OVTM_VI_CLS_CODE"
).split()
MARKET_CLS_CODE = "MARKET_CLS_CODE"

NXT_LAUNCH = date(2025, 3, 4)  # docs/kis/protocol.md §6; assumed day of the 59 -> 62 book (see above)
AFTER_MARKET = date(2026, 9, 14)  # H0STCNT0 46 -> 47 (docs/kis/real-frames.md item 1)
BOOK_63 = date(2026, 9, 22)  # H0STASP0 62 -> 63 (docs/kis/real-frames.md item 1)


@dataclass(frozen=True, slots=True)
class Layout:
    """One era of one TR: the ordered field names, in force from `since` (None: as far back as we
    know) until `until` (the last day; None: still current)."""

    tr_id: str
    era: str
    since: date | None
    until: date | None
    names: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.names)

    def covers(self, day: date) -> bool:
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)


def _chain(tr_id: str, steps: list[tuple[str, date | None, tuple[str, ...]]]) -> tuple[Layout, ...]:
    """Eras from (label, first day, names), oldest first; each ends the day before the next starts."""
    out = []
    for i, (label, since, names) in enumerate(steps):
        nxt = steps[i + 1][1] if i + 1 < len(steps) else None
        until = date.fromordinal(nxt.toordinal() - 1) if nxt else None
        out.append(Layout(tr_id, label, since, until, names))
    return tuple(out)


_ERAS: dict[str, tuple[Layout, ...]] = {
    "H0STCNT0": _chain(
        "H0STCNT0",
        [
            ("pre-2026-09", None, tuple(H0STCNT0_46)),
            ("2026-09", AFTER_MARKET, (*H0STCNT0_46, MARKET_CLS_CODE)),
        ],
    ),
    "H0STASP0": _chain(
        "H0STASP0",
        [
            ("pre-nxt", None, tuple(H0STASP0_59)),
            ("2025", NXT_LAUNCH, (*H0STASP0_59, *KMID)),
            ("2026-09", BOOK_63, (*H0STASP0_59, *KMID, MARKET_CLS_CODE)),
        ],
    ),
    "H0STANC0": _chain(
        "H0STANC0",
        [("pre-nxt", None, H0STANC0_45), ("2025", NXT_LAUNCH, (*H0STANC0_45, "DUMMY"))],
    ),
    "H0STMKO0": _chain("H0STMKO0", [("documented", None, tuple(H0STMKO0_10))]),
    **{
        tr: _chain(
            tr,
            [
                ("pre-2026-09", None, NXT_TRADE_46),
                ("2026-09", AFTER_MARKET, (*NXT_TRADE_46, MARKET_CLS_CODE)),
            ],
        )
        for tr in ("H0NXCNT0", "H0UNCNT0")
    },
    "H0NXASP0": _chain("H0NXASP0", [("sample", None, (*H0STASP0_59, *KMID, *NMID))]),
    "H0UNASP0": _chain(
        "H0UNASP0",
        [
            ("sample", None, (*H0STASP0_59, *KMID, *NMID)),
            ("2026-09", AFTER_MARKET, (*H0STASP0_59, *KMID, *NMID, ANTC_EXCH_CLS_CODE)),
        ],
    ),
}

# What `fakekis generate --layout ERA` means for every TR at once: the layouts in force on that day.
ERA_DAYS: dict[str, date] = {
    "pre-nxt": date.fromordinal(NXT_LAUNCH.toordinal() - 1),  # 46 / 59
    "2025": NXT_LAUNCH,  # 46 / 62, in force until 2026-09-13
    "2026-09": BOOK_63,  # 47 / 63, current
}


class LayoutError(ValueError):
    """An unknown TR or era; the text is one line naming the allowed values."""


def trs() -> tuple[str, ...]:
    return tuple(_ERAS)


def eras(tr_id: str) -> tuple[Layout, ...]:
    """Every era of `tr_id`, oldest first."""
    try:
        return _ERAS[tr_id]
    except KeyError:
        raise LayoutError(f"no layouts for {tr_id!r} (known: {', '.join(_ERAS)})") from None


def layout(tr_id: str, day: date) -> Layout:
    """The layout KIS sent for `tr_id` on `day`."""
    for lay in eras(tr_id):
        if lay.covers(day):
            return lay
    raise AssertionError(f"the eras of {tr_id} leave {day} uncovered")  # _chain makes this impossible


def widths(tr_id: str) -> frozenset[int]:
    return frozenset(lay.width for lay in eras(tr_id))


def by_width(tr_id: str, width: int) -> Layout | None:
    """The era whose records have `width` fields (widths differ between eras of one TR)."""
    return next((lay for lay in eras(tr_id) if lay.width == width), None)


def named(tr_id: str, record: list[str]) -> dict[str, str] | None:
    """A record's fields by name, in the era its width says; None when no era has that width."""
    lay = by_width(tr_id, len(record))
    return None if lay is None else dict(zip(lay.names, record, strict=True))


def width_no_era_has(tr_id: str, at_least: int) -> int:
    """The smallest width >= `at_least` that no era of `tr_id` has: what a layout change KIS has not
    announced yet looks like (the `field-drift` fault)."""
    known = widths(tr_id)
    w = at_least
    while w in known:
        w += 1
    return w


def parse_choice(text: str) -> date:
    """An era label (`pre-nxt`, `2025`, `2026-09`) or a day `YYYY-MM-DD` -> the day whose layouts apply."""
    if text in ERA_DAYS:
        return ERA_DAYS[text]
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise LayoutError(
            f"{text!r} is neither an era ({', '.join(ERA_DAYS)}) nor a day YYYY-MM-DD"
        ) from None
