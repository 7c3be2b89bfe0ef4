"""fakekis's inquire-price, the REST fallback the WebSocket path selects when its tick is stale, reads the
replayed H0STCNT0 record field by field: the signed change and the day's volume (the bug zoo,
mutants/zoo.py, bugs 32-33, were caught before only by a loopback e2e test minutes into `pytest -k ws`)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from conftest import trade
from fakekis.exchange.market import MarketState
from fakekis.wire import frames

pytestmark = pytest.mark.ws


@given(
    price=st.integers(1_000, 1_000_000),
    prev_close=st.integers(1_000, 1_000_000),
    volume=st.integers(1, 10**8),
    qty=st.integers(1, 10**5),
)
@example(price=70_000, prev_close=71_000, volume=1_234, qty=5)  # a falling stock
def test_inquire_price_answers_the_signed_change_and_the_days_volume(
    price: int, prev_close: int, volume: int, qty: int
) -> None:
    market = MarketState()
    rec = trade("005930", "101500", price, prev_close, volume, qty=qty)
    market.apply("H0STCNT0", frames.data_frame("H0STCNT0", [rec]), 1, "005930")
    out = market.inquire_price("005930")
    assert out["stck_prpr"] == str(price)
    assert int(out["prdy_vrss"]) == price - prev_close  # signed, as KIS sends PRDY_VRSS
    assert out["acml_vol"] == str(volume)  # ACML_VOL (the day), not CNTG_VOL (this trade)
