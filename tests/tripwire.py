"""A conftest for child pytest runs (pytester) that must never reach the network: an audit hook refuses,
before any packet, every `socket.connect` or `socket.getaddrinfo` that reaches the C level for a host that
is not loopback, and records it in `conftest.TRIPPED`. Used to prove the fake_kis network guard and the
python-kis teardown work without trusting them."""

TRIPWIRE = """
import ipaddress
import sys

TRIPPED = []


def _loopback(host):
    text = (host.decode() if isinstance(host, bytes) else str(host or "")).strip("[]").lower()
    if text in ("", "localhost", "none"):
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


def _hook(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple):
        host = args[1][0]
    elif event == "socket.getaddrinfo":
        host = args[0]
    else:
        return
    if not _loopback(host):
        TRIPPED.append(str(host))
        raise ConnectionRefusedError(f"tripwire: {host} reached the socket layer")


sys.addaudithook(_hook)
"""
