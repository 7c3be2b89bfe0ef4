"""kis-trader (PyPI `kis-trader`), unmodified, against fakekis: only its two host tables are pointed here.

kis-trader is a typed, maintained client with its own realtime stack (websockets on a background thread,
a dispatch thread for callbacks, registry of per-TR record widths, fail-closed on a width it does not
know). It runs the whole documented path: tokenP -> inquire-price (its `Quote`), Approval (body key
`secretkey`) -> `ws://.../` -> subscribe with the approval key in every message -> data frames split
by the record count -> typed `StockTick` / `StockOrderBook`.

What each test catches:
- a token or inquire-price answer kis-trader cannot parse (its `Quote` requires stck_prpr, stck_oprc,
  stck_hgpr, stck_lwpr, stck_sdpr, prdy_vrss, prdy_ctrt, acml_vol to be decimals);
- an ack, PINGPONG or data frame it cannot parse, or records split differently from how fakekis wrote
  them: every record must arrive as one typed event carrying the tape's price, volume and time, in order;
- an unsubscribe fakekis does not honour (trades keep reaching the socket) or answers with the wrong code;
- the layout era: kis-trader 0.12.2 knows only the widths KIS has sent since September 2026
  (H0STCNT0 47, H0STASP0 63) and drops any other frame whole; on an older bundled recording that is
  a strict expected failure, as it would be against real KIS before then.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from compat_clients import (
    CLOSED_REST,
    CLOSED_WS,
    Era,
    Inbox,
    emitted,
    era_params,
    frames_of,
    records,
    require,
)

kis_trader = require("kis_trader", "kis-trader")
_endpoints = require("kis_trader._internal._endpoints", "kis-trader")  # its host tables

pytestmark = pytest.mark.ws

ACCOUNT = "50123456-01"
# fakekis's environments and kis-trader's names for them.
ENVIRONMENT = {"live": "real", "mock": "paper"}
SYMBOL = "005930"


def _kis_trader_reads(era: Era) -> str | None:
    if (era.trade_fields, era.book_fields) == (47, 63):
        return None
    return (
        f"kis-trader 0.12.2 registers H0STCNT0 as 47 and H0STASP0 as 63 fields (the layouts since "
        f"2026-09-14/22) and drops frames of {era.trade_fields}/{era.book_fields} whole "
        f"('필드 수 불일치'): real KIS in that era would lose every record too"
    )


def _point_at(fake_kis: Any, monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    """kis-trader's REST and WebSocket host tables, for the whole test: the served environment goes to
    fakekis, the other one to a closed port (never to real KIS)."""
    for fake_env, name in ENVIRONMENT.items():
        served = fake_env == env
        monkeypatch.setitem(
            _endpoints._BASE_URL_BY_ENVIRONMENT, name, fake_kis.rest_url if served else CLOSED_REST
        )
        monkeypatch.setitem(
            _endpoints._WEBSOCKET_URL_BY_ENVIRONMENT, name, fake_kis.ws_url if served else CLOSED_WS
        )


@pytest.mark.parametrize(("era", "env"), era_params(("live", "mock"), _kis_trader_reads))
def test_quote_then_trades_and_books_record_for_record(
    fake_kis: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, era: Era, env: str
) -> None:
    _point_at(fake_kis, monkeypatch, env)
    kis = kis_trader.KISClient(
        app_key=fake_kis.appkey,
        app_secret=fake_kis.appsecret,
        account=ACCOUNT,
        environment=ENVIRONMENT[env],
        token_cache_dir=tmp_path,  # its token cache is per app key on disk: keep it out of $HOME
    )
    rt = None
    try:
        quote = kis.domestic.stock(SYMBOL).quote()  # tokenP, then inquire-price FHKST01010100
        first = records("H0STCNT0", SYMBOL, frames_of(era.recording))[0]
        assert (quote.current_price, quote.volume) == (Decimal(first[2]), int(first[13]))  # day state at open
        assert quote.low <= quote.current_price <= quote.high

        rt = kis.realtime()  # Approval
        trades: Inbox[Any] = Inbox("kis-trader")
        books: Inbox[Any] = Inbox("kis-trader")
        handle = rt.domestic.stock(SYMBOL)
        trade_sub = handle.trades(on=trades.put)
        book_sub = handle.order_book(on=books.put)
        rt.start(timeout=10)  # connects, then sends both subscriptions
        fake_kis.wait_until(lambda s: s["acks"].get("OPSP0000") == 2)
        fake_kis.advance(30.0)
        sent = emitted(fake_kis, era.recording)
        want_trades, want_books = records("H0STCNT0", SYMBOL, sent), records("H0STASP0", SYMBOL, sent)
        assert want_trades and want_books
        got = trades.wait(lambda items: len(items) >= len(want_trades), "every trade record")
        assert [(t.symbol, t.current_price, t.trade_volume, t.accumulated_volume, t.time) for t in got] == [
            (SYMBOL, Decimal(r[2]), int(r[12]), int(r[13]), r[1]) for r in want_trades
        ]
        got_books = books.wait(lambda items: len(items) >= len(want_books), "every order book")
        assert [(b.time, b.best_ask, b.best_bid, b.best_ask_quantity) for b in got_books] == [
            (r[1], Decimal(r[3]), Decimal(r[13]), int(r[23])) for r in want_books
        ]

        trade_sub.close()  # the last typed subscription of the pair: tr_type 2 -> OPSP0001
        fake_kis.wait_until(lambda s: s["acks"].get("OPSP0001") == 1)
        fake_kis.advance(30.0)
        sent = emitted(fake_kis, era.recording)
        books.wait(
            lambda items: len(items) == len(records("H0STASP0", SYMBOL, sent)), "books after the unsubscribe"
        )
        assert len(trades.items) == len(want_trades)  # no trade callback after the unsubscribe
        assert fake_kis.stats()["open_sessions"][0]["subscriptions"] == [["H0STASP0", SYMBOL]]
        book_sub.close()
        rt.stop(timeout=5)
        # Everything the socket delivered, subscribed or not (its stream() queue ends at stop): the
        # callbacks filter by subscription, so only this shows a trade fakekis sent after the unsubscribe.
        delivered = [m.tr_id for m in rt.stream(timeout=5)]
        assert delivered.count("H0STCNT0") == len(want_trades)
        assert delivered.count("H0STASP0") == len(books.items)
    finally:
        if rt is not None:
            rt.stop(timeout=5)  # joins its receive and dispatch threads
        kis.close()
