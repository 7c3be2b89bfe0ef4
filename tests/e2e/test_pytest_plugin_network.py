"""No connection leaves loopback during a fake_kis test: a connect or name lookup of any other host fails
at once with an error naming it, in the test's thread and in any other; the opt-out lets it through; after
the test the guard is gone.

Run in a child pytest (pytester), whose conftest adds an audit hook as a tripwire: it refuses, before any
packet, every `socket.connect` or `socket.getaddrinfo` that reaches the C level for a host that is not
loopback, and counts them. With the plugin's guard working the tripwire never fires; with it broken the
child's tests fail on the tripwire instead of touching the network."""

from __future__ import annotations

import pytest
from tripwire import TRIPWIRE

pytest_plugins = ("pytester",)

CHILD = """
import socket
import threading

import httpx
import pytest

import conftest
from fakekis.testing.netguard import NetworkBlocked

ORIGINAL = socket.socket.connect


def test_guarded(fake_kis):
    with pytest.raises(NetworkBlocked, match="openapi.koreainvestment.com:9443"):
        socket.create_connection(("openapi.koreainvestment.com", 9443), timeout=1)
    with pytest.raises(NetworkBlocked, match="203.0.113.9:21000"):
        socket.create_connection(("203.0.113.9", 21000), timeout=1)
    with pytest.raises(NetworkBlocked, match="ops.koreainvestment.com:31000"):  # through httpx, unwrapped
        httpx.get("http://ops.koreainvestment.com:31000/", timeout=1)
    errors = []

    def background():
        try:
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            with s:
                s.connect(("2001:db8::1", 443))
        except NetworkBlocked as e:
            errors.append(str(e))

    t = threading.Thread(target=background)
    t.start()
    t.join(10)
    assert errors and "2001:db8::1:443" in errors[0] and "block_network=False" in errors[0]
    # loopback is untouched: the fixture's own server answers
    assert httpx.get(fake_kis.rest_url + "/__fakekis/stats", timeout=10).status_code == 200
    assert fake_kis.blocked_connections[-1] == "2001:db8::1:443"
    assert conftest.TRIPPED == []


@pytest.mark.fake_kis(block_network=False)
def test_opt_out(fake_kis):
    with pytest.raises(ConnectionRefusedError, match="tripwire"):
        socket.getaddrinfo("kis.invalid", 443)
    assert conftest.TRIPPED == ["kis.invalid"]
    conftest.TRIPPED.clear()


@pytest.mark.fake_kis(allow_hosts=["kis.invalid"])
def test_allow_hosts(fake_kis):
    with pytest.raises(ConnectionRefusedError, match="tripwire"):
        socket.getaddrinfo("kis.invalid", 443)
    with pytest.raises(NetworkBlocked, match="other.invalid"):
        socket.getaddrinfo("other.invalid", 443)
    conftest.TRIPPED.clear()


@pytest.mark.fake_kis(record="once", upstream="live", recording="rec")
def test_a_recording_test_reaches_its_upstream_only(fake_kis):
    assert fake_kis.recording and "openapi.koreainvestment.com" in fake_kis._guard.allow
    with pytest.raises(NetworkBlocked, match="example.org"):
        socket.getaddrinfo("example.org", 443)


def test_after_the_fixture_the_guard_is_gone():
    assert socket.socket.connect is ORIGINAL
"""


def test_no_connection_leaves_loopback_during_a_fake_kis_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(TRIPWIRE)
    pytester.makepyfile(test_child=CHILD)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-W", "error", timeout=120)
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=5)


def test_the_command_line_opt_out(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(TRIPWIRE)
    pytester.makepyfile(
        test_child="""
import socket
import pytest
import conftest


def test_open(fake_kis):
    with pytest.raises(ConnectionRefusedError, match="tripwire"):
        socket.create_connection(("203.0.113.9", 21000), timeout=1)
    assert conftest.TRIPPED == ["203.0.113.9"]
"""
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-q", "--fake-kis-allow-network", timeout=120
    )
    result.assert_outcomes(passed=1)
