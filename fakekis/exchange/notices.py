"""Fill notices (체결통보, H0STCNI0 live / H0STCNI9 mock), sans-I/O: the 26-field record of each acceptance,
fill, modify and cancel, and which sessions get it, encrypted with their own ack key (docs/kis/protocol.md
§4.6, §5.3; docs/kis/endpoints.md §C1).

- Field widths follow the doc examples and the decrypted live capture kisreal-027: ODER_NO 10 digits,
  CNTG_QTY 10, CNTG_UNPR 9, ODER_QTY 9, all zero-padded; ODER_PRC empty for a market order.
- An acceptance (CNTG_YN 1) carries the order quantity in CNTG_QTY and the order price in CNTG_UNPR (0 for
  market), as the legacy sample reads it and kisreal-027 shows; a fill (CNTG_YN 2) carries the fill.
- ACNT_NO is the full 10-digit account number: the decrypted capture kisreal-027 shows ten digits and no mask
  characters, so fakekis does not mask it either (the payload is encrypted; recordings scrub it).
- A notice goes to the WebSocket session of the appkey that placed the order, for each fill-notice
  registration it holds; CUST_ID is that registration's tr_key (the HTS ID).
"""

from __future__ import annotations

from dataclasses import dataclass

from fakekis.exchange.accounts import Order
from fakekis.exchange.actions import Data
from fakekis.exchange.sessions import Exchange, Session
from fakekis.wire import frames

NOTICE_TR = {"live": "H0STCNI0", "mock": "H0STCNI9"}
BRANCH = {"live": "06010", "mock": "00950"}  # KRX_FWDG_ORD_ORGNO as captured (docs/kis/endpoints.md §B1)
_VENUE_CODE = {"KRX": "1", "NXT": "2", "SOR": "3"}  # ORD_EXG_GB; SOR orders are routed to KRX here


@dataclass(frozen=True, slots=True)
class Notice:
    env: str
    appkey: str
    fields: tuple[str, ...]  # CUST_ID (field 0) is filled in per registration

    def record(self, hts_id: str) -> list[str]:
        return [hts_id, *self.fields[1:]]


def build(
    o: Order, account_name: str, product_name: str, what: str, qty: int, price: int, hhmmss: str
) -> Notice:
    """`what`: "accept" (new order), "modify", "cancel" (their acceptances), "fill", "expire" (the exchange
    cancelling an IOC/FOK remainder: ACPT_YN 3, RCTF_CLS 2 (INF: which RCTF_CLS KIS sends is not captured))."""
    fill = what == "fill"
    rctf = {"modify": "1", "cancel": "2", "expire": "2"}.get(what, "0")
    acpt = "1" if what == "accept" else "3" if what == "expire" else "2"
    fields = (
        "",
        o.cano + o.prdt,
        o.odno.zfill(10),
        o.orgn_odno.zfill(10) if o.orgn_odno else "",
        o.side,
        rctf,
        o.dvsn,
        {"11": "1", "13": "1", "12": "2", "14": "2"}.get(o.dvsn, "0"),  # ODER_COND: 1 IOC, 2 FOK
        o.symbol,
        f"{qty:010d}",
        f"{price:09d}",
        hhmmss,
        "0",
        "2" if fill else "1",
        acpt,
        BRANCH[o.env],
        f"{o.qty:09d}",
        account_name,
        "",
        _VENUE_CODE.get(o.venue, "1"),
        "Y",
        "",
        "",
        "",
        product_name,
        f"{o.price:09d}" if o.price else "",
    )
    return Notice(o.env, o.appkey, fields)


def deliveries(exchange: Exchange, notice: Notice) -> list[tuple[Session, Data]]:
    """Each session of the order's appkey with a fill-notice registration gets the record, encrypted with
    the key/iv of its own ack for that TR."""
    tr_id = NOTICE_TR[notice.env]
    out: list[tuple[Session, Data]] = []
    for session in exchange.sessions:
        if session.appkey != notice.appkey or session.silenced:
            continue
        keys = session.keys.get(tr_id)
        if keys is None:
            continue
        iv, key = keys
        for reg_tr, hts_id in session.registered:
            if reg_tr == tr_id:
                text = frames.encrypted_frame(tr_id, [notice.record(hts_id)], key, iv)
                out.append((session, Data(tr_id, 1, text)))
    return out
