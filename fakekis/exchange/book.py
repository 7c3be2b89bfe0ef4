"""The order book and the recent trades as REST shows them (docs/kis/endpoints.md §A1, §A2), from a
symbol's folded state: the latest H0STASP0 record (fields by position, the 59 every era starts with:
docs/kis/protocol.md §5.2), the latest H0STANC0 record (§C2) and the ring of recent trades.

A symbol with trades but no book yet gets a one-level book from its last trade's best ask and bid
(`ASKP1`/`BIDP1`, `ASKP_RSQN1`/`BIDP_RSQN1`): what the tape knows, nothing invented.
"""

from __future__ import annotations

from fakekis.exchange.market import SymbolState

LEVELS = range(1, 11)
OUTPUT1_KEYS = (
    ["aspr_acpt_hour"]
    + [f"askp{i}" for i in LEVELS]
    + [f"bidp{i}" for i in LEVELS]
    + [f"askp_rsqn{i}" for i in LEVELS]
    + [f"bidp_rsqn{i}" for i in LEVELS]
    + [f"askp_rsqn_icdc{i}" for i in LEVELS]
    + [f"bidp_rsqn_icdc{i}" for i in LEVELS]
    + (
        "total_askp_rsqn total_bidp_rsqn total_askp_rsqn_icdc total_bidp_rsqn_icdc ovtm_total_askp_icdc "
        "ovtm_total_bidp_icdc ovtm_total_askp_rsqn ovtm_total_bidp_rsqn ntby_aspr_rsqn new_mkop_cls_code"
    ).split()
)
OUTPUT2_KEYS = (
    "antc_mkop_cls_code stck_prpr stck_oprc stck_hgpr stck_lwpr stck_sdpr antc_cnpr antc_cntg_vrss_sign "
    "antc_cntg_vrss antc_cntg_prdy_ctrt antc_vol stck_shrn_iscd vi_cls_code"
).split()
CCNL_KEYS = (
    "stck_cntg_hour",
    "stck_prpr",
    "prdy_vrss",
    "prdy_vrss_sign",
    "prdy_ctrt",
    "cntg_vol",
    "tday_rltv",
)


def _from_trade(rec: list[str]) -> list[str]:
    """A 59-field book record holding only the best level a trade record carries."""
    book = [rec[0], rec[1], "0"] + ["0"] * 56
    book[3], book[13], book[23], book[33] = rec[10], rec[11], rec[36], rec[37]
    book[43], book[44] = rec[36], rec[37]
    return book


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def asking_price(symbol: str, st: SymbolState | None) -> tuple[dict[str, str], dict[str, str]]:
    """(output1, output2). Unknown symbol: both empty; python-kis reads an `output1` without `askp1` as
    "not found" (docs/kis/endpoints.md §A9)."""
    if st is None:
        return {}, {}
    rec = st.book or (_from_trade(st.last) if st.last else None)
    if rec is None:
        return {}, {}
    prev = st.prev_book or rec
    out1 = {k: "0" for k in OUTPUT1_KEYS}
    out1["aspr_acpt_hour"] = rec[1]
    for i in LEVELS:
        out1[f"askp{i}"], out1[f"bidp{i}"] = rec[2 + i], rec[12 + i]
        out1[f"askp_rsqn{i}"], out1[f"bidp_rsqn{i}"] = rec[22 + i], rec[32 + i]
        out1[f"askp_rsqn_icdc{i}"] = str(_int(rec[22 + i]) - _int(prev[22 + i]))
        out1[f"bidp_rsqn_icdc{i}"] = str(_int(rec[32 + i]) - _int(prev[32 + i]))
    out1.update(
        total_askp_rsqn=rec[43],
        total_bidp_rsqn=rec[44],
        ovtm_total_askp_rsqn=rec[45],
        ovtm_total_bidp_rsqn=rec[46],
        total_askp_rsqn_icdc=rec[54],
        total_bidp_rsqn_icdc=rec[55],
        ovtm_total_askp_icdc=rec[56],
        ovtm_total_bidp_icdc=rec[57],
        ntby_aspr_rsqn=str(_int(rec[44]) - _int(rec[43])),
        new_mkop_cls_code=st.last[34] if st.last else "20",
    )
    return out1, _expected(symbol, st, rec)


def antc_mkop_cls_code(hhmmss: str) -> str:
    """예상 장운영 구분 by the time of day (INF: the codes are documented, when KIS sends each is not):
    `311` pre-open expectation, `112` it ended (continuous trading), `121` closing auction, `129` ended."""
    if hhmmss < "090000":
        return "311"
    if hhmmss < "152000":
        return "112"
    return "121" if hhmmss < "153000" else "129"


def _expected(symbol: str, st: SymbolState, book: list[str]) -> dict[str, str]:
    out = {k: "0" for k in OUTPUT2_KEYS}
    last, candle = st.last, st.candle
    out.update(stck_shrn_iscd=symbol, vi_cls_code="N", stck_sdpr=str(st.prev_close or 0))
    if last is not None and candle is not None:
        out.update(
            stck_prpr=last[2],
            stck_oprc=str(candle.open),
            stck_hgpr=str(candle.high),
            stck_lwpr=str(candle.low),
        )
    anc = st.expected
    if anc is not None and (not book[1] or anc[1] >= book[1]):  # the newer of H0STANC0 and the book's
        out.update(
            antc_cnpr=anc[2],
            antc_cntg_vrss_sign=anc[3],
            antc_cntg_vrss=anc[4],
            antc_cntg_prdy_ctrt=anc[5],
            antc_vol=anc[13],
        )
    else:
        out.update(
            antc_cnpr=book[47],
            antc_cntg_vrss=book[50],
            antc_cntg_vrss_sign=book[51],
            antc_cntg_prdy_ctrt=book[52],
            antc_vol=book[49],
        )
    out["antc_mkop_cls_code"] = antc_mkop_cls_code(book[1] or (last[1] if last else ""))
    return out


def recent_trades(st: SymbolState | None) -> list[dict[str, str]]:
    """inquire-ccnl's `output`: the last 30 trades, newest first."""
    if st is None:
        return []
    return [
        dict(zip(CCNL_KEYS, (t.hhmmss, t.price, t.vrss, t.sign, t.ctrt, t.qty, t.strength), strict=True))
        for t in reversed(st.recent)
    ]
