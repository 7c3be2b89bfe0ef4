"""Scale-out coordination (issue #17, docs/scaling.md): several gateway processes share one KIS session per
appkey, and several appkeys carry more than 41 registrations.

Sans-I/O cores (no asyncio, sockets or time; `now` comes in):
- `lease`: the per-appkey lease state machine and the pure model of the store's lease scripts;
- `gcra`: the REST limiter's arithmetic, the same the Redis script runs;
- `tokengate`: the shared token and its 61 s issuance gate;
- `plan`: which appkey carries which symbol, and which symbols overflow to REST;
- `credentials`: `KIS_CREDENTIALS_FILE` parsing;
- `stream`: the public Stream entry format (docs/stream-format.md) and the reader's trim check;
- `members`: the live-replica count the REST fallback divides by.

Shells: `hostlock` (the local-mode flock per env and appkey), `redis_backend` (bytes and Lua only), `replica`,
`relay` and `heartbeat` (the loops that wait on the store).
"""
