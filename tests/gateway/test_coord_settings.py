"""GATEWAY_REDIS_URL: the accepted forms, and one line (never the password) for anything else."""

from __future__ import annotations

import pytest

from conftest import APPKEY, SECRET
from gateway.config import ConfigError, from_env

BASE = {"KIS_APP_KEY": APPKEY, "KIS_APP_SECRET": SECRET}


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379", "redis://h/2", "rediss://h:6380/0", "unix:///tmp/r.sock", "redis://:pw@h:1"],
)
def test_accepted_urls(url: str) -> None:
    assert from_env({**BASE, "GATEWAY_REDIS_URL": url}).redis_url == url


def test_unset_means_local_mode() -> None:
    assert from_env(BASE).redis_url is None


@pytest.mark.parametrize(
    "url",
    [
        "http://h",
        "redis://",
        "redis://h:0",
        "redis://h/99",
        "unix://host/x",
        "redis://h x",
        "redis://:secretpw@",
    ],
)
def test_refused_urls_are_one_line_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError, match="GATEWAY_REDIS_URL=.* is not a valid Redis URL") as e:
        from_env({**BASE, "GATEWAY_REDIS_URL": url})
    assert "\n" not in str(e.value) and "secretpw" not in str(e.value)
