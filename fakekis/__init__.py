"""fakekis: a faithful local fake of the KIS (한국투자증권) Open API, REST + WebSocket.

The package's rooms, lowest floor first (each imports only from the floors below it; `tests/fakekis/
test_layering.py` checks it):

- `rules/`    KRX rules as pure functions (tick sizes, price limits)
- `wire/`     the one parser and encoder of KIS text; AES for notices; the secret scrubber; record layouts by era
- `tape/`     recordings: format and loader, seeded generator, inspect/validate summaries
- `exchange/` the sans-I/O exchange: auth, sessions and subscriptions, market state, products
- `faults/`   faults as data: KIS-level misbehaviour a scenario injects
- `serve/`    the asyncio shells: WebSocket server, player, REST app, recording proxy
- `testing/`  the pytest plugin and the demo
- `cli/`      the `fakekis` command

Never imports `gateway`: the two meet only on the wire and in recording files.

The public API: `FakeKis` (a running fake: `async with FakeKis(...)`), `Scenario` (a set of faults),
`load` (a recording folder) and `bundled` (the path of a bundled recording). They are imported on first use,
so `import fakekis.wire.frames` stays light.
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import TYPE_CHECKING, Any

try:  # one source for the version: pyproject.toml, read from the installed distribution's metadata
    __version__ = _metadata.version("kis-harness")
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from fakekis.faults import Scenario
    from fakekis.serve.server import FakeKis
    from fakekis.tape.format import bundled
    from fakekis.tape.reader import load

__all__ = ["FakeKis", "Scenario", "__version__", "bundled", "load"]

_PUBLIC = {
    "FakeKis": "fakekis.serve.server",
    "Scenario": "fakekis.faults",
    "load": "fakekis.tape.reader",
    "bundled": "fakekis.tape.format",
}


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'fakekis' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
