"""Token and approval-key registries of one environment, plus the REST per-second budget of each appkey
(§2, §3.3).

Sans-I/O: every method takes `now` (epoch seconds) and returns `(http_status, json_body)`.
Live and mock each own one `Registry`; nothing is shared between them, so a token or approval key
from one environment is unknown to the other (failure mode F6).
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from kisclock import KST

TOKEN_TTL = 86_400.0
SAME_TOKEN_WINDOW = 6 * 3600.0
ISSUE_INTERVAL = 60.0


def _oauth_error(code: str, text: str) -> tuple[int, dict[str, object]]:
    # tokenP/Approval errors use OAuth-style keys, not the rt_cd/msg_cd envelope (§2.1).
    return 403, {"error_description": text, "error_code": code}


def gateway_error(code: str, text: str) -> dict[str, str]:
    # Live captures show this key order for EGW errors (§3.3).
    return {"rt_cd": "1", "msg1": text, "msg_cd": code}


@dataclass(slots=True)
class Token:
    value: str
    appkey: str
    issued_at: float
    expires_at: float
    revoked: bool = False


@dataclass
class Registry:
    env: str
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    rest_rps: int = 20
    tokens: dict[str, Token] = field(default_factory=dict)  # value -> token
    latest: dict[str, Token] = field(default_factory=dict)  # appkey -> newest token
    last_issue_call: dict[str, float] = field(default_factory=dict)  # appkey -> time of last tokenP answer
    approvals: dict[str, str] = field(default_factory=dict)  # approval key -> appkey
    secrets: dict[str, str] = field(default_factory=dict)  # appkey -> secret (first use wins)
    # appkey -> ((second, wall second), calls): KIS's budget is per appkey (docs/kis/protocol.md §3.3)
    _windows: dict[str, tuple[tuple[int, int], int]] = field(default_factory=dict)

    # -- keys ------------------------------------------------------------------------------
    def _check_app(self, appkey: object, secret: object) -> tuple[int, dict[str, object]] | None:
        if not isinstance(appkey, str) or not appkey:
            return _oauth_error("EGW00102", "AppKey는 필수입니다.")
        if not isinstance(secret, str) or not secret:
            return _oauth_error("EGW00104", "AppSecret은 필수입니다.")
        known = self.secrets.setdefault(appkey, secret)  # sandbox: any key is accepted on first use
        if known != secret:
            return _oauth_error("EGW00105", "유효하지 않은 AppSecret입니다.")
        return None

    # -- POST /oauth2/tokenP ----------------------------------------------------------------
    def issue_token(self, body: dict[str, object], now: float) -> tuple[int, dict[str, object]]:
        if body.get("grant_type") != "client_credentials":
            return _oauth_error("EGW00002", "grant_type이 유효하지 않습니다.")
        appkey, secret = body.get("appkey"), body.get("appsecret")
        bad = self._check_app(appkey, secret)
        if bad:
            return bad
        assert isinstance(appkey, str)
        last = self.last_issue_call.get(appkey)
        if last is not None and now - last < ISSUE_INTERVAL:
            return _oauth_error("EGW00133", "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)")
        self.last_issue_call[appkey] = now
        tok = self.latest.get(appkey)
        if tok is None or tok.revoked or now - tok.issued_at >= SAME_TOKEN_WINDOW or now >= tok.expires_at:
            tok = Token(self._jwt(appkey, now), appkey, now, now + TOKEN_TTL)
            self.tokens[tok.value] = tok
            self.latest[appkey] = tok
        expiry = datetime.fromtimestamp(tok.expires_at, KST).strftime("%Y-%m-%d %H:%M:%S")
        return 200, {
            "access_token": tok.value,
            "access_token_token_expired": expiry,
            "token_type": "Bearer",
            "expires_in": int(tok.expires_at - now),
        }

    def _jwt(self, appkey: str, now: float) -> str:
        def b64(obj: object) -> str:
            return (
                base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")
            )

        claims = {
            "sub": "token",
            "aud": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "prdt_cd": "",
            "iss": "unogw",
            "exp": int(now + TOKEN_TTL),
            "iat": int(now),
            "jti": appkey,
        }
        sig = base64.urlsafe_b64encode(self.rng.randbytes(64)).decode().rstrip("=")
        return f"{b64({'typ': 'JWT', 'alg': 'HS512'})}.{b64(claims)}.{sig}"

    # -- POST /oauth2/revokeP ---------------------------------------------------------------
    def revoke(self, body: dict[str, object]) -> tuple[int, dict[str, object]]:
        bad = self._check_app(body.get("appkey"), body.get("appsecret"))
        if bad:
            return bad
        tok = self.tokens.get(str(body.get("token", "")))
        if tok is None or tok.appkey != body.get("appkey"):
            return 403, {"error_description": "유효하지 않은 token 입니다.", "error_code": "EGW00121"}
        tok.revoked = True
        return 200, {"code": 200, "message": "접근토큰 폐기에 성공하였습니다"}

    # -- POST /oauth2/Approval --------------------------------------------------------------
    def issue_approval(self, body: dict[str, object]) -> tuple[int, dict[str, object]]:
        if body.get("grant_type") != "client_credentials":
            return _oauth_error("EGW00002", "grant_type이 유효하지 않습니다.")
        # The secret is named `secretkey` here, unlike tokenP's `appsecret` (§2.3).
        bad = self._check_app(body.get("appkey"), body.get("secretkey"))
        if bad:
            return bad
        key = str(uuid.UUID(int=self.rng.getrandbits(128)))
        self.approvals[key] = str(body["appkey"])
        return 200, {"approval_key": key}

    def appkey_for_approval(self, approval_key: str) -> str | None:
        return self.approvals.get(approval_key)

    # -- REST request checks ----------------------------------------------------------------
    def authorize(self, headers: dict[str, str], now: float) -> dict[str, str] | None:
        """None if the request may proceed, else the EGW error body (served with HTTP 500)."""
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if not auth:
            return gateway_error("EGW00122", "token을 찾을 수 없습니다.")
        if scheme.lower() != "bearer" or not value:
            return gateway_error("EGW00205", "credentials_type이 유효하지 않습니다.(Bearer)")
        appkey = headers.get("appkey", "")
        if not appkey:
            return gateway_error("EGW00102", "AppKey는 필수입니다.")
        if not headers.get("appsecret"):
            return gateway_error("EGW00104", "AppSecret은 필수입니다.")
        tok = self.tokens.get(value.strip())
        if tok is None or tok.revoked or tok.appkey != appkey:
            return gateway_error("EGW00121", "유효하지 않은 token 입니다.")
        if now >= tok.expires_at:
            return gateway_error("EGW00123", "기간이 만료된 token 입니다.")
        if self.secrets.get(appkey) != headers.get("appsecret"):
            return gateway_error("EGW00105", "유효하지 않은 AppSecret입니다.")
        custtype = headers.get("custtype")
        if custtype is not None and custtype not in ("P", "B"):
            return gateway_error("EGW00208", "고객유형(custtype)이 유효하지 않습니다.")
        return None

    def spend_budget(self, now: float, wall: float | None = None, appkey: str = "") -> bool:
        """One REST call against the appkey's per-second budget; False -> EGW00201.

        A second is over when either `now` (the exchange clock) or `wall` moves into the next one.
        In step mode the exchange clock can stand still while a client retries on its own clock;
        python-kis retries EGW00201 every 0.1 s, and would be refused forever by a frozen second."""
        second = (int(now), int(wall if wall is not None else now))
        current, calls = self._windows.get(appkey, ((0, 0), 0))
        if current != second:
            current, calls = second, 0
        if calls >= self.rest_rps:
            self._windows[appkey] = (current, calls)
            return False
        self._windows[appkey] = (current, calls + 1)
        return True
