"""Paper accounts and the order ledger, sans-I/O: cash, holdings, reservations, and every order's state.

An account is (environment, CANO, ACNT_PRDT_CD): live and mock accounts are apart, like their appkeys
(docs/kis/protocol.md §7), and each has its own deposit. An account KIS has never seen is opened on first
use with the start cash (`start_cash`, default 10,000,000 KRW, the mock deposit python-kis users see);
tests seed others with `seed`.

Money model (docs/paper-trading.md): cash only (no credit, no short selling), no commission or tax, and
settlement is immediate (what a sell brings in can buy again at once, as KIS's 재사용가능금액 allows). A buy
reserves price x quantity of cash (a market buy reserves at the upper price limit, as KIS does, §D2); a
sell reserves the shares. A fill moves cash and shares at the fill price and releases its reservation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_START_CASH = 10_000_000


@dataclass
class Position:
    qty: int = 0
    cost: int = 0  # 매입금액: what the shares held cost (average cost basis)
    reserved: int = 0  # shares promised to resting sells
    bought_today: int = 0
    sold_today: int = 0


@dataclass
class Account:
    env: str
    cano: str
    prdt: str
    cash: int
    name: str = "fakekis"
    reserved: int = 0  # cash promised to resting buys
    bought: int = 0  # 금일매수금액
    sold: int = 0  # 금일매도금액
    positions: dict[str, Position] = field(default_factory=dict)

    @property
    def number(self) -> str:
        return self.cano + self.prdt

    @property
    def orderable(self) -> int:
        return self.cash - self.reserved

    def position(self, symbol: str) -> Position:
        p = self.positions.get(symbol)
        if p is None:
            p = self.positions[symbol] = Position()
        return p

    def as_dict(self) -> dict[str, object]:
        return {
            "env": self.env,
            "account": f"{self.cano}-{self.prdt}",
            "cash": self.cash,
            "reserved_cash": self.reserved,
            "orderable_cash": self.orderable,
            "holdings": {
                s: {"qty": p.qty, "cost": p.cost, "reserved": p.reserved}
                for s, p in sorted(self.positions.items())
                if p.qty or p.reserved or p.bought_today or p.sold_today
            },
        }


@dataclass
class Order:
    """One line of the ledger: an order, or a modify/cancel order that points at `orgn_odno`."""

    odno: str
    env: str
    cano: str
    prdt: str
    appkey: str
    symbol: str
    side: str  # "01" sell, "02" buy
    dvsn: str  # ORD_DVSN
    qty: int
    price: int  # 0: market
    venue: str
    date: str  # YYYYMMDD
    time: str  # HHMMSS
    reserve_price: int = 0  # the cash reserved per share (buys)
    orgn_odno: str = ""
    kind: str = "new"  # new, modify, cancel
    filled: int = 0
    amount: int = 0  # Σ fill qty x price
    cancelled: int = 0
    rejected: int = 0

    @property
    def remaining(self) -> int:
        return 0 if self.kind == "cancel" else self.qty - self.filled - self.cancelled

    def as_dict(self) -> dict[str, object]:
        return {
            "odno": self.odno,
            "orgn_odno": self.orgn_odno,
            "kind": self.kind,
            "env": self.env,
            "account": f"{self.cano}-{self.prdt}",
            "symbol": self.symbol,
            "side": "buy" if self.side == "02" else "sell",
            "ord_dvsn": self.dvsn,
            "qty": self.qty,
            "price": self.price,
            "venue": self.venue,
            "time": self.time,
            "filled": self.filled,
            "amount": self.amount,
            "cancelled": self.cancelled,
            "remaining": self.remaining,
        }


class Accounts:
    """Every account of one fakekis run, by (env, CANO, ACNT_PRDT_CD)."""

    def __init__(self, start_cash: int = DEFAULT_START_CASH) -> None:
        if start_cash < 0:
            raise ValueError("start_cash must be >= 0")
        self.start_cash = start_cash
        self.accounts: dict[tuple[str, str, str], Account] = {}

    def get(self, env: str, cano: str, prdt: str) -> Account:
        a = self.accounts.get((env, cano, prdt))
        if a is None:
            a = self.accounts[(env, cano, prdt)] = Account(env, cano, prdt, self.start_cash)
        return a

    def seed(
        self,
        env: str,
        cano: str,
        prdt: str = "01",
        cash: int | None = None,
        holdings: dict[str, tuple[int, int]] | None = None,
    ) -> Account:
        """Set an account's cash and holdings ({symbol: (qty, average price)}) before trading."""
        a = self.get(env, cano, prdt)
        if cash is not None:
            if cash < 0:
                raise ValueError("cash must be >= 0")
            a.cash = cash
        for symbol, (qty, avg) in (holdings or {}).items():
            if qty < 0 or avg < 0:
                raise ValueError("holdings need qty >= 0 and average price >= 0")
            p = a.position(symbol)
            p.qty, p.cost = qty, qty * avg
        return a

    # -- money moves -------------------------------------------------------------------------
    @staticmethod
    def reserve(a: Account, o: Order) -> None:
        if o.side == "02":
            a.reserved += o.reserve_price * o.qty
        else:
            a.position(o.symbol).reserved += o.qty

    @staticmethod
    def release(a: Account, o: Order, qty: int) -> None:
        """`qty` of order `o` will never fill (cancelled, expired): give back its reservation."""
        if o.side == "02":
            a.reserved -= o.reserve_price * qty
        else:
            a.position(o.symbol).reserved -= qty

    @staticmethod
    def fill(a: Account, o: Order, qty: int, price: int) -> None:
        amount = qty * price
        o.filled += qty
        o.amount += amount
        p = a.position(o.symbol)
        if o.side == "02":
            a.reserved -= o.reserve_price * qty
            a.cash -= amount
            a.bought += amount
            p.qty += qty
            p.cost += amount
            p.bought_today += qty
        else:
            p.reserved -= qty
            a.cash += amount
            a.sold += amount
            p.cost -= p.cost * qty // p.qty if p.qty else 0
            p.qty -= qty
            p.sold_today += qty
