"""The matching engine's documented rules (docs/paper-trading.md, "Matching"), one case each, on hand-made
tape frames."""

from __future__ import annotations

from conftest import trade
from fakekis.exchange.matching import BUY, SELL, Engine, Fill
from fakekis.wire import frames


def t(price: int, volume: int, hhmmss: str = "090001") -> str:
    return frames.data_frame("H0STCNT0", [trade("005930", hhmmss, price, 71_000, 1_000, qty=volume)])


def book(asks: list[tuple[int, int]], bids: list[tuple[int, int]], hhmmss: str = "090000") -> str:
    rec = ["005930", hhmmss, "0"] + ["0"] * 60
    for i, (p, q) in enumerate(asks):
        rec[3 + i], rec[23 + i] = str(p), str(q)
    for i, (p, q) in enumerate(bids):
        rec[13 + i], rec[33 + i] = str(p), str(q)
    return frames.data_frame("H0STASP0", [rec])


def feed(e: Engine, text: str) -> list[Fill]:
    tr_id = text.split("|")[1]
    return e.feed(tr_id, text, 1, "005930")


def test_a_resting_buy_waits_for_the_queue_ahead_at_its_price_then_fills_at_the_trade_price() -> None:
    e = Engine()
    feed(e, book([(71_100, 50)], [(71_000, 30)]))
    assert e.submit("1", "005930", BUY, 71_000, 10) == []  # rests behind the 30 shown at 71,000
    assert feed(e, t(71_000, 25)) == []  # 25 of the 30 ahead traded
    assert feed(e, t(71_000, 8)) == [Fill("1", 3, 71_000, "090001", "trade")]  # 5 more ahead, then 3 of ours
    assert feed(e, t(70_900, 100)) == [Fill("1", 7, 70_900, "090001", "trade")]  # traded through: all of it


def test_a_smaller_book_at_our_price_shortens_the_queue_never_lengthens_it() -> None:
    e = Engine()
    feed(e, book([(71_100, 50)], [(71_000, 30)]))
    e.submit("1", "005930", BUY, 71_000, 10)
    feed(e, book([(71_100, 50)], [(71_000, 4)]))  # someone ahead cancelled
    feed(e, book([(71_100, 50)], [(71_000, 400)]))  # joiners queue behind us
    assert feed(e, t(71_000, 6)) == [Fill("1", 2, 71_000, "090001", "trade")]


def test_one_trade_volume_is_shared_by_price_then_time_priority() -> None:
    e = Engine()
    e.submit("a", "005930", BUY, 71_000, 5)
    e.submit("b", "005930", BUY, 71_100, 5)
    e.submit("c", "005930", SELL, 70_900, 2)
    fills = feed(e, t(70_900, 7))
    assert fills == [
        Fill("b", 5, 70_900, "090001", "trade"),
        Fill("a", 2, 70_900, "090001", "trade"),
        Fill("c", 2, 70_900, "090001", "trade"),
    ]


def test_a_market_order_walks_the_book_then_the_last_trade_and_book_volume_is_used_up() -> None:
    e = Engine()
    feed(e, t(71_000, 1, "090000"))
    feed(e, book([(71_100, 3), (71_200, 4)], [(71_000, 9)]))
    assert e.submit("1", "005930", BUY, 0, 10) == [
        Fill("1", 3, 71_100, "090000", "book"),
        Fill("1", 4, 71_200, "090000", "book"),
        Fill("1", 3, 71_000, "090000", "trade"),  # the book ran out: the last trade's price
    ]
    assert e.submit("2", "005930", BUY, 71_200, 1) == []  # nothing left at <= 71,200 until the next book


def test_a_market_order_with_no_tape_yet_waits_for_the_next_trade() -> None:
    e = Engine()
    assert e.submit("1", "005930", SELL, 0, 4) == []
    assert feed(e, t(70_500, 10)) == [Fill("1", 4, 70_500, "090001", "trade")]


def test_a_cancel_that_arrives_first_wins_and_one_after_the_fill_takes_nothing() -> None:
    e = Engine()
    e.submit("1", "005930", BUY, 71_000, 5)
    e.submit("2", "005930", BUY, 71_000, 5)
    assert e.cancel("1") == 5
    assert feed(e, t(70_000, 100)) == [Fill("2", 5, 70_000, "090001", "trade")]
    assert e.cancel("2") == 0 and e.resting("2") == 0


def test_a_limit_sell_is_not_filled_by_trades_below_it() -> None:
    e = Engine()
    e.submit("1", "005930", SELL, 72_000, 5)
    assert feed(e, t(71_900, 100)) == []
    assert feed(e, t(72_100, 2)) == [Fill("1", 2, 72_100, "090001", "trade")]


def test_fok_fills_all_at_once_or_nothing_and_ioc_leaves_its_remainder_for_the_caller() -> None:
    e = Engine()
    feed(e, book([(71_100, 3), (71_200, 4)], [(71_000, 9)]))
    assert e.submit("f", "005930", BUY, 71_100, 5, "FOK") == []  # only 3 at <= 71,100: killed whole
    assert e.cancel("f") == 5
    assert e.submit("i", "005930", BUY, 71_100, 5, "IOC") == [Fill("i", 3, 71_100, "090000", "book")]
    assert e.cancel("i") == 2  # the caller cancels the remainder at once
    assert e.submit("g", "005930", BUY, 71_200, 4, "FOK") == [Fill("g", 4, 71_200, "090000", "book")]
