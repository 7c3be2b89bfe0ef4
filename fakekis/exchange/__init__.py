"""The sans-I/O exchange: what KIS decides, without sockets or clocks of its own.

- `auth`: appkeys, access tokens (tokenP), approval keys, per environment.
- `sessions`: WebSocket sessions and subscriptions (`Exchange`), and the actions the servers carry out.
- `market`: the market state REST answers from (last trade per symbol, the day's extremes).
- `products`: the product catalogue behind search-info.
- `cassette`: REST replay from rest.yaml (matchers, the tape's timeline, misses).

Time comes in as arguments; text and actions go out. The asyncio shells live in `fakekis.serve`.
"""

from fakekis.exchange.sessions import (
    MAX_REGISTRATIONS,
    Action,
    Close,
    Drop,
    Exchange,
    Send,
    SendRaw,
    Session,
    Stats,
)

__all__ = ["MAX_REGISTRATIONS", "Action", "Close", "Drop", "Exchange", "Send", "SendRaw", "Session", "Stats"]
