"""kis-gateway: a quote service on KIS realtime trades with a truthful REST fallback.

Sans-I/O cores (`codec`, `session`, `market`, `cache`, `metrics`) under thin asyncio shells
(`worker`, `rest`, `app`). Never imports `fakekis`: the two meet only on the wire.
"""

from importlib import metadata as _metadata

try:  # one source for the version: pyproject.toml, read from the installed distribution's metadata
    __version__ = _metadata.version("kis-harness")
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
