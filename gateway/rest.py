"""KIS REST for the gateway: access token, WebSocket approval key, inquire-price (docs/kis/protocol.md §2–§3).

KIS limits are respected here even when the server is lenient:
- at most one token issuance per minute per appkey, across restarts: the attempt time is written
  to the on-disk token cache (one file per environment, appkey and REST host) before the call;
- inquire-price is paced to the environment's per-second budget; a caller that would wait longer
  than `max_wait` gets a `RestError` instead (the API answers 503, never piles up requests).

Why over 300 lines: the token cache (a locked, atomic, self-healing file shared by processes on one host)
and the budget are the rules that keep an appkey out of trouble with KIS, and they are read together with
the three calls they guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

try:
    import fcntl
except ImportError:  # Windows: no flock; the in-process guard still holds
    fcntl = None  # type: ignore[assignment]

import httpx

from gateway.config import Config
from gateway.metrics import Metrics
from gateway.redact import StageLog
from kisclock import Clock

INQUIRE_PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"
# FID_COND_MRKT_DIV_CODE per KIS_VENUE: the fallback asks the venue the WebSocket listens to
# (docs/kis/endpoints.md §0.3: J KRX, NX NXT, UN unified).
MARKET_DIV = {"krx": "J", "nxt": "NX", "unified": "UN"}
ISSUE_INTERVAL = 60.0
REFRESH_MARGIN = 600.0


# The code of a token call the gateway's own one-per-minute guard held back before asking KIS.
HOLD_OFF = "token-hold-off"


class RestError(Exception):
    def __init__(self, code: str, reason: str) -> None:
        self.code, self.reason = code, reason
        super().__init__(f"{code}: {reason}")


class Pacer:
    """At most `rps` calls in any one-second window (for fractional rates, one call per 1/rps s),
    on the injected clock. Calls within the budget go at once; the rest wait for the window to
    slide, or fail with `RestError("budget")` if that would take longer than `max_wait`."""

    def __init__(self, rps: float, clock: Clock, max_wait: float = 2.0) -> None:
        self.burst = max(1, int(rps))
        self.window = self.burst / rps
        self.clock, self.max_wait = clock, max_wait
        self._times: deque[float] = deque()  # granted slots, ascending

    async def acquire(self) -> None:
        now = self.clock.now()
        times = self._times
        while len(times) > self.burst:
            times.popleft()
        slot = now
        if len(times) >= self.burst:
            slot = max(slot, times[-self.burst] + self.window)
        if times:
            slot = max(slot, times[-1])
        if slot - now > self.max_wait:
            raise RestError("budget", f"REST budget exhausted: next slot in {slot - now:.1f}s")
        times.append(slot)
        if slot > now:
            await self.clock.sleep_until(slot)


class SharedToken(Protocol):
    """The token shared between replicas (gateway/coord/replica.py), when GATEWAY_REDIS_URL is set."""

    async def token(self) -> str: ...

    async def drop(self, rejected: str | None) -> None: ...


class Limiter(Protocol):
    """What `inquire_price` waits on: `Pacer` here, or the shared GCRA in scale-out mode (gateway/coord)."""

    async def acquire(self) -> None: ...


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


def _finite(v: object) -> float | None:
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
        expires_at = _finite(data.get("expires_at"))
        attempt_at = _finite(data.get("attempt_at"))
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


class RestClient:
    def __init__(
        self,
        cfg: Config,
        clock: Clock,
        metrics: Metrics,
        log: StageLog,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.cfg, self.clock, self.metrics, self.log = cfg, clock, metrics, log
        self.http = http or httpx.AsyncClient(base_url=cfg.rest_url, timeout=10.0)
        self.pacer: Limiter = Pacer(cfg.rest_rps, clock)
        self.store = TokenStore(cfg, self._cache_problem)
        self._last_attempt: float | None = None  # this process's last issuance attempt
        self._last_refusal: str | None = None  # KIS's code for this process's last failed tokenP call
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self._approval: str | None = None
        self.shared: SharedToken | None = None  # set by gateway/coord in Redis mode

    def _cache_problem(self, problem: str) -> None:
        self.log.event("rest_token_cache_bad", problem=problem)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _post(self, path: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            r = await self.http.post(path, json=body, headers={"content-type": "application/json"})
        except (httpx.HTTPError, RuntimeError) as e:  # RuntimeError: client already closed (shutdown)
            raise RestError("unreachable", f"POST {path}: {type(e).__name__}: {e}") from None
        try:
            data = r.json()
        except ValueError:
            raise RestError("bad-response", f"POST {path}: HTTP {r.status_code}, body is not JSON") from None
        return r.status_code, data if isinstance(data, dict) else {}

    # -- approval key (WebSocket) -----------------------------------------------------------
    async def approval_key(self, fresh: bool = False) -> str:
        if self._approval and not fresh:
            return self._approval
        status, data = await self._post(
            "/oauth2/Approval",
            {
                "grant_type": "client_credentials",
                "appkey": self.cfg.app_key,
                "secretkey": self.cfg.app_secret,  # named `secretkey` here, not `appsecret` (§2.3)
            },
        )
        key = data.get("approval_key")
        if status != 200 or not isinstance(key, str) or not key:
            code = str(data.get("error_code") or data.get("msg_cd") or f"HTTP {status}")
            raise RestError(code, str(data.get("error_description") or data.get("msg1") or "no approval_key"))
        self.log.redact.add(key)
        self._approval = key
        return key

    # -- access token (REST) ----------------------------------------------------------------
    def token_valid(self, now: float) -> bool:
        """A token is held that has not expired (REST is usable: /readyz, gateway/ops.py)."""
        return self._token is not None and self._token_expires > now

    def drop_token(self) -> None:
        """Forget a token KIS refused; in the file too, unless another process has replaced it since."""
        dropped, self._token, self._token_expires = self._token, None, 0.0
        with self.store.locked():
            cached = self.store.load()
            if cached.token is not None and cached.token == dropped:
                self.store.save(Cached(None, 0.0, cached.attempt_at))

    async def access_token(self) -> str:
        async with self._token_lock:
            now = self.clock.now()
            if self._token and self._token_expires - now > REFRESH_MARGIN:
                return self._token
            if self.shared is not None:
                return await self.shared.token()
            return await self.file_access_token()

    async def file_access_token(self) -> str:
        """The on-disk cache's token, or a new one under its one-per-minute gate (caller holds _token_lock)."""
        now = self.clock.now()
        claim = self.store.claim(now, REFRESH_MARGIN, self._last_attempt)
        tok = claim.cached.token
        if not claim.issue and tok is not None and claim.cached.expires_at - now > REFRESH_MARGIN:
            self.log.redact.add(tok)
            self._token, self._token_expires = tok, claim.cached.expires_at
            return tok
        if not claim.issue:
            # The gateway's own guard, not KIS: KIS was not asked, so this is not KIS's EGW00133. Say what
            # KIS last answered, if this process asked it at all.
            kis = f"; KIS's last answer to tokenP: {self._last_refusal}" if self._last_refusal else ""
            raise RestError(
                HOLD_OFF,
                f"token issuance held back {claim.wait:.0f}s more by the gateway's own hold-off (one "
                f"tokenP call per minute per appkey, counted in {self.store.path.name}); KIS was not asked"
                + kis,
            )
        return await self._issue(now)

    async def _issue(self, now: float) -> str:
        """Call tokenP (the caller holds the right to: the file's or the shared gate's claim) and keep
        the token in memory and in the file."""
        self._last_attempt = now
        status, body = await self._post(
            "/oauth2/tokenP",
            {
                "grant_type": "client_credentials",
                "appkey": self.cfg.app_key,
                "appsecret": self.cfg.app_secret,
            },
        )
        tok = body.get("access_token")
        if status != 200 or not isinstance(tok, str) or not tok:
            code = str(body.get("error_code") or body.get("msg_cd") or f"HTTP {status}")
            self._last_refusal = code
            raise RestError(code, str(body.get("error_description") or body.get("msg1") or "no access_token"))
        self._last_refusal = None
        self.log.redact.add(tok)
        self.metrics.token_issuances += 1
        expires_in = _finite(body.get("expires_in"))
        exp = now + (expires_in if expires_in is not None and expires_in > 0 else 86_400.0)
        self._token, self._token_expires = tok, exp
        with self.store.locked():
            self.store.save(Cached(tok, exp, now))
        self.log.event("rest_token_issued", env=self.cfg.env, expires_in=body.get("expires_in"))
        return tok

    # -- inquire-price ----------------------------------------------------------------------
    async def inquire_price(self, symbol: str) -> dict[str, Any]:
        for attempt in (1, 2):
            await self.pacer.acquire()
            token = await self.access_token()
            self.metrics.rest_calls += 1
            try:
                r = await self.http.get(
                    INQUIRE_PRICE,
                    params={"FID_COND_MRKT_DIV_CODE": MARKET_DIV[self.cfg.venue], "FID_INPUT_ISCD": symbol},
                    headers={
                        "authorization": f"Bearer {token}",
                        "appkey": self.cfg.app_key,
                        "appsecret": self.cfg.app_secret,
                        "tr_id": "FHKST01010100",
                        "custtype": "P",
                        "content-type": "application/json; charset=utf-8",
                    },
                )
            except (httpx.HTTPError, RuntimeError) as e:
                raise RestError("unreachable", f"inquire-price: {type(e).__name__}: {e}") from None
            try:
                body = r.json()
            except ValueError:
                raise RestError(
                    "bad-response", f"inquire-price: HTTP {r.status_code}, body is not JSON"
                ) from None
            if not isinstance(body, dict):
                raise RestError("bad-response", f"inquire-price: HTTP {r.status_code}, body is not an object")
            # KIS signals errors in rt_cd whatever the HTTP status (500 mostly, sometimes 200).
            output = body.get("output")
            if body.get("rt_cd") == "0" and isinstance(output, dict):
                return output
            code, msg = str(body.get("msg_cd", f"HTTP {r.status_code}")), str(body.get("msg1", ""))
            self.metrics.rest_errors[code] += 1
            if code in ("EGW00121", "EGW00123") and attempt == 1:
                rejected = self._token
                self.drop_token()  # re-issue respects the one-per-minute guard
                if self.shared is not None:
                    await self.shared.drop(rejected)
                continue
            if code == "EGW00201" and attempt == 1:
                continue  # the pacer spaces the retry
            raise RestError(code, msg)
        raise RestError("retry", "inquire-price failed twice")
