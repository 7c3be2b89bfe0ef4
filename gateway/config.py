"""Configuration from the environment (the contract in design.md). Bad values become one
`ConfigError` line naming the variable and the allowed values, never a traceback; secrets
(app key/secret, account numbers) are never echoed in it."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from gateway.coord import settings as coord_settings
from gateway.coord.credentials import AppKey, CredentialsError
from gateway.coord.credentials import load as load_credentials
from gateway.market import VENUES, KrxCalendar
from gateway.session import VENUE_TRADE_TR
from kisclock import parse_instant

DEFAULT_URLS = {
    "live": ("https://openapi.koreainvestment.com:9443", "ws://ops.koreainvestment.com:21000"),
    "mock": ("https://openapivts.koreainvestment.com:29443", "ws://ops.koreainvestment.com:31000"),
}
# What the gateway allows itself even when the server is lenient (docs/kis/protocol.md §3.3, 2026-04 notice).
DEFAULT_REST_RPS = {"live": 18.0, "mock": 1.0}
# ASCII digits: \d would also take "٠٠٥٩٣٠" and send it to KIS.
SYMBOL = re.compile(r"(?:[0-9]{6}|Q[0-9]{6})")
MAX_SYMBOLS = 2_000  # with KIS_CREDENTIALS_FILE: 41 per appkey, the rest on REST; a typo's guard, not KIS's


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    env: str
    app_key: str = field(repr=False)  # a repr (an assertion, a traceback) never shows a secret
    app_secret: str = field(repr=False)
    symbols: tuple[str, ...]
    rest_url: str
    ws_url: str
    account_no: str | None = field(default=None, repr=False)
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
    venue: str = "krx"  # KIS_VENUE: krx, nxt or unified (gateway/market.py, gateway/session.py)
    redis_url: str | None = None  # GATEWAY_REDIS_URL: scale-out mode (gateway/coord, docs/scaling.md)
    # KIS_CREDENTIALS_FILE: every appkey of KIS_ENV this gateway may use, the primary (app_key) first; empty
    # without the file (one appkey, as before). gateway/coord/shards.py places the symbols over them.
    appkeys: tuple[AppKey, ...] = ()

    @property
    def trade_trs(self) -> tuple[str, ...]:
        """The realtime trade TR this venue subscribes."""
        return (VENUE_TRADE_TR[self.venue],)

    @property
    def secrets(self) -> tuple[str | None, ...]:
        more = tuple(s for k in self.appkeys for s in (k.appkey, k.appsecret))
        return (
            self.app_key,
            self.app_secret,
            self.account_no,
            self.account_no and self.account_no[:8],
            *more,
        )


# Allowed ranges of the numeric variables: (lowest excluded, highest included, unit). Finite only: a NaN
# timeout never fires and an infinite one never ends, and both compare False with everything.
LIMITS: dict[str, tuple[float, float, str]] = {
    "GATEWAY_FRESHNESS_MS": (0.0, 86_400_000.0, "milliseconds"),
    "GATEWAY_WS_IDLE_TIMEOUT": (0.0, 86_400.0, "seconds"),
    "GATEWAY_ACK_TIMEOUT": (0.0, 3_600.0, "seconds"),
    "GATEWAY_REST_RPS": (0.0, 1_000.0, "calls per second"),
}
# GATEWAY_CLOCK_START must fall in this window (epoch seconds): outside it the KRX calendar has no data
# and a year-1 instant cannot even be formatted.
CLOCK_START_RANGE = (946_684_800.0, 4_102_444_800.0)  # 2000-01-01 .. 2100-01-01 UTC
_ACCOUNT = re.compile(r"[0-9]{8}-?[0-9]{2}")
_CANO = re.compile(r"[0-9]{8}")
_PRDT = re.compile(r"[0-9]{2}")
_CREDENTIAL = re.compile(r"[!-~]{1,512}")  # printable ASCII, no spaces: what goes into HTTP headers


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    low, high, unit = LIMITS[name]
    allowed = f"a number of {unit} > {low:g} and <= {high:g}"
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw[:40]!r} is not a number (allowed: {allowed})") from None
    if not (math.isfinite(value) and low < value <= high):
        raise ConfigError(f"{name}={raw[:40]!r} is out of range (allowed: {allowed})")
    return value


def check_url(name: str, value: str, schemes: tuple[str, ...], hint: str) -> str:
    """A URL with one of `schemes`, a host and a port in 1-65535 (or none), and no spaces."""
    allowed = f"{' or '.join(s + '://HOST[:PORT]' for s in schemes)} {hint}".rstrip()
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError when out of 0-65535 or not a number
    except ValueError:
        raise ConfigError(f"{name}={value[:80]!r} is not a valid URL (allowed: {allowed})") from None
    if (
        parts.scheme not in schemes
        or not parts.hostname
        or port == 0
        or any(c.isspace() or not c.isprintable() for c in value)
    ):
        raise ConfigError(f"{name}={value[:80]!r} is not a valid URL (allowed: {allowed})")
    return value


def _credential(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set ({what})")
    if not _CREDENTIAL.fullmatch(value):
        # Never echo a secret: say what is wrong, not what it is.
        raise ConfigError(
            f"{name} has {len(value)} chars; allowed: 1-512 printable ASCII characters, no spaces"
        )
    return value


def _account(env: Mapping[str, str]) -> str | None:
    account = env.get("KIS_ACCOUNT_NO", "").strip() or None
    if account is not None:
        if not _ACCOUNT.fullmatch(account):
            raise ConfigError(
                "KIS_ACCOUNT_NO is not CANO-PRDT (allowed: 8 digits, '-', 2 digits; value not shown)"
            )
        return account
    cano = env.get("KIS_CANO", "").strip()
    if not cano:
        return None
    if not _CANO.fullmatch(cano):
        raise ConfigError("KIS_CANO is not an account number (allowed: 8 digits; value not shown)")
    prdt = env.get("KIS_ACNT_PRDT_CD_KR", "01").strip() or "01"
    if not _PRDT.fullmatch(prdt):
        raise ConfigError(
            f"KIS_ACNT_PRDT_CD_KR={prdt[:20]!r} is not a product code (allowed: 2 digits, e.g. 01)"
        )
    return f"{cano}-{prdt}"


def from_env(env: Mapping[str, str] | None = None) -> Config:
    """Every variable is checked here, once, so a bad value stops the process before anything runs."""
    env = os.environ if env is None else env
    kis_env = env.get("KIS_ENV", "mock").strip().lower()
    if kis_env not in DEFAULT_URLS:
        raise ConfigError(f"KIS_ENV={env.get('KIS_ENV', '')[:40]!r} must be 'mock' or 'live'")
    venue = _venue(env, kis_env)
    appkeys = _appkeys(env, kis_env)
    if appkeys:
        app_key, secret = appkeys[0].appkey, appkeys[0].appsecret
    else:
        app_key = _credential(env, "KIS_APP_KEY", "the app key issued for the KIS_ENV environment")
        secret = _credential(env, "KIS_APP_SECRET", "the app secret that goes with KIS_APP_KEY")
    symbols = tuple(s.strip() for s in env.get("KIS_SYMBOLS", "005930").split(",") if s.strip())
    if not symbols:
        raise ConfigError("KIS_SYMBOLS is empty (comma list of 6-digit codes, e.g. 005930,000660)")
    for s in symbols:
        if not SYMBOL.fullmatch(s):
            raise ConfigError(
                f"KIS_SYMBOLS: {s[:20]!r} is not a 6-digit stock code (allowed: 005930 or Q500001)"
            )
    if len(symbols) > 41 and not appkeys:
        raise ConfigError(
            f"KIS_SYMBOLS has {len(symbols)} codes; KIS allows 41 registrations per session "
            "(set KIS_CREDENTIALS_FILE to spread more symbols over several appkeys, docs/scaling.md)"
        )
    if len(symbols) > MAX_SYMBOLS:
        raise ConfigError(f"KIS_SYMBOLS has {len(symbols)} codes (allowed: at most {MAX_SYMBOLS})")
    account = _account(env)
    clock_start = None
    raw_start = env.get("GATEWAY_CLOCK_START", "").strip()
    if raw_start:
        try:
            clock_start = parse_instant(raw_start)
        except (ValueError, OverflowError) as e:
            raise ConfigError(f"GATEWAY_CLOCK_START: {e}") from None
        if not CLOCK_START_RANGE[0] <= clock_start < CLOCK_START_RANGE[1]:
            raise ConfigError(
                f"GATEWAY_CLOCK_START={raw_start[:40]!r} is outside 2000-01-01..2100-01-01 "
                "(allowed: an ISO-8601 instant with offset in that range)"
            )
    clock_url = env.get("GATEWAY_CLOCK_URL", "").strip() or None
    if clock_url:
        check_url("GATEWAY_CLOCK_URL", clock_url, ("http", "https"), "(fakekis: .../__fakekis/clock)")
    rest_default, ws_default = DEFAULT_URLS[kis_env]
    rest_url = check_url(
        "KIS_REST_URL", env.get("KIS_REST_URL", "").strip() or rest_default, ("http", "https"), ""
    )
    ws_url = check_url(
        "KIS_WS_URL", env.get("KIS_WS_URL", "").strip() or ws_default, ("ws", "wss"), "(KIS serves ws)"
    )
    hours = env.get("GATEWAY_SESSION_HOURS", "09:00-15:30")
    try:
        KrxCalendar.from_hours(hours)
    except ValueError as e:
        raise ConfigError(
            f"GATEWAY_SESSION_HOURS: {e} (allowed: HH:MM-HH:MM in KST, open before close)"
        ) from None
    try:
        redis_url = coord_settings.redis_url(env)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    token_dir = env.get("GATEWAY_TOKEN_DIR", "").strip()
    if "\0" in token_dir:
        raise ConfigError("GATEWAY_TOKEN_DIR contains a NUL character (allowed: a folder path)")
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
        token_dir=Path(token_dir) if token_dir else Path.home() / ".cache" / "kis-gateway",
        session_hours=hours,
        venue=venue,
        redis_url=redis_url,
        appkeys=appkeys,
    )


def _appkeys(env: Mapping[str, str], kis_env: str) -> tuple[AppKey, ...]:
    """KIS_CREDENTIALS_FILE's entries for KIS_ENV; KIS_APP_KEY/SECRET, when set too, come first (the
    primary: diagnose's probe and symbols outside KIS_SYMBOLS use it). Entries of the other environment are
    skipped, so one file can hold both."""
    raw = env.get("KIS_CREDENTIALS_FILE", "").strip()
    if not raw:
        return ()
    if "\0" in raw:
        raise ConfigError("KIS_CREDENTIALS_FILE contains a NUL character (allowed: a file path)")
    try:
        entries = load_credentials(Path(raw))
    except CredentialsError as e:
        raise ConfigError(str(e)) from None
    mine = [k for k in entries if k.env == kis_env]
    if env.get("KIS_APP_KEY", "").strip() or env.get("KIS_APP_SECRET", "").strip():
        key = _credential(env, "KIS_APP_KEY", "the app key issued for the KIS_ENV environment")
        secret = _credential(env, "KIS_APP_SECRET", "the app secret that goes with KIS_APP_KEY")
        mine = [AppKey(kis_env, key, secret), *(k for k in mine if k.appkey != key)]
    if not mine:
        raise ConfigError(
            f"KIS_CREDENTIALS_FILE={raw[:120]!r} has no entry with env={kis_env!r} "
            "(allowed: at least one {env, appkey, appsecret} entry for KIS_ENV)"
        )
    return tuple(mine)


def _venue(env: Mapping[str, str], kis_env: str) -> str:
    raw = env.get("KIS_VENUE", "")
    venue = raw.strip().lower() or "krx"
    if venue not in VENUES:
        raise ConfigError(f"KIS_VENUE={raw[:40]!r} must be 'krx', 'nxt' or 'unified'")
    if venue != "krx" and kis_env == "mock":
        # Mock serves only H0STCNT0, H0STASP0 and H0STCNI9 (docs/kis/protocol.md §5.4, endpoints.md §C0):
        # the NXT/unified TRs would be refused and every quote would come from REST.
        raise ConfigError(
            f"KIS_VENUE={raw[:40]!r} needs KIS_ENV=live: mock serves only the KRX realtime TRs (allowed on mock: krx)"
        )
    return venue
