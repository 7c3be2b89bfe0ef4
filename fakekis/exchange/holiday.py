"""chk-holiday (국내휴장일조회, CTCA0903R): one row per calendar day from `BASS_DT`, 24 a page, the next
page's first day in `ctx_area_nk` padded to 20 characters (docs/kis/endpoints.md §A8, §0.2).

Rows come from the KRX calendar (`fakekis.rules.calendar`). `opnd_yn` (개장일, the field KIS says to
trade by) is that calendar; `bzdy_yn` (bank business day) and `sttl_day_yn` (settlement day) are the same
days here (INF: they differ from `opnd_yn` on a few days a year, e.g. 31 December); `tr_day_yn` is `Y` on
every row, as observed. One report saw 12 pages without an end; fakekis ends a year after `BASS_DT`
(INF), so a client that pages to the end terminates.
"""

from __future__ import annotations

from datetime import date, timedelta

from fakekis.rules.calendar import is_trading_day

ROWS = 24
SPAN_DAYS = 366  # rows from BASS_DT to the last page's end
CTX = 20  # ctx_area_fk / ctx_area_nk width
KEYS = ("bass_dt", "wday_dvsn_cd", "bzdy_yn", "tr_day_yn", "opnd_yn", "sttl_day_yn")


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


def row(day: date) -> dict[str, str]:
    open_ = is_trading_day(day)
    return {
        "bass_dt": day.strftime("%Y%m%d"),
        "wday_dvsn_cd": f"{(day.isoweekday() % 7) + 1:02d}",  # 01 Sunday ... 07 Saturday
        "bzdy_yn": _yn(open_),
        "tr_day_yn": "Y",
        "opnd_yn": _yn(open_),
        "sttl_day_yn": _yn(open_),
    }


def page(base: date, cursor: date | None) -> tuple[list[dict[str, str]], date | None]:
    """The rows of one page starting at `cursor` (or `base`), and the next page's first day (None at the
    end)."""
    first = cursor or base
    end = base + timedelta(days=SPAN_DAYS - 1)
    rows: list[dict[str, str]] = []
    day = first
    while len(rows) < ROWS and day <= end:
        rows.append(row(day))
        day += timedelta(days=1)
    return rows, (day if day <= end else None)
