"""KIS REST for the gateway: access token, WebSocket approval key, inquire-price (protocol.md §2–§3).

KIS limits are respected here even when the server is lenient:
- at most one token issuance per minute per appkey, across restarts: the attempt time is written
  to the on-disk token cache (one file per environment, appkey and REST host) before the call;
- inquire-price is paced to the environment's per-second budget; a caller that would wait longer
  than `max_wait` gets a `RestError` instead (the API answers 503, never piles up requests).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections import deque
from pathlib import Path
from typing import Any

import httpx

from gateway.config import Config
from gateway.metrics import Metrics
from gateway.redact import StageLog
from kisclock import Clock

INQUIRE_PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"
ISSUE_INTERVAL = 60.0
REFRESH_MARGIN = 600.0


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


class TokenStore:
    """`{access_token, expires_at, attempt_at}` on disk, mode 0600, written atomically."""

    def __init__(self, cfg: Config) -> None:
        ident = hashlib.sha256(f"{cfg.env}\0{cfg.app_key}\0{cfg.rest_url}".encode()).hexdigest()[:16]
        self.path = Path(cfg.token_dir) / f"token-{cfg.env}-{ident}.json"

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, self.path)


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
        self.pacer = Pacer(cfg.rest_rps, clock)
        self.store = TokenStore(cfg)
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self._approval: str | None = None

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
    def drop_token(self) -> None:
        self._token = None
        self._token_expires = 0.0
        data = self.store.load()
        data.pop("access_token", None)
        data.pop("expires_at", None)
        self.store.save(data)

    async def access_token(self) -> str:
        async with self._token_lock:
            now = self.clock.now()
            if self._token and self._token_expires - now > REFRESH_MARGIN:
                return self._token
            data = self.store.load()
            tok, exp = data.get("access_token"), float(data.get("expires_at") or 0)
            if isinstance(tok, str) and tok and exp - now > REFRESH_MARGIN:
                self.log.redact.add(tok)
                self._token, self._token_expires = tok, exp
                return tok
            attempt = float(data.get("attempt_at") or 0)
            if now - attempt < ISSUE_INTERVAL:
                raise RestError(
                    "EGW00133",
                    f"token issuance held back {ISSUE_INTERVAL - (now - attempt):.0f}s "
                    "more (KIS allows one per minute per appkey)",
                )
            data["attempt_at"] = now
            self.store.save(data)
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
                raise RestError(
                    code, str(body.get("error_description") or body.get("msg1") or "no access_token")
                )
            self.log.redact.add(tok)
            self.metrics.token_issuances += 1
            expires_in = body.get("expires_in")
            exp = now + (float(expires_in) if isinstance(expires_in, (int, float)) else 86_400.0)
            self._token, self._token_expires = tok, exp
            self.store.save({"access_token": tok, "expires_at": exp, "attempt_at": now})
            self.log.event("rest_token_issued", env=self.cfg.env, expires_in=expires_in)
            return tok

    # -- inquire-price ----------------------------------------------------------------------
    async def inquire_price(self, symbol: str) -> dict[str, str]:
        for attempt in (1, 2):
            await self.pacer.acquire()
            token = await self.access_token()
            self.metrics.rest_calls += 1
            try:
                r = await self.http.get(
                    INQUIRE_PRICE,
                    params={"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": symbol},
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
            # KIS signals errors in rt_cd whatever the HTTP status (500 mostly, sometimes 200).
            if body.get("rt_cd") == "0" and isinstance(body.get("output"), dict):
                return body["output"]
            code, msg = str(body.get("msg_cd", f"HTTP {r.status_code}")), str(body.get("msg1", ""))
            self.metrics.rest_errors[code] += 1
            if code in ("EGW00121", "EGW00123") and attempt == 1:
                self.drop_token()  # re-issue respects the one-per-minute guard
                continue
            if code == "EGW00201" and attempt == 1:
                continue  # the pacer spaces the retry
            raise RestError(code, msg)
        raise RestError("retry", "inquire-price failed twice")
