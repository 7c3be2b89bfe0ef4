"""The account queries, sans-I/O: inquire-psbl-order, inquire-balance and inquire-daily-ccld answers built
from the paper accounts and ledger (docs/kis/endpoints.md §B3-§B5, §0.1, §0.2).

Ledger answers put `output…` first (paginated ones `ctx_area_fk100`, `ctx_area_nk100` before that), then
rt_cd, msg_cd and msg1 padded to 80 EUC-KR bytes. Continuation: the cursor NK100 is the next row's index,
right-padded to 100 characters; the response header `tr_cont` is `F` (first page, more), `M` (middle),
`D` (last page of several) or `E` (one page only) (§0.2, INF on which letter when).
"""

from __future__ import annotations

from collections.abc import Mapping

from fakekis.exchange.accounts import Account, Order
from fakekis.exchange.paper import MODELLED_DVSN, Paper
from fakekis.exchange.refusals import answer, pad80
from fakekis.rules.prices import limit_prices

PAGE = {"balance": {"live": 50, "mock": 20}, "ccld": {"live": 100, "mock": 15}}
_ZERO_BAL2 = (
    "cma_evlu_amt bfdy_buy_amt nxdy_auto_rdpt_amt bfdy_sll_amt d2_auto_rdpt_amt bfdy_tlex_amt thdt_tlex_amt "
    "tot_loan_amt tot_stln_slng_chgs bfdy_tot_asst_evlu_amt asst_icdc_amt"
).split()


def _ok(env: str, more: bool = False) -> dict[str, str]:
    a = answer("query_more" if more else "query", env)
    return {"rt_cd": a.rt_cd, "msg_cd": a.msg_cd, "msg1": pad80(a.msg1)}


def price_of(paper: Paper, symbol: str) -> int:
    last, _ = paper.engine.reference(symbol)
    return last if last is not None else paper.prev_close.get(symbol, 0)


def psbl_order(paper: Paper, a: Account, q: Mapping[str, str]) -> dict[str, object]:
    symbol, unpr = (
        q.get("PDNO", ""),
        int(q.get("ORD_UNPR") or 0) if (q.get("ORD_UNPR") or "0").isdigit() else 0,
    )
    unit = unpr
    if not unit and symbol in paper.prev_close:  # a market order reserves at the upper limit (§B4, §D2)
        unit = limit_prices(paper.prev_close[symbol])[0]
    qty = a.orderable // unit if unit else 0
    out = {
        "ord_psbl_cash": str(a.orderable),
        "ord_psbl_sbst": "0",
        "ruse_psbl_amt": "0",
        "fund_rpch_chgs": "0",
        "psbl_qty_calc_unpr": str(unit),
        "nrcvb_buy_amt": str(qty * unit),
        "nrcvb_buy_qty": str(qty),
        "max_buy_amt": str(qty * unit),
        "max_buy_qty": str(qty),
        "cma_evlu_amt": "0",
        "ovrs_re_use_amt_wcrc": "0",
        "ord_psbl_frcr_amt_wcrc": "0",
    }
    return {"output": out, **_ok(paper.env)}


def _page(
    rows: list[dict[str, str]], q: Mapping[str, str], size: int, key: str
) -> tuple[list[dict[str, str]], dict[str, str], str]:
    start = (
        int(q.get("CTX_AREA_NK100", "").strip() or 0) if q.get("CTX_AREA_NK100", "").strip().isdigit() else 0
    )
    page = rows[start : start + size]
    more = start + size < len(rows)
    cursors = {
        "ctx_area_fk100": key.ljust(100),
        "ctx_area_nk100": (str(start + size) if more else "").ljust(100),
    }
    tr_cont = ("M" if start else "F") if more else ("D" if start else "E")
    return page, cursors, tr_cont


def balance(paper: Paper, a: Account, q: Mapping[str, str]) -> tuple[dict[str, object], str]:
    rows, tot_cost, tot_evlu = [], 0, 0
    for symbol, p in sorted(a.positions.items()):
        if not (p.qty or p.bought_today or p.sold_today):
            continue
        prpr = price_of(paper, symbol)
        prev = paper.prev_close.get(symbol, prpr)
        evlu = p.qty * prpr
        tot_cost += p.cost
        tot_evlu += evlu
        rows.append(
            {
                "pdno": symbol,
                "prdt_name": paper.name(symbol),
                "trad_dvsn_name": "현금",
                "bfdy_buy_qty": "0",
                "bfdy_sll_qty": "0",
                "thdt_buyqty": str(p.bought_today),
                "thdt_sll_qty": str(p.sold_today),
                "hldg_qty": str(p.qty),
                "ord_psbl_qty": str(p.qty - p.reserved),
                "pchs_avg_pric": f"{p.cost / p.qty:.4f}" if p.qty else "0.0000",
                "pchs_amt": str(p.cost),
                "prpr": str(prpr),
                "evlu_amt": str(evlu),
                "evlu_pfls_amt": str(evlu - p.cost),
                "evlu_pfls_rt": f"{(evlu - p.cost) / p.cost * 100:.2f}" if p.cost else "0.00",
                "evlu_erng_rt": "0",
                "loan_dt": "",
                "loan_amt": "0",
                "stln_slng_chgs": "0",
                "expd_dt": "",
                "fltt_rt": f"{(prpr - prev) / prev * 100:.8f}" if prev else "0.00000000",
                "bfdy_cprs_icdc": str(prpr - prev),
                "item_mgna_rt_name": "20%",
                "grta_rt_name": "",
                "sbst_pric": "0",
                "stck_loan_unpr": "0.0000",
            }
        )
    key = "!^".join([a.cano, a.prdt, q.get("AFHR_FLPR_YN", "N"), q.get("INQR_DVSN", "02"), "01"])
    page, cursors, tr_cont = _page(rows, q, PAGE["balance"][paper.env], key)
    summary = {
        "dnca_tot_amt": str(a.cash),
        "nxdy_excc_amt": str(a.cash),
        "prvs_rcdl_excc_amt": str(a.cash),
        "thdt_buy_amt": str(a.bought),
        "thdt_sll_amt": str(a.sold),
        "scts_evlu_amt": str(tot_evlu),
        "tot_evlu_amt": str(tot_evlu + a.cash),
        "nass_amt": str(tot_evlu + a.cash),
        "fncg_gld_auto_rdpt_yn": "",
        "pchs_amt_smtl_amt": str(tot_cost),
        "evlu_amt_smtl_amt": str(tot_evlu),
        "evlu_pfls_smtl_amt": str(tot_evlu - tot_cost),
        "asst_icdc_erng_rt": "0.00000000",
        **dict.fromkeys(_ZERO_BAL2, "0"),
    }
    return {**cursors, "output1": page, "output2": [summary], **_ok(paper.env, tr_cont in "FM")}, tr_cont


def _ccld_row(o: Order, paper: Paper) -> dict[str, str]:
    avg = o.amount // o.filled if o.filled else 0
    return {
        "ord_dt": o.date,
        "ord_gno_brno": "06010" if o.env == "live" else "00950",
        "odno": o.odno,
        "orgn_odno": o.orgn_odno,
        "ord_dvsn_name": MODELLED_DVSN.get(o.dvsn, ""),
        "sll_buy_dvsn_cd": o.side,
        "sll_buy_dvsn_cd_name": ("현금매수" if o.side == "02" else "현금매도")
        + {"modify": "정정", "cancel": "취소"}.get(o.kind, ""),
        "pdno": o.symbol,
        "prdt_name": paper.name(o.symbol),
        "ord_qty": str(o.qty),
        "ord_unpr": str(o.price),
        "ord_tmd": o.time,
        "tot_ccld_qty": str(o.filled),
        "avg_prvs": str(avg),
        "cncl_yn": "Y" if o.kind == "cancel" else "N",
        "tot_ccld_amt": str(o.amount),
        "loan_dt": "",
        "ordr_empno": "OpnAPI",
        "ord_dvsn_cd": o.dvsn,
        "cncl_cfrm_qty": str(o.cancelled),
        "rmn_qty": str(paper.engine.resting(o.odno)),
        "rjct_qty": "0",
        "ccld_cndt_name": {"11": "IOC", "13": "IOC", "12": "FOK", "14": "FOK"}.get(o.dvsn, "없음"),
        "inqr_ip_addr": "",
        "cpbc_ordp_ord_rcit_dvsn_cd": "",
        "cpbc_ordp_infm_mthd_dvsn_cd": "",
        "infm_tmd": "",
        "ctac_tlno": "",
        "prdt_type_cd": "300",
        "excg_dvsn_cd": "02" if o.venue == "KRX" else "12" if o.venue == "SOR" else "03",
        "cpbc_ordp_mtrl_dvsn_cd": "",
        "ord_orgno": "",
        "rsvn_ord_end_dt": "",
        "excg_id_dvsn_cd": o.venue,
        "stpm_cndt_pric": "0",
        "stpm_efct_occr_dtmd": "",
    }


def daily_ccld(paper: Paper, cano: str, prdt: str, q: Mapping[str, str]) -> tuple[dict[str, object], str]:
    side = {"01": "01", "02": "02"}.get(q.get("SLL_BUY_DVSN_CD", "00"))
    ccld = q.get("CCLD_DVSN", "00")
    start, end = q.get("INQR_STRT_DT", ""), q.get("INQR_END_DT", "")
    odno = q.get("ODNO", "").strip()
    rows = []
    for o in paper.orders():
        if (o.cano, o.prdt) != (cano, prdt) or (side and o.side != side):
            continue
        if q.get("PDNO") and o.symbol != q["PDNO"]:
            continue
        if odno and odno.isdigit() and int(odno) != int(o.odno):
            continue
        if (start and o.date < start) or (end and o.date > end):
            continue
        if (ccld == "01" and not o.filled) or (ccld == "02" and not paper.engine.resting(o.odno)):
            continue
        rows.append(_ccld_row(o, paper))
    if q.get("INQR_DVSN", "00") == "00":
        rows.reverse()
    key = "!^".join([cano, prdt, start, end, q.get("SLL_BUY_DVSN_CD", "00"), ccld])
    page, cursors, tr_cont = _page(rows, q, PAGE["ccld"][paper.env], key)
    qty = sum(int(r["tot_ccld_qty"]) for r in rows)
    amt = sum(int(r["tot_ccld_amt"]) for r in rows)
    summary = {
        "tot_ord_qty": str(sum(int(r["ord_qty"]) for r in rows)),
        "tot_ccld_qty": str(qty),
        "tot_ccld_amt": str(amt),
        "prsm_tlex_smtl": "0",
        "pchs_avg_pric": f"{amt / qty:.4f}" if qty else "0.0000",
    }
    return {**cursors, "output1": page, "output2": summary, **_ok(paper.env, tr_cont in "FM")}, tr_cont
