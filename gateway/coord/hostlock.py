"""Local mode's guard (no Redis): one process per host owns an appkey's KIS WebSocket.

KIS refuses a second session for one appkey (OPSP8996, docs/kis/protocol.md); `uvicorn --workers 2` or two
`kis-gateway serve` on one host would otherwise fight for it and storm KIS with refusals. The owner holds
an `flock` on `<token_dir>/ws-<env>-<id>.lock` for its lifetime (the kernel frees it when the process dies,
however it dies); any other process finds it taken, logs one line and serves REST only.

The token file has its own lock around its read-check-write already (`gateway.tokencache.TokenStore.locked`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; every process owns its session as before
    fcntl = None  # type: ignore[assignment]

from gateway.coord.credentials import appkey_id

OWNED_ELSEWHERE = (
    "another process on this host owns the {env} appkey {ident}'s WebSocket: this one serves REST only "
    "(set GATEWAY_REDIS_URL to share the session between processes, or run one worker)"
)


class HostLock:
    def __init__(self, token_dir: Path, env: str, appkey: str) -> None:
        self.env, self.ident = env, appkey_id(env, appkey)
        self.path = Path(token_dir) / f"ws-{env}-{self.ident}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock without waiting; True if this process owns the session now (or no flock exists).
        An unusable lock file (read-only folder) counts as owned: the guard must not stop the gateway."""
        if self._fd is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return True
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing releases the flock
            self._fd = None

    def message(self) -> str:
        return OWNED_ELSEWHERE.format(env=self.env, ident=self.ident)
