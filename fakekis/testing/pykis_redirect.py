"""python-kis pointed at a `fake_kis` for one test, and shut down before the redirect is undone.

python-kis copies its domain constants into the modules that use them, so those copies are patched. Its
WebSocket client runs a daemon thread that reconnects every 5 s for as long as the process lives; left
alone it outlives the test, and once the constants are restored it dials the REAL KIS host. So every
`KisWebsocketClient` created while redirected is remembered, and `close()` (the fixture's teardown)
stops their reconnect loops and disconnects them (`stop()`), and once fakekis has stopped too (which ends
any socket still waiting for a close answer), waits for their threads to end before restoring the
constants (`close()`). A thread that will not end keeps the constants on a closed loopback port, and the teardown
says so.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

JOIN_SECONDS = 10.0
CLOSED = "127.0.0.1:9"  # discard port on loopback: nothing listens there


class PykisRedirect:
    def __init__(self) -> None:
        self._patch = pytest.MonkeyPatch()
        self.clients: list[Any] = []
        self._threads: list[Any] = []
        self._active = False

    def apply(self, domains: dict[str, str]) -> None:
        import pykis.client.websocket
        import pykis.kis

        for name, url in domains.items():
            module = pykis.client.websocket if name.startswith("WEBSOCKET") else pykis.kis
            self._patch.setattr(module, name, url)
        if not self._active:
            cls = pykis.client.websocket.KisWebsocketClient
            original = cls.__init__
            clients = self.clients

            def tracked(client: Any, *args: Any, **kwargs: Any) -> None:
                original(client, *args, **kwargs)
                clients.append(client)

            self._patch.setattr(cls, "__init__", tracked)
            self._active = True

    def stop(self) -> None:
        """Stop every remembered client's reconnect loop and disconnect it (first step of the teardown;
        its socket may wait for the server's close answer, so the fixture stops fakekis next)."""
        for client in self.clients:
            for c in (client, getattr(client, "_primary_client", None)):
                if c is None:
                    continue
                c.reconnect = False  # its loop re-dials while this is set, even after disconnect()
                thread = getattr(c, "thread", None)
                c.disconnect()  # sets c.thread = None: the loop ends when run_forever returns
                if thread is not None:
                    self._threads.append(thread)
        self.clients.clear()

    def close(self) -> None:
        """Wait for the stopped clients' threads to end, then undo the patches (after fakekis stopped)."""
        if not self._active:
            return
        self.stop()  # idempotent: nothing left to stop when the fixture already did
        threads, self._threads = self._threads, []
        deadline = time.monotonic() + JOIN_SECONDS
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in threads if t.is_alive()]
        if alive:
            import pykis.client.websocket
            import pykis.kis

            for module, names in (
                (pykis.kis, ("REAL_DOMAIN", "VIRTUAL_DOMAIN")),
                (pykis.client.websocket, ("WEBSOCKET_REAL_DOMAIN", "WEBSOCKET_VIRTUAL_DOMAIN")),
            ):
                for name in names:
                    scheme = "ws" if name.startswith("WEBSOCKET") else "http"
                    setattr(module, name, f"{scheme}://{CLOSED}")  # never back to the real host
            raise RuntimeError(
                f"fake_kis: python-kis WebSocket thread(s) {alive} still alive {JOIN_SECONDS:g}s after "
                f"disconnect; python-kis's domains are left on {CLOSED} so they cannot reach real KIS"
            )
        self._patch.undo()
        self._active = False
