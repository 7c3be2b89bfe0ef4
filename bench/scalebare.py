"""The fan-out row's floor (bench/scale.py): the Redis hop alone, with nothing of ours in it.

    python -m bench.scalebare pub URL KEY RATE SECONDS     XADD one frame-sized entry per 1/RATE s, stamped
    python -m bench.scalebare read URL KEY SECONDS         XREAD BLOCK from `$`; prints the lags (ms) as JSON

The publisher sends what is due each loop turn in one pipeline (as the gateway's relay batches a turn's
frames); the reader uses the follower's XREAD (block 500 ms, count 500). Each stamps CLOCK_REALTIME: one host.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import redis.asyncio as aioredis

FRAME = "0|H0STCNT0|001|" + "^".join(["200000", "100000", "71000", "2", "100", "0.14"] + ["1234"] * 40)


async def pub(url: str, key: str, rate: float, seconds: float) -> None:
    r = aioredis.Redis.from_url(url)
    start = time.time()
    sent = 0
    try:
        while (now := time.time()) < start + seconds:
            due = int((now - start) * rate) - sent
            if due > 0:
                p = r.pipeline(transaction=False)
                for _ in range(due):
                    p.xadd(key, {"k": "data", "e": "1", "r": f"{time.time() * 1000:.3f}", "f": FRAME},
                           maxlen=50_000, approximate=True)  # fmt: skip
                await p.execute()
                sent += due
            await asyncio.sleep(0.0005)  # paced publisher: a load generator may sleep
    finally:
        await r.aclose()


async def read(url: str, key: str, seconds: float) -> list[float]:
    r = aioredis.Redis.from_url(url, decode_responses=True)
    lags: list[float] = []
    last, end = "$", time.time() + seconds
    try:
        while time.time() < end:
            reply: Any = await r.xread({key: last}, count=500, block=500)
            for _, got in reply or []:
                now = time.time()
                lags += [now * 1000 - float(f["r"]) for _, f in got]
                last = got[-1][0]
    finally:
        await r.aclose()
    return lags


def main() -> int:
    if len(sys.argv) == 6 and sys.argv[1] == "pub":
        asyncio.run(pub(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])))
        return 0
    if len(sys.argv) == 5 and sys.argv[1] == "read":
        print(json.dumps(asyncio.run(read(sys.argv[2], sys.argv[3], float(sys.argv[4])))))
        return 0
    print("usage: python -m bench.scalebare pub URL KEY RATE SECONDS | read URL KEY SECONDS", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
