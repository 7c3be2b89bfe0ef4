"""fakekis: a faithful local fake of the KIS (한국투자증권) Open API, REST + WebSocket.

Sans-I/O cores (`frames`, `auth`, `exchange`, `tape`, `synth`, `market`) under thin asyncio shells
(`rest`, `server`). Never imports `gateway`: the two meet only on the wire and in recording files.
"""

__version__ = "0.1.0"
