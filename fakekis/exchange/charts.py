"""Daily, period and minute charts (docs/kis/endpoints.md §A3–§A6) from a symbol's folded state and the
seeded history before the tape (`history.py`).

Today's daily bar is the day candle the last trade carries; earlier days are the history, whose last close
is the tape's previous close. Today's minute bars are the fold's; a past day's are drawn from its daily bar.
Every answer is a slice of at most a few hundred bars: nothing here looks at the tape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from fakekis.exchange.candles import Bar, between, fold
from fakekis.exchange.history import minutes_of
from fakekis.exchange.market import MarketState, SymbolState
from fakekis.rules.prices import limit_prices

DAILY_PRICE_ROWS = 30  # §A3
ITEMCHART_ROWS = 100  # §A4
TIME_CHART_ROWS = 30  # §A5
DAILY_MINUTE_ROWS = 120  # §A6
SESSION_END = {"J": 1530, "NX": 2000, "UN": 2000}  # the last minute a venue trades (protocol.md §6; §D3)

DAILY_PRICE_KEYS = (
    "stck_bsop_date stck_oprc stck_hgpr stck_lwpr stck_clpr acml_vol prdy_vrss_vol_rate prdy_vrss "
    "prdy_vrss_sign prdy_ctrt hts_frgn_ehrt frgn_ntby_qty flng_cls_code acml_prtt_rate"
).split()
ITEMCHART_OUTPUT1_KEYS = (
    "prdy_vrss prdy_vrss_sign prdy_ctrt stck_prdy_clpr acml_vol acml_tr_pbmn hts_kor_isnm stck_prpr "
    "stck_shrn_iscd prdy_vol stck_mxpr stck_llam stck_oprc stck_hgpr stck_lwpr stck_prdy_oprc stck_prdy_hgpr "
    "stck_prdy_lwpr askp bidp prdy_vrss_vol vol_tnrt stck_fcam lstn_stcn cpfn hts_avls per eps pbr"
).split() + ["itewhol_loan_rmnd_ratem name"]  # the spaced key, as 4+ clients read it (§8 #4)
ITEMCHART_OUTPUT2_KEYS = (
    "stck_bsop_date stck_clpr stck_oprc stck_hgpr stck_lwpr acml_vol acml_tr_pbmn flng_cls_code prtt_rate "
    "mod_yn prdy_vrss_sign prdy_vrss revl_issu_reas"
).split()
TIME_OUTPUT1_KEYS = (
    "prdy_vrss prdy_vrss_sign prdy_ctrt stck_prdy_clpr acml_vol acml_tr_pbmn hts_kor_isnm stck_prpr"
).split()
TIME_OUTPUT2_KEYS = (
    "stck_bsop_date stck_cntg_hour stck_prpr stck_oprc stck_hgpr stck_lwpr cntg_vol acml_tr_pbmn"
).split()


def _sign(diff: int) -> str:
    return "2" if diff > 0 else "5" if diff < 0 else "3"


def _rate(num: int, den: int, places: str = "0.01") -> str:
    if not den:
        return "0.00"
    return str((Decimal(num) * 100 / Decimal(den)).quantize(Decimal(places), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Daily:
    """A symbol's daily bars, oldest first, today's last (when the tape has traded it)."""

    bars: list[Bar]
    prev_of_first: int  # the close before bars[0] (its previous close)


def daily_bars(market: MarketState, symbol: str, st: SymbolState) -> Daily:
    today = market.today(st)
    prev = st.prev_close or 0
    history = market.history.daily(symbol, today, prev, st.prev_volume)
    bars = list(history)
    if st.candle is not None:
        bars.append(st.candle)
    first_prev = bars[0].open if bars else prev
    return Daily(bars, first_prev)


def _with_prev(bars: list[Bar], before: int) -> list[tuple[Bar, Bar | None, int]]:
    """(bar, the bar before it, the close before it) for each bar."""
    out: list[tuple[Bar, Bar | None, int]] = []
    prev_bar: Bar | None = None
    prev_close = before
    for b in bars:
        out.append((b, prev_bar, prev_close))
        prev_bar, prev_close = b, b.close
    return out


def daily_price(
    market: MarketState, symbol: str, st: SymbolState | None, period: str
) -> list[dict[str, str]]:
    """inquire-daily-price's `output`: the last 30 days, weeks or months, newest first."""
    if st is None:
        return []
    daily = daily_bars(market, symbol, st)
    rows = []
    for b, pb, pc in _with_prev(fold(daily.bars, period), daily.prev_of_first)[-DAILY_PRICE_ROWS:]:
        diff = b.close - pc
        row = dict.fromkeys(DAILY_PRICE_KEYS, "0")
        row.update(
            stck_bsop_date=b.day,
            stck_oprc=str(b.open),
            stck_hgpr=str(b.high),
            stck_lwpr=str(b.low),
            stck_clpr=str(b.close),
            acml_vol=str(b.volume),
            prdy_vrss_vol_rate=_rate(b.volume, pb.volume, "0.0001") if pb else "0.0000",
            prdy_vrss=str(diff),
            prdy_vrss_sign=_sign(diff),
            prdy_ctrt=_rate(diff, pc),
            hts_frgn_ehrt="0.00",
            flng_cls_code="00",
            acml_prtt_rate="0.00",
        )
        rows.append(row)
    rows.reverse()
    return rows


def itemchart_output1(market: MarketState, symbol: str, st: SymbolState | None, name: str) -> dict[str, str]:
    out = dict.fromkeys(ITEMCHART_OUTPUT1_KEYS, "0")
    out.update(stck_shrn_iscd=symbol, hts_kor_isnm=name)
    if st is None or st.last is None or st.candle is None or st.prev_close is None:
        return out
    rec, c, prev = st.last, st.candle, st.prev_close
    yesterday = market.history.daily(symbol, market.today(st), prev, st.prev_volume)
    y = yesterday[-1] if yesterday else Bar("", prev, prev, prev, prev, 0)
    upper, lower = limit_prices(prev)
    out.update(
        prdy_vrss=rec[4],
        prdy_vrss_sign=rec[3],
        prdy_ctrt=rec[5],
        stck_prdy_clpr=str(prev),
        acml_vol=str(c.volume),
        acml_tr_pbmn=str(c.amount),
        stck_prpr=str(c.close),
        prdy_vol=str(y.volume),
        stck_mxpr=str(upper),
        stck_llam=str(lower),
        stck_oprc=str(c.open),
        stck_hgpr=str(c.high),
        stck_lwpr=str(c.low),
        stck_prdy_oprc=str(y.open),
        stck_prdy_hgpr=str(y.high),
        stck_prdy_lwpr=str(y.low),
        askp=rec[10],
        bidp=rec[11],
        prdy_vrss_vol=str(c.volume - y.volume),
        vol_tnrt=rec[40],
    )
    return out


def itemchart(
    market: MarketState, symbol: str, st: SymbolState | None, start: str, end: str, period: str
) -> list[dict[str, str]]:
    """inquire-daily-itemchartprice's `output2`: the newest 100 bars of `period` over the days in
    [start, end], newest first. A period bar folds only the days inside the range."""
    if st is None:
        return []
    daily = daily_bars(market, symbol, st)
    inside = between(daily.bars, start, end)
    if not inside:
        return []
    before = next((b.close for b in reversed(daily.bars) if b.day < inside[0].day), daily.prev_of_first)
    rows = []
    for b, _, pc in _with_prev(fold(inside, period), before)[-ITEMCHART_ROWS:]:
        diff = b.close - pc
        row = dict.fromkeys(ITEMCHART_OUTPUT2_KEYS, "")
        row.update(
            stck_bsop_date=b.day,
            stck_clpr=str(b.close),
            stck_oprc=str(b.open),
            stck_hgpr=str(b.high),
            stck_lwpr=str(b.low),
            acml_vol=str(b.volume),
            acml_tr_pbmn=str(b.amount),
            flng_cls_code="00",
            prtt_rate="0.00",
            mod_yn="N",
            prdy_vrss_sign=_sign(diff),
            prdy_vrss=str(diff),
        )
        rows.append(row)
    rows.reverse()
    return rows


def time_output1(st: SymbolState | None, name: str) -> dict[str, str]:
    out = dict.fromkeys(TIME_OUTPUT1_KEYS, "0")
    out["hts_kor_isnm"] = name
    if st is None or st.last is None or st.candle is None:
        return out
    rec = st.last
    out.update(
        prdy_vrss=rec[4],
        prdy_vrss_sign=rec[3],
        prdy_ctrt=rec[5],
        stck_prdy_clpr=str(st.prev_close or 0),
        acml_vol=str(st.candle.volume),
        acml_tr_pbmn=str(st.candle.amount),
        stck_prpr=rec[2],
    )
    return out


def _minute_row(b: Bar) -> dict[str, str]:
    h, m = divmod(b.minute, 100)
    return {
        "stck_bsop_date": b.day,
        "stck_cntg_hour": f"{h:02d}{m:02d}00",
        "stck_prpr": str(b.close),
        "stck_oprc": str(b.open),
        "stck_hgpr": str(b.high),
        "stck_lwpr": str(b.low),
        "cntg_vol": str(b.volume),
        "acml_tr_pbmn": str(b.acml_amount),
    }


def minute_bars(
    market: MarketState, symbol: str, st: SymbolState | None, venue: str, day: str, hhmmss: str, rows: int
) -> tuple[list[dict[str, str]], bool]:
    """Up to `rows` one-minute bars of `day` at or before `hhmmss` (and now), newest first, and whether
    older bars of that day remain (for `tr_cont`)."""
    if st is None:
        return [], False
    minute = int(hhmmss[:4])
    bars = st.minutes.get(day)
    if bars is not None:
        now = market.now()
        now_minute = now.hour * 100 + now.minute if now.strftime("%Y%m%d") == day else -1
        fill = min(now_minute, SESSION_END.get(venue, 1530)) if now_minute >= 0 else -1
        got = bars.upto(min(minute, fill) if fill >= 0 else minute, rows + 1, fill)
    else:
        got = _past_minutes(market, symbol, st, day, minute, rows + 1)
    return [_minute_row(b) for b in got[:rows]], len(got) > rows


def _past_minutes(
    market: MarketState, symbol: str, st: SymbolState, day: str, minute: int, limit: int
) -> list[Bar]:
    daily = daily_bars(market, symbol, st)
    bar = next((b for b in daily.bars if b.day == day), None)
    if bar is None or bar is st.candle:
        return []
    older = [b for b in minutes_of(bar, market.history.seed, symbol) if b.minute <= minute]
    return older[::-1][:limit]


def today_text(market: MarketState, st: SymbolState | None) -> str:
    day: date = market.today(st)
    return day.strftime("%Y%m%d")
