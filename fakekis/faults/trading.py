"""Trading-path faults (F15, docs/paper-trading.md): KIS refuses an order it would take, answers orders late,
throttles them, or delays or loses a fill notice. Refusals and the budget use the REST plug point
(`rest(kind, now)`, kind "order:<env>"); the delays and the lost notices are `TradingFault` plug points the
trading shell and the server consult through `order_delay` and `notice_delay` below."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fakekis.exchange.auth import gateway_error
from fakekis.exchange.refusals import answer
from fakekis.faults.base import Counter, Fault, RestAnswer
from fakekis.faults.params import count, one_of, param, seconds

_REASONS = {"cash": "cash", "tick": "tick", "closed": "after"}


class TradingFault(Fault[Any]):
    """A fault with the trading plug points (defaults: no change)."""

    def order_delay(self, state: Any, now: float) -> float:
        """Seconds (exchange clock) before an order is taken and answered."""
        return 0.0

    def notice_delay(self, state: Any, now: float) -> float | None:
        """Seconds before a fill notice goes out; None: it never does."""
        return 0.0


def _order_env(kind: str) -> str | None:
    head, _, env = kind.partition(":")
    return env if head == "order" and env in ("live", "mock") else None


@dataclass(frozen=True)
class OrderReject(Fault[Counter]):
    name, f = "order-reject", "F15"
    summary = (
        "the first `times` orders are refused with KIS's answer for `reason`: cash (APBK0952/40250000), "
        "tick (off-tick price) or closed (APBK0918/40580000)"
    )
    gateway = "a bot reads rt_cd/msg_cd, does not assume the order exists, and does not resend blindly"
    reason: str = param("cash", one_of(*_REASONS))
    times: int = param(1, count(0))

    def state(self) -> Counter:
        return Counter()

    def rest(self, state: Counter, kind: str, now: float) -> RestAnswer | None:
        env = _order_env(kind)
        if env is None or state.n >= self.times:
            return None
        state.n += 1
        return 200, answer(_REASONS[self.reason], env).body()


@dataclass(frozen=True)
class OrderTps(Fault[Counter]):
    name, f = "order-tps", "F15"
    summary = (
        "the first `times` order calls get HTTP 500 EGW00201 (per-second limit exceeded); no order is made"
    )
    gateway = "a bot retries after a short pause and counts the order as not placed until it is answered"
    times: int = param(1, count(0))

    def state(self) -> Counter:
        return Counter()

    def rest(self, state: Counter, kind: str, now: float) -> RestAnswer | None:
        if _order_env(kind) is None or state.n >= self.times:
            return None
        state.n += 1
        return 500, dict[str, object](gateway_error("EGW00201", "초당 거래건수를 초과하였습니다."))


@dataclass(frozen=True)
class AcceptanceDelay(TradingFault):
    name, f = "acceptance-delay", "F15"
    summary = "every order is taken (and answered, and its acceptance notice sent) `after_s` seconds late"
    gateway = (
        "a bot has a deadline on the order call longer than this, and matches fills by ODNO, not by order"
    )
    after_s: float = param(2.0, seconds(positive=True))

    def order_delay(self, state: Any, now: float) -> float:
        return self.after_s


@dataclass(frozen=True)
class NoticeDelay(TradingFault):
    name, f = "notice-delay", "F15"
    summary = "every fill notice (H0STCNI0/H0STCNI9) reaches the client `after_s` seconds late"
    gateway = "a bot does not treat a missing notice as no fill; it checks inquire-daily-ccld"
    after_s: float = param(5.0, seconds(positive=True))

    def notice_delay(self, state: Any, now: float) -> float | None:
        return self.after_s


@dataclass(frozen=True)
class NoticeLost(TradingFault):
    name, f = "notice-lost", "F15"
    summary = "every `every`-th fill notice (acceptances and fills alike) is never sent"
    gateway = "a bot reconciles with inquire-daily-ccld / inquire-balance instead of trusting notices alone"
    every: int = param(2, count(1))

    def state(self) -> Counter:
        return Counter()

    def notice_delay(self, state: Any, now: float) -> float | None:
        state.n += 1
        return None if state.n % self.every == 0 else 0.0


def order_delay(run: Any, now: float) -> float:
    """The longest order delay the running scenario asks for (0 without faults)."""
    pairs = getattr(run, "pairs", ())
    return max([f.order_delay(st, now) for f, st in pairs if isinstance(f, TradingFault)], default=0.0)


def notice_delay(run: Any, now: float) -> float | None:
    """How late this notice goes out: None (lost) if any fault loses it, else the longest delay."""
    delays = [f.notice_delay(st, now) for f, st in getattr(run, "pairs", ()) if isinstance(f, TradingFault)]
    return None if None in delays else max([d for d in delays if d is not None], default=0.0)
