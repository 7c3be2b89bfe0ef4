"""Per-environment defaults (docs/kis/protocol.md §1): with only KIS_ENV and the keys set, the gateway talks to
the real KIS hosts and ports of that environment. A swapped port sends live keys to the mock server
(EGW02004-like refusals) or a WebSocket to nowhere (ws_connected=false)."""

from __future__ import annotations

import pytest

from gateway.config import from_env

KEYS = {"KIS_APP_KEY": "PS" + "k" * 34, "KIS_APP_SECRET": "s" * 180, "KIS_SYMBOLS": "005930"}


@pytest.mark.parametrize(
    "kis_env, rest, stream",
    [
        ("live", "https://openapi.koreainvestment.com:9443", "ws://ops.koreainvestment.com:21000"),
        ("mock", "https://openapivts.koreainvestment.com:29443", "ws://ops.koreainvestment.com:31000"),
    ],
    ids=["live", "mock"],  # not the URLs: an id containing "ws://" would put a config test into `-k ws`
)
def test_per_environment_default_urls(kis_env: str, rest: str, stream: str) -> None:
    cfg = from_env({"KIS_ENV": kis_env, **KEYS})
    assert (cfg.env, cfg.rest_url, cfg.ws_url) == (kis_env, rest, stream)


def test_mock_is_the_default_environment() -> None:
    cfg = from_env(dict(KEYS))
    assert (cfg.env, cfg.ws_url) == ("mock", "ws://ops.koreainvestment.com:31000")


def test_urls_given_override_the_defaults() -> None:
    cfg = from_env(
        {"KIS_ENV": "live", "KIS_REST_URL": "http://127.0.0.1:1/", "KIS_WS_URL": "ws://127.0.0.1:2", **KEYS}
    )
    assert (cfg.rest_url, cfg.ws_url) == ("http://127.0.0.1:1", "ws://127.0.0.1:2")
