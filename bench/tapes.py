"""Day-long recordings (issue #18), side by side in one run; never part of the unit tests.

    python -m bench.tapes [--work DIR] [--day-minutes 720] [--proxy-seconds 60] [--out bench/tapes.json]
                          [--only validate,from,replay,serve,proxy]

Makes (in --work, not committed) a synthetic day of 41 symbols with trades and books (`fakekis generate
--compress zst`, ~5M frames at the default rates) and a 10-minute tape of the same kind, then measures:
- peak RSS (VmHWM) of a `fakekis serve --speed asap` process replaying each to a client that subscribes
  to every symbol and TR (two connections: 41 registrations each), and its frames/s;
- replay asap from the compressed 10-minute tape (in-process FakeKis) vs a bare websockets server sending
  the same frames from a list, alternating, 3 runs each; one client loop for both (`_count`), timed from
  the last subscription ack to the last of the tape's frames, with the process's CPU time per frame;
- `serve --from 15:00` on the day: spawn to ready line, and subscribe to first data frame;
- `fakekis validate` on the day (lines/s, peak RSS) vs the floor: decompressing and counting lines only
  (at validate's read size and at the reader's), and vs the exact per-line pass validate made before;
- compressed size vs the JSONL it holds;
- the recording proxy at 5,000 frames/s for --proxy-seconds: frames the client got vs frames in the file,
  and the proxy's RSS at the start and end.
Prints each row's numbers as it goes; --out keeps them (rows from earlier runs are kept, each with the load
average it ran under).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from fakekis import tape
from fakekis.tape import compress, survey
from gateway.session import subscribe_message

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SYMBOLS = ["005930", "000660", "035720"] + [f"{100000 + i * 7:06d}" for i in range(38)]
APPKEY, SECRET = "A" * 36, "s" * 180


def _rss_kb(pid: int, field: str = "VmHWM") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def generate(out: Path, minutes: float) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [
            PY,
            "-m",
            "fakekis",
            "generate",
            str(out),
            "--start",
            "2026-11-25T08:00:00+09:00",
            "--minutes",
            str(minutes),
            "--trade-rate",
            "2.3",
            "--symbols",
            ",".join(SYMBOLS),
            "--compress",
            "zst",
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t0


async def _key(rest_url: str) -> str:
    async with httpx.AsyncClient(base_url=rest_url) as http:
        body = {"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET}
        return str((await http.post("/oauth2/Approval", json=body)).json()["approval_key"])


async def _drain(
    ws_url: str, key: str, subs: list[tuple[str, str]], n: int | None, first: list[float]
) -> int:
    """Subscribe to `subs` and count data frames until `n` (or the server goes quiet for 5 s)."""
    got = 0
    async with websockets.connect(ws_url, ping_interval=None, compression=None, max_size=2**20) as ws:
        for tr, code in subs:
            await ws.send(subscribe_message(key, tr, code))
        while n is None or got < n:
            try:
                msg = await asyncio.wait_for(ws.recv(), 5)
            except (asyncio.TimeoutError, websockets.ConnectionClosed):
                break
            if isinstance(msg, str) and msg[:2] == "0|":
                if not first:
                    first.append(time.perf_counter())
                got += 1
    return got


def _serve(recording: Path, *extra: str) -> tuple[subprocess.Popen[str], dict[str, Any], float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        # the bench client does not echo PINGPONG: without --pingpong-deadline 0 a long replay is dropped
        [
            PY,
            "-m",
            "fakekis",
            "serve",
            "--recording",
            str(recording),
            "--speed",
            "asap",
            "--pingpong-deadline",
            "0",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    return proc, ready, time.perf_counter() - t0


async def serve_replay(recording: Path, frames: int) -> dict[str, Any]:
    """A `fakekis serve --speed asap` process replaying the whole tape to two client connections."""
    proc, ready, _ = _serve(recording)
    try:
        key = await _key(ready["rest_url"])
        trades = [("H0STCNT0", s) for s in SYMBOLS]
        books = [("H0STASP0", s) for s in SYMBOLS]
        first: list[float] = []
        t0 = time.perf_counter()
        got = await asyncio.gather(
            _drain(ready["ws_url"], key, trades, None, first),
            _drain(ready["ws_url"], key, books, None, first),
        )
        took = time.perf_counter() - t0 - 5  # the 5 s of quiet that ended the drain
        return {
            "frames": sum(got),
            "of": frames,
            "seconds": round(took, 1),
            "per_s": sum(got) / took,
            "peak_rss_mb": _rss_kb(proc.pid) / 1024,
        }
    finally:
        proc.terminate()
        proc.wait(30)


async def serve_from(day: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, extra in (("--from 15:00", ("--from", "15:00")), ("from the top", ())):
        proc, ready, spawn = _serve(day, *extra)
        try:
            key = await _key(ready["rest_url"])
            first: list[float] = []
            t0 = time.perf_counter()
            await _drain(ready["ws_url"], key, [("H0STCNT0", "005930")], 1, first)
            out[label] = {
                "spawn_to_ready_s": round(spawn, 3),
                "subscribe_to_first_frame_s": round(first[0] - t0, 4),
            }
        finally:
            proc.terminate()
            proc.wait(30)
    return out


async def _count(
    url: str, key: str, subs: list[tuple[str, str]], n: int, acked: Any = None
) -> tuple[float, float]:
    """The replay row's client, the same for both servers: subscribe to `subs`, wait for every ack, call
    `acked` (fakekis's player starts there, so no frame falls before its symbol's registration and the
    count is exact), then read `n` data frames with a plain `recv()` each. Frames/s from the last ack, and
    this process's CPU time per frame (server and client: the steadier figure on a shared machine).
    Bounded: a refused subscription or a short count fails with a message instead of hanging."""
    async with websockets.connect(url, ping_interval=None, compression=None, max_size=2**20) as ws:
        for tr, code in subs:
            await ws.send(subscribe_message(key, tr, code))
        acks = 0
        while acks < len(subs):
            msg = await asyncio.wait_for(ws.recv(), 10)
            body = json.loads(msg)
            if body["header"]["tr_id"] == "PINGPONG":
                continue
            if body["body"]["msg_cd"] != "OPSP0000":
                raise RuntimeError(f"subscription refused: {body['body']['msg1']}")
            acks += 1
        if acked is not None:
            acked()
        t0, c0 = time.perf_counter(), time.process_time()

        async def frames() -> int:
            got = 0
            while got < n:
                msg = await ws.recv()
                if msg[:2] == "0|":
                    got += 1
            return got

        try:
            got = await asyncio.wait_for(frames(), 300)
        except asyncio.TimeoutError:
            raise RuntimeError(f"{url}: fewer than {n} data frames in 300 s") from None
        return got / (time.perf_counter() - t0), (time.process_time() - c0) / got * 1e6


async def replay_vs_bare(short: Path) -> dict[str, Any]:
    from bench.sender import serve_frames
    from fakekis.serve.server import FakeKis

    rec = tape.open_tape(short)
    texts = [f.text for f in rec.frames()]
    subs = rec.subscriptions
    runs: dict[str, list[float]] = {"bare": [], "fakekis": [], "fakekis list": []}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(3):
        server = await serve_frames(texts)
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        rate, us = await _count(url, "k", [("H0STCNT0", "005930")], len(texts))
        runs["bare"].append(rate)
        cpu["bare"].append(us)
        server.close()
        # streamed from the compressed file (this issue), and the whole tape loaded as a list (before it)
        for label, source in (("fakekis", tape.open_tape(short)), ("fakekis list", tape.load(short))):
            async with FakeKis(source, speed=None, max_registrations=100, start_on="manual") as kis:
                urls = kis.urls["mock"]
                key = await _key(urls["rest_url"])
                rate, us = await _count(urls["ws_url"], key, subs, len(texts), kis.player.start)
                runs[label].append(rate)
                cpu[label].append(us)
    out: dict[str, Any] = {
        k: {
            "median": statistics.median(v),
            "min": min(v),
            "max": max(v),
            "cpu_us_per_frame": {"median": statistics.median(cpu[k]), "min": min(cpu[k])},
        }
        for k, v in runs.items()
    }
    out["ratio"] = out["fakekis"]["median"] / out["bare"]["median"]
    out["cpu_ratio"] = (
        out["bare"]["cpu_us_per_frame"]["median"] / out["fakekis"]["cpu_us_per_frame"]["median"]
    )
    return out


def _validate_process(day: Path) -> tuple[int, float, int]:
    """`fakekis validate` in its own process: (lines, seconds, peak RSS kB polled from /proc)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "fakekis", "validate", str(day)], stdout=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, _rss_kb(proc.pid))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.2)
    took = time.perf_counter() - t0
    assert proc.stdout is not None and proc.returncode == 0
    return json.loads(proc.stdout.read())["ws_lines"], took, peak


def _floor(ws: Path, read_size: int) -> tuple[int, int, float]:
    """Decompress and count lines, nothing else: (lines, decoded bytes, seconds)."""
    t0 = time.perf_counter()
    lines = plain = 0
    for _, data in compress.chunks(ws, 0, read_size):
        lines += data.count(b"\n")
        plain += len(data)
    return lines, plain, time.perf_counter() - t0


def validate(day: Path, rounds: int = 2) -> dict[str, Any]:
    """`fakekis validate` in its own process, alternated with the floor (decompressing and counting lines
    at validate's read size, and at the reader's default) and the exact per-line pass that validate made
    before (in this process, once: it is slow)."""
    ws = compress.find_ws(day)[0]
    runs: dict[str, list[float]] = {"validate": [], "floor": [], "floor_128k": []}
    peak = lines = plain = 0
    for _ in range(rounds):
        lines, took, rss = _validate_process(day)
        runs["validate"].append(lines / took)
        peak = max(peak, rss)
        n, plain, took = _floor(ws, survey.READ_SIZE)
        runs["floor"].append(n / took)
        n, _, took = _floor(ws, compress.READ_SIZE)
        runs["floor_128k"].append(n / took)
    t0 = time.perf_counter()
    exact = survey.survey(tape.open_tape(day), fast=False).lines / (time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "lines": lines,
        "per_s": med["validate"],
        "per_s_runs": runs["validate"],
        "peak_rss_mb": peak / 1024,
        "floor_per_s": med["floor"],
        "floor_128k_per_s": med["floor_128k"],
        "exact_per_s": exact,
        "vs_floor": med["validate"] / med["floor"],
        "jsonl_bytes": plain,
        "zst_bytes": ws.stat().st_size,
        "size_ratio": ws.stat().st_size / plain,
    }


# -- the proxy at 5k frames/s ---------------------------------------------------------------------------


async def _paced_upstream(rate: int, seconds: float) -> None:
    """`python -m bench.tapes upstream RATE SECONDS`: a minimal KIS-speaking WS server that acks the first
    subscribe, then sends RATE single-record frames per second (in 10 ms batches) for SECONDS."""
    from bench.common import trade_frames
    from fakekis.wire import frames as fk

    texts = trade_frames()

    async def handler(ws: Any) -> None:
        msg = json.loads(await ws.recv())
        inp = msg["body"]["input"]
        await ws.send(
            fk.control(
                inp["tr_id"],
                inp["tr_key"],
                "0",
                "OPSP0000",
                "SUBSCRIBE SUCCESS",
                {"iv": "0" * 16, "key": "a" * 32},
            )
        )
        t0 = time.perf_counter()
        sent = 0
        while (now := time.perf_counter() - t0) < seconds:
            due = int(now * rate)
            while sent < due:
                await ws.send(texts[sent % len(texts)])
                sent += 1
            await asyncio.sleep(0.01)
        await ws.close()

    server = await websockets.serve(handler, "127.0.0.1", 0, ping_interval=None, compression=None)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


def _spawn_proxy(
    work: Path, rate: int, seconds: float
) -> tuple[subprocess.Popen[str], subprocess.Popen[str], Path]:
    up = subprocess.Popen(
        [PY, "-m", "bench.tapes", "upstream", str(rate), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert up.stdout is not None
    port = int(up.stdout.readline())
    out = work / "proxy-rec"
    rec = subprocess.Popen(
        [
            PY,
            "-m",
            "fakekis",
            "record",
            str(out),
            "--compress",
            "zst",
            "--rest-upstream",  # record checks both upstreams answer a connect; no REST call is made
            f"http://127.0.0.1:{port}",
            "--ws-upstream",
            f"ws://127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return up, rec, out


async def proxy(work: Path, rate: int, seconds: float) -> dict[str, Any]:
    up, rec, out = _spawn_proxy(work, rate, seconds)
    try:
        assert rec.stdout is not None
        ready = json.loads(rec.stdout.readline())
        rss0 = _rss_kb(rec.pid, "VmRSS")
        got = 0
        rss_mid = 0
        async with websockets.connect(ready["ws_url"], ping_interval=None, compression=None) as ws:
            await ws.send(subscribe_message("k" * 36, "H0STCNT0", "005930"))
            async for msg in ws:
                if isinstance(msg, str) and msg[:2] == "0|":
                    got += 1
                    if got == rate * seconds // 2:
                        rss_mid = _rss_kb(rec.pid, "VmRSS")
        rss1 = _rss_kb(rec.pid, "VmRSS")
    finally:
        rec.send_signal(2)
        rec.wait(60)
        up.terminate()
        up.wait(30)
    in_file = tape.open_tape(out).frame_count()
    return {
        "seconds": seconds,
        "rate": rate,
        "client_frames": got,
        "file_frames": in_file,
        "lost": (got - in_file) if in_file is not None else None,
        "rss_mb": [round(rss0 / 1024, 1), round(rss_mid / 1024, 1), round(rss1 / 1024, 1)],
    }


def load_note() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "upstream":
        asyncio.run(_paced_upstream(int(sys.argv[2]), float(sys.argv[3])))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("/tmp/kis-bench-tapes"))
    ap.add_argument("--day-minutes", type=float, default=720)
    ap.add_argument("--proxy-seconds", type=int, default=60)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "tapes.json")
    ap.add_argument("--only", default="validate,from,replay,serve,proxy", help="comma list of rows to run")
    args = ap.parse_args()
    only = set(args.only.split(","))
    args.work.mkdir(parents=True, exist_ok=True)
    day, short = args.work / "day", args.work / "short"
    res: dict[str, Any] = json.loads(args.out.read_text()) if args.out.is_file() else {}
    res["load_before"] = load_note()
    if only & {"validate", "from", "serve"}:
        if not (day / "ws.index.json").is_file():
            res["generate_day_s"] = generate(day, args.day_minutes)
        res["day_frames"] = tape.open_tape(day).frame_count()
    if not (short / "ws.index.json").is_file():
        generate(short, 10)
    res["short_frames"] = tape.open_tape(short).frame_count()
    steps = [
        ("validate", "validate", lambda: validate(day)),
        ("from", "serve_from", lambda: asyncio.run(serve_from(day))),
        ("replay", "replay_vs_bare", lambda: asyncio.run(replay_vs_bare(short))),
        ("serve", "serve_short", lambda: asyncio.run(serve_replay(short, res["short_frames"]))),
        ("serve", "serve_day", lambda: asyncio.run(serve_replay(day, res["day_frames"]))),
        ("proxy", "proxy", lambda: asyncio.run(proxy(args.work, 5000, args.proxy_seconds))),
    ]
    for key, name, step in steps:
        if key in only:
            res[name] = step()
            res[name + "_load"] = load_note()
            args.out.write_text(json.dumps(res, indent=2) + "\n")
            print(name, json.dumps(res[name]), flush=True)


if __name__ == "__main__":
    main()
