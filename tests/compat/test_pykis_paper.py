"""python-kis's order and balance calls, unmodified, against fakekis's paper trading (docs/paper-trading.md).

Runs in `tox -e compat`, where python-kis is installed; skipped elsewhere. What it catches: an order answer
python-kis cannot parse (KRX_FWDG_ORD_ORGNO, ODNO, ORD_TMD), an order it sends that fakekis refuses (its
legacy tr_ids VTTC0802U/0801U/0803U, its body casing, its cancel body), and a balance answer it cannot read
(output1/output2 shapes, tr_cont continuation)."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

if os.environ.get("KIS_HARNESS_REQUIRE_PYKIS"):  # tox -e compat: a missing python-kis must fail, not skip
    import pykis
else:
    pykis = pytest.importorskip("pykis", reason="python-kis is installed only in `tox -e compat`")

ID, ACCOUNT = "fakekis-user", "50123456-01"
MOCK_APPKEY = "PSmock" + "1" * 30
MOCK_SECRET = "mock-secret-" + "m" * 168


@pytest.mark.fake_kis(env="both", manual_clock=True, speed=1, start_cash=5_000_000)
def test_python_kis_buys_cancels_and_reads_its_balance_in_virtual_mode(fake_kis, monkeypatch) -> None:
    fake_kis.redirect_pykis(monkeypatch)
    kis = pykis.PyKis(
        id=ID,
        account=ACCOUNT,
        appkey=fake_kis.appkey,
        secretkey=fake_kis.appsecret,
        virtual_id=ID,
        virtual_appkey=MOCK_APPKEY,
        virtual_secretkey=MOCK_SECRET,
        keep_token=False,
    )
    try:
        ticket = kis.websocket.on("H0STCNT0", "005930", lambda *a: None, primary=True)  # starts the replay
        fake_kis.wait_until(lambda s: s["acks"].get("OPSP0000") == 1)
        fake_kis.advance(30.0)
        fake_kis.wait_until(lambda s: fake_kis.caught_up())
        stock = kis.stock("005930")
        price = stock.quote().price
        bought = stock.buy(price=price + 1000, qty=2)  # marketable: takes the book's asks at or under it
        assert bought.number and bought.branch == "00950"
        resting = stock.buy(price=price - 5000, qty=1)  # far under the market: rests
        resting.cancel()

        orders = fake_kis.orders("mock")
        assert [(o["kind"], o["side"], o["qty"]) for o in orders] == [
            ("new", "buy", 2),
            ("new", "buy", 1),
            ("cancel", "buy", 1),
        ]
        assert orders[0]["filled"] == 2 and orders[1]["cancelled"] == 1
        balance = kis.account().balance(country="KR")
        held = {s.symbol: s.qty for s in balance.stocks}
        assert held == {"005930": Decimal(2)}
        assert balance.deposits["KRW"].amount == Decimal(5_000_000 - orders[0]["amount"])
        ticket.unsubscribe()
    finally:
        kis.websocket.disconnect()
