"""A small HTTP/1.1 keep-alive load generator for loopback benchmarks, run in its own process so its CPU is
not the server's:

    python -m bench.loadgen PORT PATH --concurrency 32 --requests 20000 [--seconds S] [--rate R] [--poll]

Prints one JSON line: requests done, elapsed, req/s, non-200 answers and sorted latencies (ms); with `--poll` also the
(`volume`, wall-clock arrival time) of every answer, for the freshness benchmark.

Why not httpx: in one process with 32 connections it topped out near 250 req/s here, well below what a
bare Starlette endpoint serves, so it measured itself. Raw asyncio streams with TCP_NODELAY (asyncio sets
it on connections it opens) do several thousand per second on one core; wrk would do more, but it is
not on a fresh machine and a pip install cannot bring it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time

_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)
_VOLUME = re.compile(rb'"volume":(\d+)')


async def _one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[bool, bytes]:
    """One request on a kept-alive connection: (status was 200, body)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    match = _LENGTH.search(head)
    if match is None:
        raise RuntimeError("bench.loadgen: no content-length in the answer")
    return head.startswith(b"HTTP/1.1 200"), await reader.readexactly(int(match.group(1)))


async def load(
    port: int,
    path: str,
    concurrency: int,
    requests: int,
    seconds: float | None,
    poll: bool,
    rate: float | None = None,
    headers: tuple[str, ...] = (),
) -> dict[str, object]:
    """Closed loop (each connection sends its next request when the answer is in), or paced at `rate`
    requests per second in all, spread evenly over the connections."""
    extra = "".join(f"{h}\r\n" for h in headers)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode()
    latencies: list[float] = []
    polled: list[tuple[int, float]] = []
    errors = 0  # answers other than 200 (a gateway without ticks yet answers 503 when REST is refused)
    per_conn = max(1, requests // concurrency)
    deadline = time.perf_counter() + seconds if seconds else None

    async def conn(index: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        interval = concurrency / rate if rate else 0.0
        due = time.perf_counter() + interval * index / concurrency
        try:
            for _ in range(per_conn):
                if interval:  # paced: wait for this connection's next slot (a load generator may sleep)
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    due += interval
                if deadline is not None and time.perf_counter() > deadline:
                    return
                t = time.perf_counter()
                ok, body = await _one(reader, writer, request)
                latencies.append((time.perf_counter() - t) * 1000)
                errors += not ok
                if poll:
                    match = _VOLUME.search(body)
                    if match and b'"source":"kis-ws"' in body:
                        polled.append((int(match.group(1)), time.time()))
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(conn(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    out: dict[str, object] = {
        "requests": len(latencies),
        "elapsed_s": elapsed,
        "rps": len(latencies) / elapsed,
        "errors": errors,
        "latencies_ms": latencies,
    }
    if poll:
        out["polled"] = polled
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("path")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=None, help="stop each connection after this long")
    parser.add_argument("--poll", action="store_true", help="report (volume, arrival time) of each answer")
    parser.add_argument(
        "--rate", type=float, default=None, help="requests per second in all (default: closed loop)"
    )
    parser.add_argument("--header", action="append", default=[], help="'name: value', repeatable")
    args = parser.parse_args()
    result = asyncio.run(
        load(
            args.port,
            args.path,
            args.concurrency,
            args.requests,
            args.seconds,
            args.poll,
            args.rate,
            tuple(args.header),
        )
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
