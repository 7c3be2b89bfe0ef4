"""The ingest benchmark's sender, in its own process so the receiver under test has a core to itself:

    python -m bench.sender N      -> prints its port; each connection: ack the first subscribe, then
                                     send N single-record H0STCNT0 frames as fast as websockets allows

A minimal KIS-speaking server, not fakekis: ingest measures the receiving side only.
"""

from __future__ import annotations

import asyncio
import json
import sys

from websockets.asyncio.server import Server, serve

from bench.common import trade_frames
from fakekis.wire import frames as fk


async def serve_frames(texts: list[str]) -> Server:
    """A minimal KIS-speaking server on a free loopback port: each connection gets an ack for its first
    subscribe, then every text as fast as websockets allows (used in-process by the replay benchmark)."""

    async def handler(ws) -> None:
        msg = json.loads(await ws.recv())
        inp = msg["body"]["input"]
        await ws.send(
            fk.control(
                inp["tr_id"],
                inp["tr_key"],
                "0",
                "OPSP0000",
                "SUBSCRIBE SUCCESS",
                {"iv": "0123456789abcdef", "key": "a" * 32},
            )
        )
        for text in texts:
            await ws.send(text)
        await ws.wait_closed()

    return await serve(handler, "127.0.0.1", 0, ping_interval=None, compression=None)


async def main(n: int) -> None:
    single = trade_frames()
    server = await serve_frames((single * (n // len(single) + 1))[:n])
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
