"""KRX session: weekdays 09:00-15:30 KST minus the XKRX holidays from the `holidays` package."""

from __future__ import annotations

import pytest

from conftest import kst
from gateway.market import KrxCalendar


@pytest.mark.parametrize(
    "instant, is_open",
    [
        (kst(2026, 11, 25, 9, 0), True),
        (kst(2026, 11, 25, 15, 29, 59), True),
        (kst(2026, 11, 25, 8, 59, 59), False),
        (kst(2026, 11, 25, 15, 30), False),
        (kst(2026, 11, 28, 10, 0), False),  # Saturday
        (kst(2026, 11, 29, 10, 0), False),  # Sunday
        (kst(2026, 9, 25, 10, 0), False),  # Chuseok
        (kst(2026, 12, 31, 10, 0), False),  # KRX year-end closing day
        (kst(2026, 1, 2, 10, 0), True),
    ],
)
def test_open(instant: float, is_open: bool) -> None:
    assert KrxCalendar().is_open(instant) is is_open


def test_why_closed_names_the_reason() -> None:
    cal = KrxCalendar()
    assert "Saturday" in cal.why_closed(kst(2026, 11, 28, 10, 0))
    assert "holiday" in cal.why_closed(kst(2026, 9, 25, 10, 0))
    assert "outside the session" in cal.why_closed(kst(2026, 11, 25, 16, 0))
    assert cal.why_closed(kst(2026, 11, 25, 10, 0)) is None


def test_hours_are_configurable_and_checked() -> None:
    assert KrxCalendar.from_hours("08:00-20:00").is_open(kst(2026, 11, 25, 19, 0))
    for bad in ("9-15", "15:30-09:00", "nine"):
        with pytest.raises(ValueError):
            KrxCalendar.from_hours(bad)


def test_the_per_minute_answer_changes_exactly_at_the_bell() -> None:
    """why_closed is kept per minute (it is asked on every quote request); one calendar, asked in order
    and out of order, must still flip at 15:30:00 and back, and across days."""
    cal = KrxCalendar()
    asks = [
        (kst(2026, 11, 25, 15, 29, 0), None),
        (kst(2026, 11, 25, 15, 29, 59) + 0.999, None),
        (kst(2026, 11, 25, 15, 30, 0), "15:30 KST is outside the session 09:00-15:30"),
        (kst(2026, 11, 25, 15, 29, 30), None),
        (kst(2026, 11, 28, 15, 29, 30), "2026-11-28 is a Saturday"),
        (kst(2026, 11, 25, 8, 59, 59), "08:59 KST is outside the session 09:00-15:30"),
        (kst(2026, 11, 25, 9, 0, 0), None),
    ]
    assert [cal.why_closed(t) for t, _ in asks] == [want for _, want in asks]
