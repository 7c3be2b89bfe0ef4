"""Chart and order-book calls of unmodified PyPI clients against fakekis (issue #15): python-kis's
`orderbook()`, `day_chart()` (inquire-time-itemchartprice, paged back to 09:00) and `daily_chart()`
(inquire-daily-itemchartprice, paged back to the start of the history), and mojito2's `fetch_ohlcv`,
`fetch_ohlcv_recent30` and `fetch_today_1m_ohlcv`. Only hosts and keys point here.

What each catches: a field a client reads that fakekis does not send, a value it cannot parse, a page
loop that does not end (python-kis pages until an empty page, mojito2 until 09:01), and answers that
disagree with the tape (the last bar is the last trade; the book's best levels are the tape's).
Runs in `tox -e compat`; skipped where the clients are not installed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from compat_clients import require

from fakekis import tape

ID, ACCOUNT = "fakekis-user", "50123456-01"
REC = tape.DEFAULT_BUNDLED


def _tape_last(symbol: str) -> tuple[list[str], list[str]]:
    """The last trade and book records the recording replays for `symbol`."""
    trade: list[str] = []
    book: list[str] = []
    for f in tape.load(tape.bundled(REC)).data_frames():
        if f.tr_key != symbol:
            continue
        fields = f.text.split("|", 3)[3].split("^")
        width = len(fields) // f.records
        last = fields[(f.records - 1) * width : f.records * width]
        if f.tr_id == "H0STCNT0":
            trade = last
        elif f.tr_id == "H0STASP0":
            book = last
    return trade, book


def _replayed(fake_kis: Any) -> None:
    fake_kis.start_replay()
    fake_kis.wait_until(lambda s: s["replay"]["done"], timeout=60.0)


@pytest.mark.fake_kis(env="live", recording=REC)
def test_python_kis_orderbook_and_charts(fake_kis: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pykis = require("pykis", "python-kis")
    _replayed(fake_kis)
    fake_kis.redirect_pykis(monkeypatch)
    kis = pykis.PyKis(
        id=ID, account=ACCOUNT, appkey=fake_kis.appkey, secretkey=fake_kis.appsecret, keep_token=False
    )
    trade, book = _tape_last("005930")
    stock = kis.stock("005930")
    ob = stock.orderbook()
    assert ob.asks[0].price == Decimal(book[3]) and ob.bids[0].price == Decimal(book[13])
    assert ob.bids[0].price < ob.asks[0].price and len(ob.asks) == 10
    minutes = stock.day_chart()
    assert minutes.bars[-1].close == Decimal(trade[2]) or minutes.bars[0].close == Decimal(trade[2])
    assert min(b.time for b in minutes.bars).strftime("%H%M") == "0900"
    daily = stock.daily_chart(start=date(2026, 1, 1))
    closes = {b.time.strftime("%Y%m%d"): b.close for b in daily.bars}
    assert closes[trade[33]] == Decimal(trade[2])
    assert min(closes) >= "20260101" and len(closes) > 200
    weeks = stock.chart("1y", period="week")
    assert weeks.bars and all(b.low <= b.close <= b.high for b in weeks.bars)


@pytest.mark.fake_kis(env="live", recording=REC)
def test_mojito2_ohlcv_and_minute_bars(
    fake_kis: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mojito = require("mojito", "mojito2")
    _replayed(fake_kis)
    monkeypatch.setattr(
        mojito.KoreaInvestment,
        "set_base_url",
        lambda self, mock=True: setattr(self, "base_url", fake_kis.rest_url),
    )
    monkeypatch.chdir(tmp_path)  # its token file
    broker = mojito.KoreaInvestment(fake_kis.appkey, fake_kis.appsecret, ACCOUNT, mock=False)
    trade, _ = _tape_last("005930")
    daily = broker.fetch_ohlcv("005930", "D", start_day="20260101", end_day=trade[33])
    assert daily["rt_cd"] == "0" and daily["output2"][0]["stck_clpr"] == trade[2], daily
    recent = broker.fetch_ohlcv_recent30("005930", "W")
    assert recent["rt_cd"] == "0" and len(recent["output"]) == 30
    minutes = broker.fetch_today_1m_ohlcv("005930", to="153000")  # pages back until 09:01
    assert minutes["output2"][-1]["stck_cntg_hour"] == "090000"
    assert minutes["output2"][0]["stck_prpr"] == trade[2]
