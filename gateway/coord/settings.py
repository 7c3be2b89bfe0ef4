"""Scale-out settings read from the environment (the rest of the contract is in gateway/config.py).

`GATEWAY_REDIS_URL` turns Redis mode on: `redis://HOST[:PORT][/DB]`, `rediss://...` or `unix:///PATH`.
Problems are one line naming the variable and what is allowed; a password in the URL is never echoed.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

ALLOWED = "redis://HOST[:PORT][/DB], rediss://HOST[:PORT][/DB] or unix:///PATH"


def redis_url(env: Mapping[str, str]) -> str | None:
    raw = env.get("GATEWAY_REDIS_URL", "").strip()
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        parts, port = None, None
    shown = f"{raw.split('://', 1)[0][:10]}://..." if "@" in raw else repr(raw[:80])
    ok = parts is not None and not any(c.isspace() or not c.isprintable() for c in raw)
    if ok and parts is not None:
        if parts.scheme in ("redis", "rediss"):
            ok = (
                bool(parts.hostname)
                and port != 0
                and parts.path in ("", "/") + tuple(f"/{i}" for i in range(16))
            )
        elif parts.scheme == "unix":
            ok = parts.path.startswith("/") and not parts.netloc
        else:
            ok = False
    if not ok:
        raise ValueError(f"GATEWAY_REDIS_URL={shown} is not a valid Redis URL (allowed: {ALLOWED})")
    return raw
