"""kis-gateway: a quote service on KIS realtime trades with a truthful REST fallback.

Sans-I/O cores (`codec`, `session`, `market`, `cache`, `metrics`) under thin asyncio shells
(`worker`, `rest`, `app`). Never imports `fakekis`: the two meet only on the wire.
"""

__version__ = "0.1.0"
