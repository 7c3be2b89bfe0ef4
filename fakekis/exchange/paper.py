"""Paper trading on one environment, sans-I/O: order-cash and order-rvsecncl checked as KIS checks them,
matched by the engine against the tape, booked on the accounts, told on the fill-notice TR.

The REST shell (`fakekis/serve/trading.py`) passes the parsed body, the tr_id and the exchange's market
instant; the player passes every replayed frame (`on_frame`). Each call returns the JSON answer and the
notices to send (`notices.Notice`), in order: an order's acceptance before its fills.

Checks, in order (docs/paper-trading.md, "Checks"): required fields; the tr_id; the venue (mock: KRX only;
no market orders on NXT); ORD_DVSN (00 limit, 01 market are modelled); the symbol (one the tape knows);
the venue's session at the market instant; tick size and daily price limits; cash or shares. Each refusal
is KIS's (rt_cd, msg_cd, msg1) from `refusals.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from fakekis.exchange import notices
from fakekis.exchange.accounts import Account, Accounts, Order
from fakekis.exchange.matching import BUY, SELL, Engine, Fill
from fakekis.exchange.refusals import answer
from fakekis.rules.prices import limit_prices, tick_size
from fakekis.rules.sessions import order_window

# tr_id -> what it does; mock ids replace the leading T with V (docs/kis/endpoints.md §B0, §0.1)
_LIVE = {
    "TTTC0012U": "buy",
    "TTTC0802U": "buy",
    "TTTC0011U": "sell",
    "TTTC0801U": "sell",
    "TTTC0013U": "rvsecncl",
    "TTTC0803U": "rvsecncl",
}
ORDER_TRS = {"live": _LIVE, "mock": {"V" + k[1:]: v for k, v in _LIVE.items()}}
MODELLED_DVSN = {
    "00": "지정가",
    "01": "시장가",
    "11": "IOC지정가",
    "12": "FOK지정가",
    "13": "IOC시장가",
    "14": "FOK시장가",
}
MARKET_DVSN = frozenset({"01", "13", "14"})  # no price: ORD_UNPR "0", cash reserved at the upper limit
CONDITION = {"11": "IOC", "12": "FOK", "13": "IOC", "14": "FOK"}  # ODER_COND 1 IOC, 2 FOK (§5.3)
_ORDER_FIELDS = ("CANO", "ACNT_PRDT_CD", "PDNO", "ORD_DVSN", "ORD_QTY", "ORD_UNPR")
_RVSE_FIELDS = ("CANO", "ACNT_PRDT_CD", "ORGN_ODNO", "ORD_DVSN", "RVSE_CNCL_DVSN_CD", "ORD_QTY", "ORD_UNPR")

Result = tuple[dict[str, object], list[notices.Notice]]


def input_error(name: str) -> dict[str, object]:
    # The quotation routes' answer to a missing field (serve/rest.py); INF for the trading routes.
    return {"rt_cd": "1", "msg_cd": "OPSQ2001", "msg1": f"ERROR : INPUT_FIELD_NAME {name}"}


def _int(text: object) -> int | None:
    s = str(text).strip()
    return int(s) if s.isascii() and s.isdigit() else None


class Paper:
    def __init__(
        self,
        env: str,
        accounts: Accounts,
        prev_close: Mapping[str, int],
        name: Callable[[str], str] = lambda code: code,
        first_odno: int = 10_001,
    ) -> None:
        self.env, self.accounts, self.prev_close, self.name = env, accounts, prev_close, name
        self.engine = Engine()
        self.ledger: dict[str, Order] = {}  # odno (10 digits) -> order, in placing order
        self._next = first_odno
        self.notices_made = 0
        self.notices_sent = 0  # counted by the shell: frames that went out (one per registration)
        self.notices_lost = 0  # dropped by a fault (notice-lost)
        self.fills: list[tuple[str, int, int, str]] = []  # (odno, qty, price, HHMMSS), in fill order

    # -- the tape ----------------------------------------------------------------------------
    def on_frame(self, tr_id: str, text: str, count: int, symbol: str) -> list[notices.Notice]:
        fills = self.engine.feed(tr_id, text, count, symbol)
        return self._book_fills(fills) if fills else []

    # -- order-cash --------------------------------------------------------------------------
    def order_cash(self, appkey: str, what: str, body: Mapping[str, object], at: datetime) -> Result:
        for name in _ORDER_FIELDS:
            if str(body.get(name, "")).strip() == "":
                return input_error(name), []
        cano, prdt, symbol = str(body["CANO"]), str(body["ACNT_PRDT_CD"]), str(body["PDNO"])
        dvsn, qty, price = str(body["ORD_DVSN"]), _int(body["ORD_QTY"]), _int(body["ORD_UNPR"])
        venue = str(body.get("EXCG_ID_DVSN_CD") or "KRX").upper()
        if qty is None or qty <= 0 or price is None or len(cano) != 8 or len(prdt) != 2:
            return answer("body", self.env).body(), []
        refused = self._venue(venue, dvsn) or self._symbol(symbol) or self._session(venue, at)
        refused = refused or self._price(symbol, price, dvsn)
        if refused:
            return refused, []
        side = BUY if what == "buy" else SELL
        account = self.accounts.get(self.env, cano, prdt)
        upper, _ = limit_prices(self.prev_close[symbol])
        o = Order(
            self._odno(),
            self.env,
            cano,
            prdt,
            appkey,
            symbol,
            side,
            dvsn,
            qty,
            0 if dvsn in MARKET_DVSN else price,
            venue,
            at.strftime("%Y%m%d"),
            at.strftime("%H%M%S"),
        )
        o.reserve_price = o.price or upper
        short = self._afford(account, o)
        if short:
            return short, []
        return self._place(account, o, what, "accept")

    def _place(self, account: Account, o: Order, what: str, notice: str) -> Result:
        self.ledger[o.odno] = o
        Accounts.reserve(account, o)
        out = [self._notice(o, notice, o.qty, o.price, o.time)]
        condition = CONDITION.get(o.dvsn, "")
        fills = self.engine.submit(o.odno, o.symbol, o.side, o.price, o.qty, condition)
        out += self._book_fills(fills)
        if condition:  # IOC/FOK: what did not fill at once is cancelled by the exchange (ACPT_YN 3)
            left = self.engine.cancel(o.odno)
            if left:
                o.cancelled += left
                Accounts.release(account, o, left)
                out.append(self._notice(o, "expire", left, o.price, o.time))
        ok = answer(what, self.env)
        output = {"KRX_FWDG_ORD_ORGNO": notices.BRANCH[self.env], "ODNO": o.odno, "ORD_TMD": o.time}
        if self.env == "live":
            output["SOR_ODNO"] = ""  # seen empty in live captures (§B1)
        return {**ok.body(), "output": output}, out

    # -- order-rvsecncl ----------------------------------------------------------------------
    def rvsecncl(self, appkey: str, body: Mapping[str, object], at: datetime) -> Result:
        for name in _RVSE_FIELDS:
            if str(body.get(name, "")).strip() == "" and name != "ORD_UNPR":
                return input_error(name), []
        cano, prdt = str(body["CANO"]), str(body["ACNT_PRDT_CD"])
        code, dvsn = str(body["RVSE_CNCL_DVSN_CD"]), str(body["ORD_DVSN"])
        qty, price = _int(body["ORD_QTY"]), _int(body.get("ORD_UNPR") or "0")
        everything = str(body.get("QTY_ALL_ORD_YN", "Y")).upper() == "Y"
        if code not in ("01", "02") or qty is None or price is None:
            return answer("body", self.env).body(), []
        orig = self.find(cano, prdt, str(body["ORGN_ODNO"]))
        left = self.engine.resting(orig.odno) if orig is not None else 0
        if orig is None or left <= 0 or (not everything and qty <= 0):
            return answer("nothing", self.env).body(), []
        n = left if everything else min(qty, left)
        refused = self._session(orig.venue, at)
        if code == "01":
            if dvsn not in MODELLED_DVSN:
                return answer("dvsn", self.env).body(), []
            refused = refused or self._price(orig.symbol, price, dvsn)
        if refused:
            return refused, []
        account = self.accounts.get(self.env, cano, prdt)
        kind = "cancel" if code == "02" else "modify"
        new = Order(
            self._odno(),
            self.env,
            cano,
            prdt,
            appkey,
            orig.symbol,
            orig.side,
            dvsn if kind == "modify" else orig.dvsn,
            n,
            (0 if dvsn in MARKET_DVSN else price) if kind == "modify" else orig.price,
            orig.venue,
            at.strftime("%Y%m%d"),
            at.strftime("%H%M%S"),
            orgn_odno=orig.odno,
            kind=kind,
        )
        if kind == "modify":
            upper, _ = limit_prices(self.prev_close[orig.symbol])
            new.reserve_price = new.price or upper
            freed = orig.reserve_price * n if orig.side == BUY else 0
            if orig.side == BUY and new.reserve_price * n - freed > account.orderable:
                return answer("cash", self.env).body(), []
        taken = self.engine.cancel(orig.odno, n)
        orig.cancelled += taken
        Accounts.release(account, orig, taken)
        if kind == "cancel":
            self.ledger[new.odno] = new
            new.cancelled = taken
            ok = answer("cancel", self.env)
            output = {"KRX_FWDG_ORD_ORGNO": notices.BRANCH[self.env], "ODNO": new.odno, "ORD_TMD": new.time}
            return {**ok.body(), "output": output}, [self._notice(new, "cancel", taken, orig.price, new.time)]
        new.qty = taken
        return self._place(account, new, "modify", "modify")

    # -- helpers -----------------------------------------------------------------------------
    def find(self, cano: str, prdt: str, odno: str) -> Order | None:
        n = _int(odno)
        o = self.ledger.get(f"{n:010d}") if n is not None else None
        return o if o is not None and (o.cano, o.prdt) == (cano, prdt) and o.kind != "cancel" else None

    def orders(self) -> list[Order]:
        return list(self.ledger.values())

    def _odno(self) -> str:
        self._next += 1
        return f"{self._next - 1:010d}"

    def _venue(self, venue: str, dvsn: str) -> dict[str, object] | None:
        if venue not in ("KRX", "NXT", "SOR") or (self.env == "mock" and venue != "KRX"):
            return answer("venue", self.env).body()
        if dvsn not in MODELLED_DVSN:
            return answer("dvsn", self.env).body()
        if venue == "NXT" and dvsn == "01":  # NXT takes IOC/FOK market orders (13/14), not plain ones
            return answer("venue", self.env).body()
        return None

    def _symbol(self, symbol: str) -> dict[str, object] | None:
        return None if symbol in self.prev_close else answer("symbol", self.env).body()

    def _session(self, venue: str, at: datetime) -> dict[str, object] | None:
        state = order_window(venue, at.date(), int(at.strftime("%H%M%S")))
        return None if state == "open" else answer(state, self.env).body()

    def _price(self, symbol: str, price: int, dvsn: str) -> dict[str, object] | None:
        if dvsn in MARKET_DVSN:
            return None  # a market order's ORD_UNPR is "0" and is not read
        if price <= 0 or price % tick_size(price):
            return answer("tick", self.env).body()
        upper, lower = limit_prices(self.prev_close[symbol])
        return None if lower <= price <= upper else answer("limits", self.env).body()

    def _afford(self, a: Account, o: Order) -> dict[str, object] | None:
        if o.side == BUY:
            return None if o.reserve_price * o.qty <= a.orderable else answer("cash", self.env).body()
        p = a.position(o.symbol)
        return None if o.qty <= p.qty - p.reserved else answer("holdings", self.env).body()

    def _book_fills(self, fills: list[Fill]) -> list[notices.Notice]:
        out = []
        for f in fills:
            o = self.ledger[f.odno]
            Accounts.fill(self.accounts.get(o.env, o.cano, o.prdt), o, f.qty, f.price)
            hhmmss = max(f.hhmmss, o.time)  # a book seen before the order fills it at the order's time
            self.fills.append((o.odno, f.qty, f.price, hhmmss))
            out.append(self._notice(o, "fill", f.qty, f.price, hhmmss))
        return out

    def _notice(self, o: Order, what: str, qty: int, price: int, hhmmss: str) -> notices.Notice:
        self.notices_made += 1
        account = self.accounts.get(o.env, o.cano, o.prdt)
        return notices.build(o, account.name, self.name(o.symbol), what, qty, price, hhmmss)
