"""The sans-I/O exchange: what KIS decides, without sockets or clocks of its own.

- `auth`: appkeys, access tokens (tokenP), approval keys, per environment.
- `sessions`: WebSocket sessions and subscriptions (`Exchange`); it owns delivery of replayed frames.
- `actions`: the typed actions it returns (reply, data, heartbeat, raw, drop, close) and their encoding.
- `market`: the market state REST answers from, a fold of the replayed frames per venue and symbol
  (`candles`: day and minute bars; `history`: the seeded days before the tape).
- `quotations`: the quotation routes as data, their input checks and answers (`price`, `book`, `charts`,
  `holiday`); `surface`: the KIS calls fakekis is measured against (`fakekis coverage`).
- `products`: the product catalogue behind search-info.
- `cassette`: REST replay from rest.yaml (matchers, the tape's timeline, misses).

Time comes in as arguments; typed actions go out. The asyncio shells live in `fakekis.serve`.
"""

from fakekis.exchange.actions import Action, Close, Data, Drop, Heartbeat, Raw, Reply, Silence, encode
from fakekis.exchange.sessions import MAX_REGISTRATIONS, Exchange, Session, Stats

__all__ = [
    "MAX_REGISTRATIONS",
    "Action",
    "Close",
    "Data",
    "Drop",
    "Exchange",
    "Heartbeat",
    "Raw",
    "Reply",
    "Session",
    "Silence",
    "Stats",
    "encode",
]
