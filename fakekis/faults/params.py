"""Fault parameters as checked data: each field says its allowed values, so a scenario is refused when it
is loaded, with one line naming the file, line, key and what is allowed (issue #12: `every: 0` stopped the
replay, `limit: 'x'` gave close 1011 on every subscribe, NaN or negative intervals froze the loop).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import Field, field
from typing import Any

MAX_SECONDS = 1_000_000.0  # about 11.5 days: longer than any run, short enough for any timer
# Close codes a server may send (RFC 6455 §7.4: 1004-1006 and 1015 are never sent; 3000-4999 are free).
CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})


class ScenarioError(ValueError):
    pass


class Check:
    """A parameter's allowed values: `allowed` says them in words, `accepts` tests a value."""

    def __init__(self, allowed: str, accepts: Callable[[object], bool]) -> None:
        self.allowed, self.accepts = allowed, accepts


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def seconds(*, positive: bool = False) -> Check:
    low = "more than 0" if positive else "0"
    return Check(
        f"a number of seconds from {low} to {MAX_SECONDS:.0f}",
        lambda v: (
            _number(v)
            and math.isfinite(v)  # type: ignore[arg-type]
            and (0 < v if positive else 0 <= v)  # type: ignore[operator]
            and v <= MAX_SECONDS  # type: ignore[operator]
        ),
    )


def count(low: int, high: int = 1_000_000) -> Check:
    return Check(
        f"a whole number from {low} to {high}",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high,
    )


def one_of(*values: str) -> Check:
    return Check("one of " + ", ".join(values), lambda v: v in values)


def text(max_len: int, forbidden: str = "") -> Check:
    bad = f" without {' or '.join(repr(c) for c in forbidden)}" if forbidden else ""
    return Check(
        f"a string of at most {max_len} characters{bad}",
        lambda v: isinstance(v, str) and len(v) <= max_len and not any(c in v for c in forbidden),
    )


def close_code() -> Check:
    return Check(
        "null (drop without a close frame) or a close code: "
        + ", ".join(map(str, sorted(CLOSE_CODES)))
        + " or 3000 to 4999",
        lambda v: (
            v is None
            or (isinstance(v, int) and not isinstance(v, bool) and (v in CLOSE_CODES or 3000 <= v <= 4999))
        ),
    )


def param(default: Any, check: Check) -> Any:
    """A fault parameter: its default and its allowed values (read by `check_param` and the catalogue)."""
    return field(default=default, metadata={"check": check})


def check_param(f: Field[Any], value: object) -> str | None:
    """None if `value` is allowed for parameter `f`, else what is allowed."""
    check = f.metadata.get("check")
    if check is None or check.accepts(value):
        return None
    return f"{value!r} is not allowed (allowed: {check.allowed})"
