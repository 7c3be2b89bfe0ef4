"""inquire-price (주식현재가 시세, FHKST01010100): the `output` object from a symbol's folded state
(docs/kis/protocol.md §3.2). Moved out of `market.py` when the market state grew into a fold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakekis.rules.prices import limit_prices, tick_size

if TYPE_CHECKING:
    from fakekis.exchange.market import SymbolState

_OUTPUT_KEYS = (
    "iscd_stat_cls_code marg_rate rprs_mrkt_kor_name new_hgpr_lwpr_cls_code bstp_kor_isnm temp_stop_yn "
    "oprc_rang_cont_yn clpr_rang_cont_yn crdt_able_yn grmn_rate_cls_code elw_pblc_yn stck_prpr prdy_vrss "
    "prdy_vrss_sign prdy_ctrt acml_tr_pbmn acml_vol prdy_vrss_vol_rate stck_oprc stck_hgpr stck_lwpr stck_mxpr "
    "stck_llam stck_sdpr wghn_avrg_stck_prc hts_frgn_ehrt frgn_ntby_qty pgtr_ntby_qty pvt_scnd_dmrs_prc "
    "pvt_frst_dmrs_prc pvt_pont_val pvt_frst_dmsp_prc pvt_scnd_dmsp_prc dmrs_val dmsp_val cpfn rstc_wdth_prc "
    "stck_fcam stck_sspr aspr_unit hts_deal_qty_unit_val lstn_stcn hts_avls per pbr stac_month vol_tnrt eps bps "
    "d250_hgpr d250_hgpr_date d250_hgpr_vrss_prpr_rate d250_lwpr d250_lwpr_date d250_lwpr_vrss_prpr_rate "
    "stck_dryy_hgpr dryy_hgpr_vrss_prpr_rate dryy_hgpr_date stck_dryy_lwpr dryy_lwpr_vrss_prpr_rate dryy_lwpr_date "
    "w52_hgpr w52_hgpr_vrss_prpr_ctrt w52_hgpr_date w52_lwpr w52_lwpr_vrss_prpr_ctrt w52_lwpr_date "
    "whol_loan_rmnd_rate ssts_yn stck_shrn_iscd fcam_cnnm cpfn_cnnm apprch_rate frgn_hldn_qty vi_cls_code "
    "ovtm_vi_cls_code last_ssts_cntg_qty invt_caful_yn mrkt_warn_cls_code short_over_yn sltr_yn mang_issu_cls_code"
).split()

_TEXT_DEFAULTS = {
    "iscd_stat_cls_code": "55",
    "rprs_mrkt_kor_name": "KOSPI200",
    "new_hgpr_lwpr_cls_code": "",
    "bstp_kor_isnm": "전기·전자",
    "temp_stop_yn": "N",
    "oprc_rang_cont_yn": "N",
    "clpr_rang_cont_yn": "N",
    "crdt_able_yn": "Y",
    "grmn_rate_cls_code": "40",
    "elw_pblc_yn": "Y",
    "stac_month": "12",
    "ssts_yn": "Y",
    "fcam_cnnm": "100",
    "cpfn_cnnm": "7,780 억",
    "vi_cls_code": "N",
    "ovtm_vi_cls_code": "N",
    "invt_caful_yn": "N",
    "mrkt_warn_cls_code": "00",
    "short_over_yn": "N",
    "sltr_yn": "N",
    "mang_issu_cls_code": "N",
    "hts_deal_qty_unit_val": "1",
    "marg_rate": "20.00",
}


def price_output(symbol: str, st: SymbolState | None) -> dict[str, str]:
    out = {k: _TEXT_DEFAULTS.get(k, "0") for k in _OUTPUT_KEYS}
    out["stck_shrn_iscd"] = symbol
    prev = st.prev_close if st is not None else None
    if st is None or prev is None:
        return out  # unknown code: KIS's answer is undocumented (docs/kis/protocol.md §10.7); zeros here
    rec = st.last
    upper, lower = limit_prices(prev)
    out.update(stck_sdpr=str(prev), stck_mxpr=str(upper), stck_llam=str(lower))
    if rec is None:
        out.update(
            stck_prpr=str(prev),
            prdy_vrss="0",
            prdy_vrss_sign="3",
            prdy_ctrt="0.00",
            aspr_unit=str(tick_size(prev)),
        )
        return out
    price = int(rec[2])
    out.update(
        stck_prpr=rec[2],
        prdy_vrss_sign=rec[3],
        prdy_vrss=rec[4],
        prdy_ctrt=rec[5],
        wghn_avrg_stck_prc=rec[6],
        stck_oprc=rec[7],
        stck_hgpr=rec[8],
        stck_lwpr=rec[9],
        acml_vol=rec[13],
        acml_tr_pbmn=rec[14],
        prdy_vrss_vol_rate=rec[23],
        vol_tnrt=rec[40],
        aspr_unit=str(tick_size(price)),
    )
    _extremes(out, price, max(prev, _int(rec[8]) or price), min(prev, _int(rec[9]) or price), rec[33])
    return out


def _extremes(out: dict[str, str], price: int, high: int, low: int, day: str) -> None:
    """52-week / 250-day / year-to-date highs and lows. A recording carries no history, so they are
    today's range and previous close (INF); the date fields are real YYYYMMDD dates, because clients
    parse them as dates (python-kis's quote() fails on anything else)."""
    up = f"{(price - high) / high * 100:.2f}" if high else "0.00"
    down = f"{(price - low) / low * 100:.2f}" if low else "0.00"
    for hi, lo in (
        ("w52_hgpr", "w52_lwpr"),
        ("d250_hgpr", "d250_lwpr"),
        ("stck_dryy_hgpr", "stck_dryy_lwpr"),
    ):
        out[hi], out[lo] = str(high), str(low)
    out.update(
        w52_hgpr_vrss_prpr_ctrt=up,
        w52_lwpr_vrss_prpr_ctrt=down,
        d250_hgpr_vrss_prpr_rate=up,
        d250_lwpr_vrss_prpr_rate=down,
        dryy_hgpr_vrss_prpr_rate=up,
        dryy_lwpr_vrss_prpr_rate=down,
    )
    for key in (
        "w52_hgpr_date",
        "w52_lwpr_date",
        "d250_hgpr_date",
        "d250_lwpr_date",
        "dryy_hgpr_date",
        "dryy_lwpr_date",
    ):
        out[key] = day


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
