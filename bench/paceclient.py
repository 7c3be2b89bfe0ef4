"""The pacing benchmark's receiving client, in its own process so its work is not on the server's loop:

    python -m bench.paceclient WS_URL APPROVAL_KEY SECONDS

Subscribes to the bundled recording's subscriptions, takes every data frame whose tape time is within
SECONDS, and prints one JSON line: each frame's arrival error (ms) against the tape's schedule, anchored
at the first frame (which the server sends as soon as it starts: t - t0 is what pacing must reproduce).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import websockets

from fakekis import tape
from gateway.session import subscribe_message


async def receive(url: str, key: str, seconds: float) -> list[float]:
    rec = tape.load(tape.bundled())
    frames = [f for f in rec.data_frames() if f.t <= seconds]
    arrivals: list[float] = []
    async with websockets.connect(url, ping_interval=None, compression=None) as ws:
        for tr_id, tr_key in rec.subscriptions:
            await ws.send(subscribe_message(key, tr_id, tr_key))
        while len(arrivals) < len(frames):
            msg = await ws.recv()
            if msg[:2] == "0|":
                arrivals.append(time.perf_counter())
    base = arrivals[0] - frames[0].t
    return [((a - base) - f.t) * 1000 for a, f in zip(arrivals, frames, strict=True)]


if __name__ == "__main__":
    print(json.dumps(asyncio.run(receive(sys.argv[1], sys.argv[2], float(sys.argv[3])))), flush=True)
