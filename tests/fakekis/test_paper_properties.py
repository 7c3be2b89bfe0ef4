"""Paper trading properties over random order streams on seeded synthetic tapes, driven through the
sans-I/O cores (no sockets, no clock): money and shares are conserved up to fills at tape prices, no fill
is priced outside what the tape showed by then, a cancel after a full fill is refused, every fill has exactly
one notice that decrypts with the client's ack key to what inquire-daily-ccld reports, and the same inputs
give the same fills."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import APPKEY, SECRET
from fakekis.exchange import notices, views
from fakekis.exchange.accounts import Accounts
from fakekis.exchange.auth import Registry
from fakekis.exchange.paper import Paper
from fakekis.exchange.sessions import Exchange
from fakekis.rules.prices import tick_size
from fakekis.tape import synth
from fakekis.wire import frames
from fakekis.wire.scrub import decrypt
from gateway.session import subscribe_message
from kisclock import KST

DAY = datetime(2026, 11, 25, 10, 0, tzinfo=KST)
CANO, PRDT = "50123456", "01"
START_CASH = 50_000_000
SEEDED = 200  # shares of each symbol the account holds before trading


def tape(seed: int) -> list[tuple[str, str, int, str]]:
    """(tr_id, text, count, symbol) of every data frame of a 1-minute synthetic tape."""
    _, lines = synth.generate(DAY, 1.0, seed=seed)
    out = []
    for line in lines:
        f = frames.parse_data_frame(line.text or "") if line.dir == "recv" else None
        if f is not None:
            out.append((f.tr_id, line.text or "", f.count, f.payload.split("^", 1)[0]))
    return out


def prev_closes(frames_: list[tuple[str, str, int, str]]) -> dict[str, int]:
    prev: dict[str, int] = {}
    for tr_id, text, _, symbol in frames_:
        if tr_id == "H0STCNT0" and symbol not in prev:
            rec = text.split("|", 3)[3].split("^")
            prev[symbol] = int(rec[2]) - int(rec[4])
    return prev


def seen_prices(tr_id: str, text: str, count: int) -> list[int]:
    recs = frames.parse_data_frame(text).records() or []  # type: ignore[union-attr]
    if tr_id == "H0STCNT0":
        return [int(r[2]) for r in recs]
    return [int(p) for r in recs for p in r[3:23] if p not in ("", "0")]


orders = st.lists(
    st.tuples(
        st.integers(0, 10_000),  # where in the tape (scaled to its length)
        st.sampled_from(["buy", "sell", "cancel", "modify"]),
        st.sampled_from(["00", "01", "11", "12", "13", "14"]),
        st.integers(1, 30),  # quantity
        st.integers(-6, 6),  # limit price offset in ticks from the last trade
        st.integers(0, 50),  # which earlier order to cancel/modify
    ),
    max_size=25,
)


def run(seed: int, stream: list[tuple[int, str, str, int, int, int]]) -> dict[str, Any]:
    tape_ = tape(seed)
    prev = prev_closes(tape_)
    symbols = sorted(prev)
    accounts = Accounts(START_CASH)
    accounts.seed("mock", CANO, PRDT, holdings={s: (SEEDED, prev[s]) for s in symbols})
    paper = Paper("mock", accounts, prev)
    registry = Registry("mock")
    exchange = Exchange(registry)
    registry.secrets[APPKEY] = SECRET
    _, approval = registry.issue_approval(
        {"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET}
    )
    session = exchange.open()
    ack = session.receive(subscribe_message(str(approval["approval_key"]), "H0STCNI9", "htsid"))
    assert ack[0].msg_cd == "OPSP0000"  # type: ignore[union-attr]
    keys = dict(ack[0].output or ())  # type: ignore[union-attr]

    plan: dict[int, list[tuple[str, str, int, int, int]]] = {}
    for pos, *rest in stream:
        plan.setdefault(pos * len(tape_) // 10_001, []).append(tuple(rest))  # type: ignore[arg-type]
    lo, hi = 10**12, 0
    placed: list[str] = []
    made: list[notices.Notice] = []
    last: dict[str, int] = {}
    violations: list[str] = []
    checked = 0

    def check_new_fills() -> None:
        nonlocal checked
        for odno, qty, price, _ in paper.fills[checked:]:
            if not lo <= price <= hi:
                violations.append(f"{odno} filled {qty} at {price} outside the tape's [{lo}, {hi}] so far")
            o = paper.ledger[odno]
            if o.price and (price > o.price if o.side == "02" else price < o.price):
                violations.append(f"{odno} filled at {price}, worse than its limit {o.price}")
        checked = len(paper.fills)

    for i, (tr_id, text, count, symbol) in enumerate(tape_):
        for p in seen_prices(tr_id, text, count):
            lo, hi = min(lo, p), max(hi, p)
        if tr_id == "H0STCNT0":
            rec = text.split("|", 3)[3].split("^")
            last[symbol], hhmmss = int(rec[2]), rec[1]
        made += paper.on_frame(tr_id, text, count, symbol)
        check_new_fills()
        if i not in plan or not last:
            continue
        at = DAY.replace(hour=int(hhmmss[:2]), minute=int(hhmmss[2:4]), second=int(hhmmss[4:]))
        for what, dvsn, qty, offset, which in plan[i]:
            sym = symbol if symbol in last else next(iter(last))
            base = last[sym]
            price = base + offset * tick_size(base)
            price -= price % tick_size(price)
            if what in ("buy", "sell"):
                body = {
                    "CANO": CANO,
                    "ACNT_PRDT_CD": PRDT,
                    "PDNO": sym,
                    "ORD_DVSN": dvsn,
                    "ORD_QTY": str(qty),
                }
                body["ORD_UNPR"] = "0" if dvsn in ("01", "13", "14") else str(price)
                answer, out = paper.order_cash(APPKEY, what, body, at)
                if answer["rt_cd"] == "0":
                    placed.append(answer["output"]["ODNO"])  # type: ignore[index]
            elif placed:
                orig = paper.ledger[placed[which % len(placed)]]
                code = "02" if what == "cancel" else "01"
                body = {
                    "CANO": CANO,
                    "ACNT_PRDT_CD": PRDT,
                    "ORGN_ODNO": orig.odno,
                    "ORD_DVSN": "00",
                    "RVSE_CNCL_DVSN_CD": code,
                    "ORD_QTY": "0",
                    "ORD_UNPR": str(last.get(orig.symbol, orig.price) - tick_size(last.get(orig.symbol, 1)))
                    if code == "01"
                    else "0",
                    "QTY_ALL_ORD_YN": "Y",
                }
                fully = orig.remaining == 0
                answer, out = paper.rvsecncl(APPKEY, body, at)
                if fully:
                    assert (answer["rt_cd"], answer["msg_cd"]) == ("1", "40330000"), answer
            else:
                continue
            made += out
            check_new_fills()
    return {
        "paper": paper,
        "accounts": accounts,
        "made": made,
        "exchange": exchange,
        "keys": keys,
        "violations": violations,
        "symbols": symbols,
    }


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), stream=orders)
def test_random_order_streams_keep_the_books_straight(seed: int, stream: list[Any]) -> None:
    r = run(seed, stream)
    paper, accounts = r["paper"], r["accounts"]
    assert r["violations"] == []
    a = accounts.get("mock", CANO, PRDT)
    bought = sum(q * p for odno, q, p, _ in paper.fills if paper.ledger[odno].side == "02")
    sold = sum(q * p for odno, q, p, _ in paper.fills if paper.ledger[odno].side == "01")
    assert a.cash == START_CASH - bought + sold  # conserved up to fills at tape prices
    assert a.cash >= 0 and a.reserved >= 0 and a.reserved <= a.cash
    for s in r["symbols"]:
        p = a.position(s)
        net = sum(
            q if paper.ledger[o].side == "02" else -q
            for o, q, _, _ in paper.fills
            if paper.ledger[o].symbol == s
        )
        assert p.qty == SEEDED + net and p.qty >= 0 and 0 <= p.reserved <= p.qty
    resting_buys = sum(
        o.reserve_price * paper.engine.resting(o.odno) for o in paper.orders() if o.side == "02"
    )
    assert a.reserved == resting_buys

    # every fill: exactly one notice, decrypting with the client's key to inquire-daily-ccld's values
    fill_notices = [n for n in r["made"] if n.fields[13] == "2"]
    assert len(fill_notices) == len(paper.fills)
    per_order: Counter[str] = Counter()
    per_order_qty: Counter[str] = Counter()
    for n in fill_notices:
        ((session, data),) = notices.deliveries(r["exchange"], n)
        plain = decrypt(data.text.split("|", 3)[3], r["keys"]["key"], r["keys"]["iv"])
        f = plain.split("^") if plain else []
        assert len(f) == 26 and f[0] == "htsid"
        per_order[f[2]] += int(f[9]) * int(f[10])
        per_order_qty[f[2]] += int(f[9])
    assert Counter((o, q, p) for o, q, p, _ in paper.fills) == Counter(
        (n.fields[2], int(n.fields[9]), int(n.fields[10])) for n in fill_notices
    )
    q = {"INQR_STRT_DT": "20261125", "INQR_END_DT": "20261125", "CTX_AREA_NK100": ""}
    rows: list[dict[str, str]] = []
    while True:
        body, tr_cont = views.daily_ccld(paper, CANO, PRDT, q)
        rows += body["output1"]  # type: ignore[arg-type]
        if tr_cont in "DE":
            break
        q["CTX_AREA_NK100"] = str(body["ctx_area_nk100"])
    assert len(rows) == len(paper.ledger)
    for row in rows:
        assert int(row["tot_ccld_amt"]) == per_order[row["odno"]]
        assert int(row["tot_ccld_qty"]) == per_order_qty[row["odno"]]


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**16), stream=orders)
def test_same_tape_and_orders_give_the_same_fills(seed: int, stream: list[Any]) -> None:
    assert run(seed, stream)["paper"].fills == run(seed, stream)["paper"].fills
