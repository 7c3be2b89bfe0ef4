"""Configuration from the environment (the contract in design.md). Bad values become one
`ConfigError` line naming the variable and the value, never a traceback."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gateway.market import KrxCalendar
from kisclock import parse_instant

DEFAULT_URLS = {
    "live": ("https://openapi.koreainvestment.com:9443", "ws://ops.koreainvestment.com:21000"),
    "mock": ("https://openapivts.koreainvestment.com:29443", "ws://ops.koreainvestment.com:31000"),
}
# What the gateway allows itself even when the server is lenient (protocol.md §3.3, 2026-04 notice).
DEFAULT_REST_RPS = {"live": 18.0, "mock": 1.0}
_SYMBOL = re.compile(r"^(?:\d{6}|Q\d{6})$")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    env: str
    app_key: str
    app_secret: str
    symbols: tuple[str, ...]
    rest_url: str
    ws_url: str
    account_no: str | None = None
    clock_start: float | None = None
    clock_url: str | None = None
    freshness_s: float = 10.0
    idle_timeout_s: float = 60.0
    ack_timeout_s: float = 10.0
    rest_rps: float = 1.0
    token_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "kis-gateway")
    session_hours: str = "09:00-15:30"
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 30.0

    @property
    def secrets(self) -> tuple[str | None, ...]:
        return (self.app_key, self.app_secret, self.account_no, self.account_no and self.account_no[:8])


def _number(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value <= minimum:
        raise ConfigError(f"{name}={raw!r} must be greater than {minimum:g}")
    return value


def from_env(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    kis_env = env.get("KIS_ENV", "mock").strip().lower()
    if kis_env not in DEFAULT_URLS:
        raise ConfigError(f"KIS_ENV={env.get('KIS_ENV')!r} must be 'mock' or 'live'")
    app_key, secret = env.get("KIS_APP_KEY", "").strip(), env.get("KIS_APP_SECRET", "").strip()
    if not app_key:
        raise ConfigError("KIS_APP_KEY is not set (the app key issued for the KIS_ENV environment)")
    if not secret:
        raise ConfigError("KIS_APP_SECRET is not set (the app secret that goes with KIS_APP_KEY)")
    symbols = tuple(s.strip() for s in env.get("KIS_SYMBOLS", "005930").split(",") if s.strip())
    if not symbols:
        raise ConfigError("KIS_SYMBOLS is empty (comma list of 6-digit codes, e.g. 005930,000660)")
    for s in symbols:
        if not _SYMBOL.match(s):
            raise ConfigError(f"KIS_SYMBOLS: {s!r} is not a 6-digit stock code")
    if len(symbols) > 41:
        raise ConfigError(f"KIS_SYMBOLS has {len(symbols)} codes; KIS allows 41 registrations per session")
    account = env.get("KIS_ACCOUNT_NO", "").strip() or None
    if account is None and env.get("KIS_CANO"):
        account = f"{env['KIS_CANO'].strip()}-{env.get('KIS_ACNT_PRDT_CD_KR', '01').strip() or '01'}"
    clock_start = None
    if env.get("GATEWAY_CLOCK_START"):
        try:
            clock_start = parse_instant(env["GATEWAY_CLOCK_START"])
        except ValueError as e:
            raise ConfigError(f"GATEWAY_CLOCK_START: {e}") from None
    clock_url = env.get("GATEWAY_CLOCK_URL", "").strip() or None
    if clock_url and not clock_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"GATEWAY_CLOCK_URL={clock_url!r} must be an http:// URL (fakekis: .../__fakekis/clock)"
        )
    rest_default, ws_default = DEFAULT_URLS[kis_env]
    rest_url = env.get("KIS_REST_URL", "").strip() or rest_default
    ws_url = env.get("KIS_WS_URL", "").strip() or ws_default
    if not rest_url.startswith(("http://", "https://")):
        raise ConfigError(f"KIS_REST_URL={rest_url!r} must start with http:// or https://")
    if not ws_url.startswith(("ws://", "wss://")):
        raise ConfigError(f"KIS_WS_URL={ws_url!r} must start with ws:// (KIS serves plain ws)")
    hours = env.get("GATEWAY_SESSION_HOURS", "09:00-15:30")
    try:
        KrxCalendar.from_hours(hours)
    except ValueError as e:
        raise ConfigError(f"GATEWAY_SESSION_HOURS: {e}") from None
    return Config(
        env=kis_env,
        app_key=app_key,
        app_secret=secret,
        symbols=symbols,
        rest_url=rest_url.rstrip("/"),
        ws_url=ws_url,
        account_no=account,
        clock_start=clock_start,
        clock_url=clock_url,
        freshness_s=_number(env, "GATEWAY_FRESHNESS_MS", 10_000) / 1000,
        idle_timeout_s=_number(env, "GATEWAY_WS_IDLE_TIMEOUT", 60.0),
        ack_timeout_s=_number(env, "GATEWAY_ACK_TIMEOUT", 10.0),
        rest_rps=_number(env, "GATEWAY_REST_RPS", DEFAULT_REST_RPS[kis_env]),
        token_dir=Path(env.get("GATEWAY_TOKEN_DIR") or Path.home() / ".cache" / "kis-gateway"),
        session_hours=hours,
    )
