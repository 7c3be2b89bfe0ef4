"""The realtime TRs fakekis knows, as data: what each one's tr_key is and which environment serves it.

One table, read by the exchange to refuse a subscription as KIS does (docs/kis/protocol.md §4.3, §5.4;
docs/kis/endpoints.md §C0). Mock serves only `H0STCNT0`, `H0STASP0` and `H0STCNI9` (the only realtime
samples with a demo branch); the fill notice is `H0STCNI0` on live and `H0STCNI9` on mock.
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


def _table(*trs: Tr) -> dict[str, Tr]:
    return {t.tr_id: t for t in trs}


_NXT_UN = tuple(
    Tr(f"{venue}{suffix}", Key.STOCK)
    for venue in ("H0NX", "H0UN")
    for suffix in ("CNT0", "ASP0", "ANC0", "MKO0", "PGM0", "MBC0")
)

TRS: dict[str, Tr] = _table(
    Tr("H0STCNT0", Key.STOCK, mock=True),
    Tr("H0STASP0", Key.STOCK, mock=True),
    Tr("H0STCNI0", Key.HTS_ID),  # live fill notice
    Tr("H0STCNI9", Key.HTS_ID, live=False, mock=True),  # mock fill notice
    Tr("H0STANC0", Key.STOCK),
    Tr("H0STMKO0", Key.STOCK),
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
