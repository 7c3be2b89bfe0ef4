"""No connection leaves loopback during a `fake_kis` test (as pytest-recording's `--block-network`).

While a `Guard` is installed, `socket.socket.connect`/`connect_ex` to an IPv4/IPv6 address that is not
loopback, and `socket.getaddrinfo` of a name that is not loopback (a DNS query already leaves the machine),
raise `NetworkBlocked` naming the host, in whichever thread tried. A client under test that still knows
the real KIS host (python-kis copies its domains at import, a config file, a default URL) fails loudly
instead of dialling KIS. `allow_hosts` lets named hosts through; the fixture's opt-out is
`@pytest.mark.fake_kis(block_network=False)` or `pytest --fake-kis-allow-network`.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

OPT_OUT = "@pytest.mark.fake_kis(block_network=False), allow_hosts=[...] or pytest --fake-kis-allow-network"


class NetworkBlocked(RuntimeError):
    """Not an OSError on purpose: a client that retries on network errors must not swallow this one."""


def is_loopback(host: object) -> bool:
    """127.0.0.0/8, ::1 (also IPv4-mapped), `localhost` and `*.localhost`; None/"" is the local host too."""
    if host is None:
        return True
    text = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    text = text.strip().strip("[]").lower()
    if text in ("", "localhost") or text.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


class Guard:
    """Install once, uninstall once; `blocked` lists every refused "host:port" in order."""

    def __init__(self, allow_hosts: Iterable[str] = ()) -> None:
        self.allow = {h.lower().strip("[]") for h in allow_hosts}
        self.blocked: list[str] = []
        self._lock = threading.Lock()
        self._saved: dict[str, Any] = {}

    def _check(self, host: object, port: object, what: str) -> None:
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
        if is_loopback(host) or name.lower().strip("[]") in self.allow:
            return
        target = f"{name}:{port}" if port not in (None, "", 0) else name
        with self._lock:
            self.blocked.append(target)
        raise NetworkBlocked(
            f"fake_kis blocked a {what} to {target}: only loopback is reachable during a fake_kis test "
            f"(point the client at fake_kis.rest_url/ws_url; to opt out: {OPT_OUT})"
        )

    def install(self) -> None:
        if self._saved:
            raise RuntimeError("netguard.Guard installed twice")
        orig_connect, orig_connect_ex = socket.socket.connect, socket.socket.connect_ex
        orig_getaddrinfo = socket.getaddrinfo
        guard = self

        def _address(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address:
                guard._check(address[0], address[1] if len(address) > 1 else None, "connection")

        def connect(self: socket.socket, address: Any) -> None:
            _address(self, address)
            orig_connect(self, address)

        def connect_ex(self: socket.socket, address: Any) -> int:
            _address(self, address)
            return orig_connect_ex(self, address)

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            guard._check(host, port, "name lookup")
            return orig_getaddrinfo(host, port, *args, **kwargs)

        self._saved = {
            "connect": orig_connect,
            "connect_ex": orig_connect_ex,
            "getaddrinfo": orig_getaddrinfo,
        }
        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
        socket.getaddrinfo = getaddrinfo

    def uninstall(self) -> None:
        saved, self._saved = self._saved, {}
        if not saved:
            return
        socket.socket.connect = saved["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = saved["connect_ex"]  # type: ignore[method-assign]
        restore: Callable[..., Any] = saved["getaddrinfo"]
        socket.getaddrinfo = restore
