"""The on-disk token cache: `{access_token, expires_at, attempt_at}` per environment, appkey and REST host,
locked, atomic and self-healing, so gateways on one host issue at most one token per minute per appkey
(docs/kis/protocol.md §2; `gateway.rest.RestClient` is its one user).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; the in-process guard still holds
    fcntl = None  # type: ignore[assignment]

from gateway.config import Config

# KIS allows one tokenP call per minute per appkey.
ISSUE_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class Cached:
    """What the token file holds, with every field that is missing or of the wrong type dropped."""

    token: str | None = None
    expires_at: float = 0.0
    attempt_at: float | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of `TokenStore.claim`: a usable cached token, or the right to issue one (this caller
    wrote attempt_at), or how long until an issuance is allowed."""

    cached: Cached
    issue: bool
    wait: float = 0.0


def finite(v: object) -> float | None:
    """A JSON number as a float; None for anything else (bools, strings, NaN, infinities)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


class TokenStore:
    """`{access_token, expires_at, attempt_at}` on disk, mode 0600, one file per environment, appkey
    and REST host. Several gateways on one host share it:

    - writes go to a unique temporary file in the same folder, then `os.replace` (atomic; no two
      writers ever share a temporary name);
    - read-check-write of `attempt_at` happens under `fcntl.flock` on `<file>.lock`, so two processes
      issue at most one token per minute per appkey;
    - a file that is unreadable, not JSON, of the wrong shape, or a directory counts as absent (reported
      once through `on_problem`, never with its content); an `attempt_at` more than `SKEW` seconds in the
      future (written by another clock) is ignored.
    """

    SKEW = 5.0

    def __init__(self, cfg: Config, on_problem: Callable[[str], None] | None = None) -> None:
        ident = hashlib.sha256(f"{cfg.env}\0{cfg.app_key}\0{cfg.rest_url}".encode()).hexdigest()[:16]
        self.path = Path(cfg.token_dir) / f"token-{cfg.env}-{ident}.json"
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._on_problem = on_problem
        self._reported: set[str] = set()

    def _problem(self, kind: str, text: str) -> None:
        if kind not in self._reported:
            self._reported.add(kind)
            if self._on_problem:
                self._on_problem(f"{self.path.name}: {text}")

    def load(self) -> Cached:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Cached()
        except (OSError, ValueError) as e:  # a directory, no permission, not UTF-8
            self._problem("unreadable", f"unreadable ({type(e).__name__}); treated as absent")
            return Cached()
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or hostile JSON nested thousands deep
            self._problem("json", "not JSON; treated as absent")
            return Cached()
        if not isinstance(data, dict):
            self._problem("shape", "not a JSON object; treated as absent")
            return Cached()
        token = data.get("access_token")
        expires_at = finite(data.get("expires_at"))
        attempt_at = finite(data.get("attempt_at"))
        bad = [
            name
            for name, ok in (
                ("access_token", token is None or (isinstance(token, str) and token != "")),
                ("expires_at", data.get("expires_at") is None or expires_at is not None),
                ("attempt_at", data.get("attempt_at") is None or attempt_at is not None),
            )
            if not ok
        ]
        if bad:
            self._problem("fields", f"wrong type in {', '.join(bad)}; treated as absent")
            return Cached()
        return Cached(token if isinstance(token, str) else None, expires_at or 0.0, attempt_at)

    def save(self, cached: Cached) -> bool:
        """Atomically replace the file; False (reported once) when the folder or the name is unusable."""
        data = {
            "access_token": cached.token,
            "expires_at": cached.expires_at,
            "attempt_at": cached.attempt_at,
        }
        tmp: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp: mode 0600
                json.dump(data, fh)
            os.replace(tmp, self.path)
            return True
        except OSError as e:
            self._problem(
                "write", f"cannot be written ({type(e).__name__}: {e.strerror}); token kept in memory"
            )
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            return False

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive lock across processes on this host (none where flock is missing or fails)."""
        fd = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:
            self._problem("lock", f"lock file unusable ({type(e).__name__}); going on without it")
            if fd is not None:
                os.close(fd)
                fd = None
        try:
            yield
        finally:
            if fd is not None:
                os.close(fd)  # closing releases the flock

    def claim(self, now: float, margin: float, not_before: float | None = None) -> Claim:
        """Read-check-write under the lock: a cached token valid for more than `margin`, or the right to
        issue (attempt_at=now is written first), or the wait. `not_before` is this process's own last
        attempt, which counts even when the file cannot be written."""
        with self.locked():
            cached = self.load()
            if cached.token and cached.expires_at - now > margin:
                return Claim(cached, False)
            last = cached.attempt_at
            if last is not None and last > now + self.SKEW:
                self._problem("future", "attempt_at lies in the future (another clock?); ignored")
                last = None
            if not_before is not None:
                last = not_before if last is None else max(last, not_before)
            if last is not None and now - last < ISSUE_INTERVAL:
                return Claim(cached, False, ISSUE_INTERVAL - (now - last))
            self.save(Cached(cached.token, cached.expires_at, now))
            return Claim(cached, True)
