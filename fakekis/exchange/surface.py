"""The KIS domestic-stock surface fakekis is measured against, as data: every REST path + tr_id of
docs/kis/protocol.md §2–§3 and docs/kis/endpoints.md §A–§B (live and mock tr_ids). The realtime TRs are
not listed here: they are `fakekis.exchange.trs.TRS`, the table the exchange refuses subscriptions by.

What fakekis does with each (served by rules, refused, or only replayed from a recording) is not written
here: `fakekis coverage` asks the code (`fakekis/cli/coverage.py`) and docs/coverage.md is its output.
`test` names the test that shows the behaviour; tests/project/test_coverage.py checks every named test
exists and that docs/coverage.md is what the code says.
"""

from __future__ import annotations

from dataclasses import dataclass

Q = "/uapi/domestic-stock/v1/quotations/"
T = "/uapi/domestic-stock/v1/trading/"
QT = "tests/fakekis/test_quotations.py::"
RT = "tests/fakekis/test_fakekis_rest.py::"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    live_tr: str  # "" for auth calls, which carry no tr_id
    mock_tr: str  # "" when mock does not offer it
    title: str
    spec: str
    test: str = ""  # the test that covers fakekis's behaviour ("" when there is none)


PR = "tests/fakekis/test_paper_rest.py::"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        "/oauth2/tokenP",
        "",
        "",
        "접근토큰발급",
        "docs/kis/protocol.md §2.1",
        RT + "test_token_rules_throttle_same_token_and_expiry",
    ),
    Endpoint(
        "POST", "/oauth2/revokeP", "", "", "접근토큰폐기", "docs/kis/protocol.md §2.2", RT + "test_revoke"
    ),
    Endpoint(
        "POST",
        "/oauth2/Approval",
        "",
        "",
        "실시간 접속키 발급",
        "docs/kis/protocol.md §2.3",
        RT + "test_approval_wants_secretkey_not_appsecret",
    ),
    Endpoint(
        "POST",
        "/uapi/hashkey",
        "",
        "",
        "hashkey",
        "docs/kis/protocol.md §2.4",
        PR + "test_hashkey_echoes_the_body_with_a_stable_hash_and_orders_take_it_or_not",
    ),
    Endpoint(
        "GET",
        Q + "inquire-price",
        "FHKST01010100",
        "FHKST01010100",
        "주식현재가 시세",
        "docs/kis/protocol.md §3",
        RT + "test_inquire_price_envelope_and_agreement_with_the_tape",
    ),
    Endpoint(
        "GET",
        Q + "search-info",
        "CTPF1604R",
        "CTPF1604R",
        "상품기본조회",
        "fakekis/exchange/products.py (python-kis usage)",
        RT + "test_search_info_names_known_products_and_finds_nothing_else",
    ),
    Endpoint(
        "GET",
        Q + "inquire-asking-price-exp-ccn",
        "FHKST01010200",
        "FHKST01010200",
        "호가/예상체결",
        "docs/kis/endpoints.md §A1",
        QT + "test_each_route_answers_its_documented_fields",
    ),
    Endpoint(
        "GET",
        Q + "inquire-ccnl",
        "FHKST01010300",
        "FHKST01010300",
        "체결 (최근 30건)",
        "docs/kis/endpoints.md §A2",
        QT + "test_each_route_answers_its_documented_fields",
    ),
    Endpoint(
        "GET",
        Q + "inquire-daily-price",
        "FHKST01010400",
        "FHKST01010400",
        "일자별",
        "docs/kis/endpoints.md §A3",
        QT + "test_each_route_answers_its_documented_fields",
    ),
    Endpoint(
        "GET",
        Q + "inquire-daily-itemchartprice",
        "FHKST03010100",
        "FHKST03010100",
        "기간별시세",
        "docs/kis/endpoints.md §A4",
        QT + "test_periods_fold_days_and_the_range_limits_the_bars",
    ),
    Endpoint(
        "GET",
        Q + "inquire-time-itemchartprice",
        "FHKST03010200",
        "FHKST03010200",
        "당일분봉",
        "docs/kis/endpoints.md §A5",
        QT + "test_minute_chart_pages_back_by_time",
    ),
    Endpoint(
        "GET",
        Q + "inquire-time-dailychartprice",
        "FHKST03010230",
        "",
        "일별분봉",
        "docs/kis/endpoints.md §A6",
        QT + "test_daily_minute_chart_continuation_header",
    ),
    Endpoint(
        "GET", Q + "inquire-investor", "FHKST01010900", "FHKST01010900", "투자자", "docs/kis/endpoints.md §A7"
    ),
    Endpoint(
        "GET",
        Q + "chk-holiday",
        "CTCA0903R",
        "",
        "국내휴장일조회",
        "docs/kis/endpoints.md §A8",
        QT + "test_chk_holiday_pages_calendar_days_from_the_krx_calendar",
    ),
    Endpoint(
        "POST",
        T + "order-cash",
        "TTTC0012U",
        "VTTC0012U",
        "현금주문 (매수)",
        "docs/kis/endpoints.md §B1",
        PR + "test_buy_with_current_and_legacy_tr_ids_answers_as_kis",
    ),
    Endpoint(
        "POST",
        T + "order-cash",
        "TTTC0011U",
        "VTTC0011U",
        "현금주문 (매도)",
        "docs/kis/endpoints.md §B1",
        PR + "test_a_sell_without_shares_and_an_unknown_symbol_are_refused",
    ),
    Endpoint(
        "POST",
        T + "order-rvsecncl",
        "TTTC0013U",
        "VTTC0013U",
        "정정취소",
        "docs/kis/endpoints.md §B2",
        PR + "test_modify_then_cancel_move_the_reservation_and_unknown_orders_are_refused",
    ),
    Endpoint(
        "GET",
        T + "inquire-balance",
        "TTTC8434R",
        "VTTC8434R",
        "잔고",
        "docs/kis/endpoints.md §B3",
        PR + "test_balance_pages_twenty_holdings_on_mock_with_kis_continuation",
    ),
    Endpoint(
        "GET",
        T + "inquire-psbl-order",
        "TTTC8908R",
        "VTTC8908R",
        "매수가능",
        "docs/kis/endpoints.md §B4",
        PR + "test_psbl_order_counts_at_the_price_or_at_the_upper_limit_for_market",
    ),
    Endpoint(
        "GET",
        T + "inquire-daily-ccld",
        "TTTC0081R",
        "VTTC0081R",
        "일별주문체결 (3개월 이내)",
        "docs/kis/endpoints.md §B5",
        "tests/fakekis/test_paper_properties.py::test_random_order_streams_keep_the_books_straight",
    ),
    Endpoint(
        "GET",
        T + "inquire-daily-ccld",
        "CTSC9215R",
        "VTSC9215R",
        "일별주문체결 (3개월 이전)",
        "docs/kis/endpoints.md §B5",
    ),
    Endpoint(
        "GET", T + "inquire-psbl-rvsecncl", "TTTC0084R", "", "정정취소가능주문", "docs/kis/endpoints.md §B6"
    ),
)

# The realtime TRs fakekis sends data for, and the test that shows the data (others are acked or refused
# by the TR table, shown by tests/project/test_coverage_trs_ws.py::test_every_tr_in_the_table_is_acked_where_served).
WS_DATA_TESTS = {
    "H0STCNT0": "tests/fakekis/test_fakekis_exchange_ws.py::test_data_goes_only_to_acked_registrations",
    "H0STASP0": "tests/fakekis/test_synth_invariants.py::test_any_seed_keeps_the_invariants",
}
WS_TABLE_TEST = "tests/project/test_coverage_trs_ws.py::test_every_tr_in_the_table_is_acked_where_served"
