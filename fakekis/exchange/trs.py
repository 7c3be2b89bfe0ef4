"""The realtime TRs fakekis knows, as data: what each one's tr_key is, which environment serves it, and
whether fakekis models it. The one table of TRs and their status (`status`): the exchange refuses by it,
the coverage table reads it.

Facts from docs/kis/protocol.md §4.3, §5.4 and docs/kis/endpoints.md §C0: mock serves only `H0STCNT0`,
`H0STASP0` and `H0STCNI9` (the only realtime samples with a demo branch); the fill notice is `H0STCNI0` on
live and `H0STCNI9` on mock.

`modelled`: fakekis has a layout for the TR (fakekis/wire/layouts.py) and the generator or a recording can
carry its data. A TR KIS serves but fakekis does not model is refused as KIS refuses an unknown tr_id
(`OPSP8991`), never acked into silence: a client must not mistake "fakekis has nothing" for "the market
is quiet" (docs/fidelity.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Key(Enum):
    """What a TR's tr_key is."""

    STOCK = "stock"  # a 6-character stock code (005930; ETNs Q + 6)
    HTS_ID = "hts_id"  # the account holder's HTS ID (fill notices)
    OTHER = "other"  # an index/sector or derivative code: any non-empty key


@dataclass(frozen=True, slots=True)
class Tr:
    tr_id: str
    key: Key
    live: bool = True
    mock: bool = False
    modelled: bool = False


class Status(Enum):
    """What a subscription to a TR gets on one environment."""

    SERVED = "served"  # acked, and its frames are delivered
    NOT_ON_ENV = "refused: KIS does not serve it on this environment"  # OPSP8993
    NOT_MODELLED = "refused: fakekis does not model it"  # OPSP8991, as an unknown tr_id
    UNKNOWN = "refused: unknown tr_id"  # OPSP8991


def _table(*trs: Tr) -> dict[str, Tr]:
    return {t.tr_id: t for t in trs}


_MODELLED_NXT_UN = ("CNT0", "ASP0")  # trades and books; expected trades and market operation are KRX only
_NXT_UN = tuple(
    Tr(f"{venue}{suffix}", Key.STOCK, modelled=suffix in _MODELLED_NXT_UN)
    for venue in ("H0NX", "H0UN")
    for suffix in ("CNT0", "ASP0", "ANC0", "MKO0", "PGM0", "MBC0")
)

TRS: dict[str, Tr] = _table(
    Tr("H0STCNT0", Key.STOCK, mock=True, modelled=True),
    Tr("H0STASP0", Key.STOCK, mock=True, modelled=True),
    Tr("H0STCNI0", Key.HTS_ID, modelled=True),  # live fill notice (data only from a fault: encrypted)
    Tr("H0STCNI9", Key.HTS_ID, live=False, mock=True, modelled=True),  # mock fill notice
    Tr("H0STANC0", Key.STOCK, modelled=True),  # expected trades in the auctions (tape/market_day.py)
    Tr("H0STMKO0", Key.STOCK, modelled=True),  # market operation: session changes, VI
    Tr("H0STPGM0", Key.STOCK),
    Tr("H0STMBC0", Key.STOCK),
    Tr("H0STOUP0", Key.STOCK),
    Tr("H0STOAA0", Key.STOCK),
    Tr("H0STOAC0", Key.STOCK),
    *_NXT_UN,
    Tr("H0UPCNT0", Key.OTHER),  # sector index, tr_key e.g. 0001
    Tr("H0UPANC0", Key.OTHER),
    Tr("H0UPPGM0", Key.OTHER),
    Tr("H0IFCNT0", Key.OTHER),  # index futures, "모의투자 미지원" on the portal
)

_STOCK_CODE = re.compile(r"Q?[0-9A-Z]{6}")


def stock_code(tr_key: str) -> bool:
    """A 6-character stock code (ETN codes may carry a leading Q)."""
    return _STOCK_CODE.fullmatch(tr_key) is not None


def served(tr: Tr, env: str) -> bool:
    return tr.mock if env == "mock" else tr.live


def status(tr_id: str, env: str) -> Status:
    """What subscribing `tr_id` on `env` gets from fakekis (a malformed tr_key aside)."""
    tr = TRS.get(tr_id)
    if tr is None:
        return Status.UNKNOWN
    if not served(tr, env):
        return Status.NOT_ON_ENV
    return Status.SERVED if tr.modelled else Status.NOT_MODELLED
