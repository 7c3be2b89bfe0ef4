"""`fakekis record` checks that its upstreams answer before it creates anything: a TCP connection to the
REST and the WebSocket upstream's host and port, bounded. A failure is one line naming the flag, the URL
and how it failed (name not found, refused, timed out), so an offline machine or a wrong URL shows at
once instead of as an empty recording later."""

from __future__ import annotations

import asyncio
import os
import socket
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
TIMEOUT = 5.0


async def reachable(url: str, timeout: float = TIMEOUT) -> str | None:
    """None when a TCP connection to the URL's host and port opens, else how it failed."""
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    except ValueError as e:
        return f"not a valid URL ({e})"
    if not host:
        return "no host in the URL"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except asyncio.TimeoutError:
        return f"no answer from {host}:{port} within {timeout:g}s"
    except socket.gaierror as e:
        return f"the name {host!r} does not resolve ({e.strerror or e})"
    except OSError as e:
        return f"cannot connect to {host}:{port} ({os.strerror(e.errno) if e.errno else type(e).__name__})"
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return None


async def check(rest_url: str, ws_url: str) -> list[str]:
    """One line per upstream that does not answer, naming its flag."""
    results = await asyncio.gather(reachable(rest_url), reachable(ws_url))
    return [
        f"{flag} {url}: {why}"
        for flag, url, why in zip(
            ("--rest-upstream", "--ws-upstream"), (rest_url, ws_url), results, strict=True
        )
        if why is not None
    ]
