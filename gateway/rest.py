"""KIS REST for the gateway: access token, WebSocket approval key, inquire-price (docs/kis/protocol.md §2–§3).

KIS limits are respected here even when the server is lenient:
- at most one token issuance per minute per appkey, across restarts: the attempt time is written
  to the on-disk token cache (`gateway.tokencache`, one file per environment, appkey and REST host)
  before the call;
- inquire-price is paced to the environment's per-second budget; a caller that would wait longer
  than `max_wait` gets a `RestError` instead (the API answers 503, never piles up requests).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Protocol

import httpx

from gateway.config import Config
from gateway.metrics import Metrics
from gateway.redact import StageLog
from gateway.tokencache import Cached, TokenStore, finite
from kisclock import Clock

INQUIRE_PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"
# FID_COND_MRKT_DIV_CODE per KIS_VENUE: the fallback asks the venue the WebSocket listens to
# (docs/kis/endpoints.md §0.3: J KRX, NX NXT, UN unified).
MARKET_DIV = {"krx": "J", "nxt": "NX", "unified": "UN"}
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
        expires_in = finite(body.get("expires_in"))
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
