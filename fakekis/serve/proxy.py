"""`fakekis record`: a recording proxy in front of real KIS (or any KIS-speaking upstream).

Clients point their REST and WS URLs at the proxy. REST goes upstream through httpx inside a vcrpy
cassette in record mode (-> rest.yaml); WebSocket messages are relayed both ways (text and pong
frames) and appended to ws.jsonl as they pass, each line flushed, so the folder is a valid recording
at every moment; session.json is written at start and completed at the end.

Safety: only auth and quotation calls are forwarded unless `allow_trading`; everything is scrubbed of
secrets before it is written, and so is every log line (`serve/quietlogs.py`); servers bind loopback.

Why over 300 lines: one recorder's lifecycle (REST relay, WS relay, the files, progress) is one object whose
parts share its scrubber, clock and counters. What may be forwarded is decided in `serve/allowlist.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import vcr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode

import kisclock
from fakekis.exchange.warm import IndexFold
from fakekis.serve.allowlist import FORWARDED_HEADERS, check
from fakekis.serve.listen import start_rest
from fakekis.serve.quietlogs import QuietLogs
from fakekis.tape import cassette
from fakekis.tape.format import FORMAT, VERSION, WsLine
from fakekis.tape.sink import TapeSink
from fakekis.wire import frames
from fakekis.wire.scrub import SECRET_FIELDS, Scrubber, is_notice_tr
from kisclock import KST, Clock, WallClock

UPSTREAMS = {
    "live": ("https://openapi.koreainvestment.com:9443", "ws://ops.koreainvestment.com:21000"),
    "mock": ("https://openapivts.koreainvestment.com:29443", "ws://ops.koreainvestment.com:31000"),
}
WS_MAX_MESSAGE = 2**20  # bytes per WebSocket message, both ways (KIS messages are a few KiB at most)
log = logging.getLogger("fakekis.record")


class _RelayConnection(ServerConnection):
    on_pong: Any = None

    def process_event(self, event: Any) -> None:
        if getattr(event, "opcode", None) is Opcode.PONG and self.on_pong is not None:
            self.on_pong(bytes(event.data))
        super().process_event(event)


class Recorder:
    def __init__(
        self,
        out: Path | str,
        *,
        env: str = "mock",
        rest_upstream: str | None = None,
        ws_upstream: str | None = None,
        host: str = "127.0.0.1",
        rest_port: int = 0,
        ws_port: int = 0,
        allow_trading: bool = False,
        notes: str = "",
        clock: Clock | None = None,
        limits: dict[str, float] | None = None,
        ws_name: str = "ws.jsonl",
        flush_every: float = 0.5,
        rotate_bytes: int | None = None,
    ) -> None:
        """`limits`: overrides of `listen.start_rest`'s bounds (max_body, body_timeout, header_timeout,
        keep_alive), for tests; the defaults are documented in docs/security.md. `ws_name` picks the
        compression (ws.jsonl, ws.jsonl.zst, ws.jsonl.gz); a compressed file is flushed as a whole frame
        every `flush_every` seconds (`tape/sink.py`: what survives a kill -9); past `rotate_bytes` the ws file
        goes on in its next part (ws.2.jsonl.zst, ...)."""
        self.out = Path(out)
        self.env = env
        self.rest_upstream = (rest_upstream or UPSTREAMS[env][0]).rstrip("/")
        self.ws_upstream = (ws_upstream or UPSTREAMS[env][1]).rstrip("/")
        self.host, self.rest_port, self.ws_port = host, rest_port, ws_port
        self.allow_trading, self.notes = allow_trading, notes
        self.clock = clock or WallClock()
        self.limits = dict(limits or {})
        self.scrub = Scrubber()
        self.started_at = 0.0
        self.subscriptions: dict[tuple[str, str], None] = {}
        self.counts: Counter[str] = Counter()  # "TR symbol" -> data frames
        self.messages = 0
        self.refused = 0
        self.refusals: Counter[str] = Counter()  # reason code -> refused REST calls
        self.upstream_errors: Counter[str] = Counter()  # "REST ConnectError" -> calls the upstream failed
        self._conn_ids = itertools.count()
        self._ws_file: TapeSink | None = None
        self.ws_name, self.flush_every, self.rotate_bytes = ws_name, flush_every, rotate_bytes
        self._tasks: list[asyncio.Task[Any]] = []
        self._rest_server: uvicorn.Server | None = None
        self._ws_server: Any = None
        self._cassette: Any = None
        self._rest_times: list[float] = []  # each recorded interaction's `t`, in vcrpy's order
        self._http: httpx.AsyncClient | None = None
        self._logs = QuietLogs(self.scrub)  # every log line scrubbed while we run (serve/quietlogs.py)
        self.rest_url = self.ws_url = ""

    # -- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> Recorder:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self.out.exists() and any(self.out.iterdir()):
            raise FileExistsError(f"{self.out} is not empty; record into a new folder")
        self.out.mkdir(parents=True, exist_ok=True)
        self._logs.install()
        self.started_at = self.clock.now()
        self._write_session()
        self._ws_file = TapeSink(
            self.out / self.ws_name, self.flush_every, self.rotate_bytes, fold=IndexFold()
        )
        self._tasks.append(asyncio.create_task(self._flusher(), name="flusher"))
        recorder = vcr.VCR(
            record_mode="all",
            decode_compressed_response=True,
            before_record_request=self._scrub_request,
            before_record_response=self._scrub_response,
        )
        self._cassette = recorder.use_cassette(str(self.out / "rest.yaml"))
        self._cassette.__enter__()
        self._http = httpx.AsyncClient(base_url=self.rest_upstream, timeout=20.0)
        app = Starlette(routes=[Route("/{path:path}", self._rest, methods=["GET", "POST", "PUT", "DELETE"])])
        self._rest_server, task, self.rest_url = start_rest(
            app,
            self.host,
            self.rest_port,
            self.clock.now,
            **self.limits,  # type: ignore[arg-type]
        )
        self._tasks.append(task)
        self._ws_server = await serve(
            self._relay,
            self.host,
            self.ws_port,
            ping_interval=None,
            compression=None,
            max_size=WS_MAX_MESSAGE,
            create_connection=_RelayConnection,
        )
        self.ws_url = f"ws://{self.host}:{self._ws_server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
        if self._rest_server is not None:
            self._rest_server.should_exit = True
        for task in self._tasks:
            if task.get_name() == "flusher":
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.aclose()
        if self._cassette is not None:
            self._cassette.__exit__(None, None, None)  # writes rest.yaml
            cassette.stamp(self.out / "rest.yaml", self._rest_times)
            self._cassette = None
        if self._ws_file is not None:
            self._ws_file.close()
            self._ws_file = None
        self._write_session(final=True)
        self._logs.restore()

    # -- recording ---------------------------------------------------------------------------
    def _t(self) -> float:
        return round(self.clock.now() - self.started_at, 6)

    def _line(self, obj: dict[str, Any]) -> None:
        if self._ws_file is None:
            return
        text = self.scrub(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
        line = WsLine(obj["t"], obj.get("dir"), obj.get("text"), obj.get("conn", 0), obj.get("event"))
        self._ws_file.write(text, line, self.clock.now())

    async def _flusher(self) -> None:
        """Hands a quiet moment's last lines to the OS: a frame is not held past `flush_every`."""
        while True:
            await kisclock.sleep(self.clock, self.flush_every)
            if self._ws_file is not None:
                self._ws_file.flush(self.clock.now())

    def _upstream_failed(self, kind: str, url: str, error: BaseException) -> None:
        """One warning line per kind of failure (the count goes to session.json), scrubbed."""
        key = f"{kind} {type(error).__name__}"
        self.upstream_errors[key] += 1
        if self.upstream_errors[key] == 1:
            detail = str(error).strip() or type(error).__name__
            log.warning(self.scrub(f"upstream {kind} {url} failed: {type(error).__name__}: {detail}"))

    def problems(self) -> list[str]:
        """Why the recording is not complete (empty when it is): nothing recorded, or upstream failures."""
        out = []
        if not self.messages and not self._rest_times:
            out.append("nothing was recorded (no WebSocket message, no REST interaction)")
        if self.upstream_errors:
            failed = ", ".join(f"{k} x{n}" for k, n in sorted(self.upstream_errors.items()))
            out.append(f"the upstream failed: {failed}")
        return out

    def _write_session(self, final: bool = False) -> None:
        problems = self.problems() if final else []
        session = {
            "format": FORMAT,
            "version": VERSION,
            "env": self.env,
            "start": datetime.fromtimestamp(self.started_at, KST).isoformat(timespec="milliseconds"),
            "subscriptions": [list(s) for s in self.subscriptions],
            "synthetic": False,
            "notes": self.notes or f"recorded through fakekis record from {self.env} KIS",
            "recorder": {
                "tool": "fakekis record",
                "complete": final and not problems,
                **({"problems": problems} if problems else {}),
                "messages": self.messages,
                "duration_s": self._t() if final else None,
                "refused_calls": self.refused,
                "refused_by_reason": dict(self.refusals),
                "notices_reencrypted": self.scrub.notices_rewritten,
                "notices_dropped_unreadable": self.scrub.notices_dropped,
            },
        }
        text = self.scrub(json.dumps(session, ensure_ascii=False, indent=2)) + "\n"
        tmp = self.out / "session.json.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.out / "session.json")

    def _scrub_request(self, request: Any) -> Any:
        # vcrpy patches httpx for the whole process: keep only our upstream calls, not whatever else the
        # process does over HTTP (a client in the same process talking to this proxy, for one).
        if not request.uri.startswith(self.rest_upstream + "/"):
            return None
        self.scrub.observe_pairs(request.headers.items())
        body = request.body
        if body:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
            request.body = self.scrub.json_text(text).encode()
        for k in list(request.headers):
            request.headers[k] = self.scrub.value(str(request.headers[k]), SECRET_FIELDS.get(k.lower()))
        request.uri = self.scrub.query(request.uri)
        return request

    def _scrub_response(self, response: dict[str, Any]) -> dict[str, Any]:
        self._rest_times.append(self._t())  # vcrpy calls this once per interaction it keeps
        body = response["body"].get("string", b"")
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        response["body"]["string"] = self.scrub.json_text(text).encode()
        response["headers"] = {
            k: [self.scrub.value(str(v), SECRET_FIELDS.get(k.lower())) for v in vs]
            for k, vs in response["headers"].items()
        }
        return response

    # -- REST --------------------------------------------------------------------------------
    def _refuse(self, method: str, raw_path: str, tr_id: str | None, why: str, code: str) -> Response:
        self.refused += 1
        self.refusals[code] += 1
        log.warning(self.scrub(f"refused {method} {raw_path} (tr_id {tr_id}): {why}"))
        return Response(
            json.dumps({"rt_cd": "1", "msg_cd": "FAKEKIS-REFUSED", "msg1": why}, ensure_ascii=False),
            403,
            media_type="application/json; charset=utf-8",
        )

    async def _rest(self, request: Request) -> Response:
        raw_path = bytes(request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]]
        self.scrub.observe_pairs(headers)
        self.scrub.observe_pairs(request.query_params.multi_items())
        path, why, code = check(request.method, raw_path, headers, self.allow_trading)
        if path is None:
            tr_id = next((v for k, v in headers if k.lower() == "tr_id"), None)
            return self._refuse(request.method, raw_path, tr_id, str(why), str(code))
        assert self._http is not None
        forwarded = {k: v for k, v in headers if k.lower() in FORWARDED_HEADERS}
        body = await request.body()  # at most listen.MAX_BODY bytes: larger ones were answered 413
        if body:
            self.scrub.observe_text(body.decode("utf-8", "replace"))
        try:
            upstream = await self._http.request(
                request.method,
                path,
                params=tuple(request.query_params.multi_items()),
                headers=forwarded,
                content=body,
            )
        except httpx.HTTPError as e:
            self._upstream_failed("REST", self.rest_upstream, e)
            return Response(
                json.dumps(
                    {
                        "rt_cd": "1",
                        "msg_cd": "FAKEKIS-UPSTREAM",
                        "msg1": f"upstream {self.rest_upstream} unreachable: {type(e).__name__}",
                    }
                ),
                502,
                media_type="application/json",
            )
        self.scrub.observe_text(upstream.text)
        keep = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() in ("content-type", "tr_id", "tr_cont", "gt_uid")
        }
        return Response(upstream.content, upstream.status_code, headers=keep)

    # -- WebSocket ---------------------------------------------------------------------------
    async def _relay(self, client: ServerConnection) -> None:
        conn = next(self._conn_ids)
        path = client.request.path if client.request else ""
        try:
            upstream = await connect(
                self.ws_upstream + (path if path != "/" else ""),
                ping_interval=None,
                compression=None,
                max_size=WS_MAX_MESSAGE,
                open_timeout=15,
            )
        except Exception as e:  # noqa: BLE001 - any upstream failure closes the client, and is recorded
            self._upstream_failed("WebSocket", self.ws_upstream, e)
            self._line(
                {
                    "t": self._t(),
                    "event": "close",
                    "conn": conn,
                    "code": 1011,
                    "reason": f"upstream connect failed: {type(e).__name__}",
                }
            )
            await client.close(1011, "upstream unavailable")
            return
        self._line({"t": self._t(), "event": "open", "conn": conn})
        assert isinstance(client, _RelayConnection)
        client.on_pong = lambda data: asyncio.ensure_future(upstream.pong(data))
        codes: dict[str, int | None] = {}

        async def pump(src: Any, dst: Any, direction: str) -> None:
            try:
                async for message in src:
                    text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                    kept = self.scrub.ws(text, direction, conn)
                    self._seen(kept, direction)
                    self._line({"t": self._t(), "dir": direction, "text": kept, "conn": conn})
                    await dst.send(message)
            except ConnectionClosed as e:
                codes[direction] = e.rcvd.code if e.rcvd else 1006
            else:
                codes[direction] = src.close_code

        a = asyncio.create_task(pump(client, upstream, "send"))
        b = asyncio.create_task(pump(upstream, client, "recv"))
        done, pending = await asyncio.wait({a, b}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        code = codes.get("recv", upstream.close_code) if b in done else codes.get("send", client.close_code)
        self._line(
            {
                "t": self._t(),
                "event": "close",
                "conn": conn,
                "code": code or 1006,
                "reason": "server side" if b in done else "client side",
            }
        )
        await upstream.close()
        await client.close()

    def _seen(self, kept: str, direction: str) -> None:
        """Count a message (already scrubbed: progress lines reach stderr) and note subscriptions."""
        self.messages += 1
        if kept[:1] == "{":
            if direction == "send":
                try:
                    msg = json.loads(kept)
                    inp = msg["body"]["input"]
                    if msg["header"].get("tr_type") == "1":
                        self.subscriptions[(str(inp["tr_id"]), str(inp["tr_key"]))] = None
                except (ValueError, KeyError, TypeError, AttributeError):
                    pass
        elif direction == "recv" and kept[:2] in ("0|", "1|"):
            parts = frames.split_frame(kept)
            if parts is not None:
                secret = kept[0] == "1" or is_notice_tr(parts[1])
                self.counts[parts[1] if secret else f"{parts[1]} {parts[3].split('^', 1)[0][:12]}"] += 1

    def progress(self) -> dict[str, Any]:
        elapsed = max(self.clock.now() - self.started_at, 1e-9)
        return {
            "elapsed_s": round(elapsed, 1),
            "messages": self.messages,
            "per_second": round(self.messages / elapsed, 1),
            "by_symbol": dict(self.counts.most_common(8)),
            "refused_calls": self.refused,
            "refused_by_reason": dict(self.refusals),
        }


async def record_until(
    recorder: Recorder, stop: asyncio.Event, duration: float | None, show: Any = None
) -> None:
    """Run until `stop` is set or `duration` seconds pass, calling `show(progress)` twice a second."""
    deadline = None if duration is None else time.monotonic() + duration
    while not stop.is_set():
        if deadline is not None and time.monotonic() >= deadline:
            break
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
        if show is not None:
            show(recorder.progress())
