"""The README's python-kis example leaves nothing behind: after the test, python-kis's WebSocket thread
is stopped before its domains are restored, so it never dials the real KIS host (it used to reconnect
every 5 s to it for the rest of the run).

A child pytest (pytester) runs the README's example, keeping the python-kis client in a module global,
then a second test checks that the client's thread has ended and the domains are python-kis's own again.
Its conftest (tests/tripwire.py) refuses, before any packet, every connect or lookup of a host that is
not loopback, so even a broken teardown cannot reach KIS from here. Runs where python-kis is installed
(`tox -e compat`)."""

from __future__ import annotations

import os

import pytest
from tripwire import TRIPWIRE

pytestmark = pytest.mark.ws
pytest_plugins = ("pytester",)

if os.environ.get("KIS_HARNESS_REQUIRE_PYKIS"):  # tox -e compat: a missing python-kis must fail, not skip
    import pykis  # noqa: F401
else:
    pytest.importorskip("pykis", reason="python-kis is installed only in `tox -e compat`")

CHILD = """
import pytest
import pykis.client.websocket
import pykis.kis
from pykis import PyKis

import conftest

KEPT = {}
REAL = (pykis.kis.REAL_DOMAIN, pykis.client.websocket.WEBSOCKET_REAL_DOMAIN)


@pytest.mark.fake_kis(env="live", speed=1)
def test_readme_example(fake_kis, monkeypatch):
    fake_kis.redirect_pykis(monkeypatch)
    kis = PyKis(
        id="me", account="50123456-01", appkey=fake_kis.appkey, secretkey=fake_kis.appsecret, keep_token=False
    )
    stock = kis.stock("005930")
    assert stock.quote().price > 0
    ticket = stock.on("price", lambda sender, e: None)
    fake_kis.wait_until(lambda stats: stats["frames_sent"] > 0)
    KEPT.update(kis=kis, ticket=ticket, thread=kis.websocket.thread)
    assert KEPT["thread"].is_alive()


def test_after_the_fixture():
    assert not KEPT["thread"].is_alive(), "python-kis's WebSocket thread outlived the fake_kis fixture"
    assert (pykis.kis.REAL_DOMAIN, pykis.client.websocket.WEBSOCKET_REAL_DOMAIN) == REAL
    assert conftest.TRIPPED == []
"""


def test_python_kis_is_shut_down_before_its_domains_are_restored(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(TRIPWIRE)
    pytester.makepyfile(test_child=CHILD)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=120)
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=2)
