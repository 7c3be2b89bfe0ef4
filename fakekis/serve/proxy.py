"""`fakekis record`: a recording proxy in front of real KIS (or any KIS-speaking upstream).

Clients point their REST and WS URLs at the proxy. REST goes upstream through httpx inside a vcrpy
cassette in record mode (-> rest.yaml); WebSocket messages are relayed both ways (text and pong
frames) and appended to ws.jsonl as they pass, each line flushed, so the folder is a valid recording
at every moment; session.json is written at start and completed at the end.

Safety: only auth and quotation calls are forwarded unless `allow_trading`; everything is scrubbed of
secrets before it is written; servers bind loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
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

from fakekis.serve.listen import start_rest
from fakekis.tape import cassette
from fakekis.tape.format import FORMAT, VERSION
from fakekis.wire.scrub import Scrubber
from kisclock import KST, Clock, WallClock

UPSTREAMS = {
    "live": ("https://openapi.koreainvestment.com:9443", "ws://ops.koreainvestment.com:21000"),
    "mock": ("https://openapivts.koreainvestment.com:29443", "ws://ops.koreainvestment.com:31000"),
}
_AUTH_PATHS = {"/oauth2/tokenP", "/oauth2/revokeP", "/oauth2/Approval"}
_TRADING_TR = re.compile(r"^(TTT|VTT|JTT|CTS|TTTS|VTTS|CTOS|VTSC)")


def refusal(path: str, tr_id: str | None) -> str | None:
    """Why a REST call may not be forwarded by default, or None. Only auth and quotation calls pass."""
    if path in _AUTH_PATHS:
        return None
    if "/quotations/" in path and not (tr_id and _TRADING_TR.match(tr_id)):
        return None
    what = f"tr_id {tr_id}" if tr_id and _TRADING_TR.match(tr_id) else path
    return (
        f"fakekis record forwards only auth and quotation calls; {what} looks like an order or account call "
        "and was NOT sent to KIS. Pass --allow-trading to record such calls (real orders would be placed)."
    )


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
    ) -> None:
        self.out = Path(out)
        self.env = env
        self.rest_upstream = (rest_upstream or UPSTREAMS[env][0]).rstrip("/")
        self.ws_upstream = (ws_upstream or UPSTREAMS[env][1]).rstrip("/")
        self.host, self.rest_port, self.ws_port = host, rest_port, ws_port
        self.allow_trading, self.notes = allow_trading, notes
        self.clock = clock or WallClock()
        self.scrub = Scrubber()
        self.started_at = 0.0
        self.subscriptions: dict[tuple[str, str], None] = {}
        self.counts: Counter[str] = Counter()  # "TR symbol" -> data frames
        self.messages = 0
        self.refused = 0
        self._conn_ids = itertools.count()
        self._ws_file: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._rest_server: uvicorn.Server | None = None
        self._ws_server: Any = None
        self._cassette: Any = None
        self._rest_times: list[float] = []  # each recorded interaction's `t`, in vcrpy's order
        self._http: httpx.AsyncClient | None = None
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
        self.started_at = self.clock.now()
        self._write_session()
        self._ws_file = (self.out / "ws.jsonl").open("w", encoding="utf-8")
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
        self._rest_server, task, self.rest_url = start_rest(app, self.host, self.rest_port, self.clock.now)
        self._tasks.append(task)
        self._ws_server = await serve(
            self._relay,
            self.host,
            self.ws_port,
            ping_interval=None,
            compression=None,
            max_size=None,
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

    # -- recording ---------------------------------------------------------------------------
    def _t(self) -> float:
        return round(self.clock.now() - self.started_at, 6)

    def _line(self, obj: dict[str, Any]) -> None:
        if self._ws_file is None:
            return
        self._ws_file.write(self.scrub(json.dumps(obj, ensure_ascii=False, separators=(",", ":"))) + "\n")
        self._ws_file.flush()

    def _write_session(self, final: bool = False) -> None:
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
                "complete": final,
                "messages": self.messages,
                "duration_s": self._t() if final else None,
                "refused_calls": self.refused,
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
            self.scrub.observe_text(text)
            request.body = self.scrub(text).encode()
        for k in list(request.headers):
            request.headers[k] = self.scrub(str(request.headers[k]))
        request.uri = self.scrub(request.uri)
        return request

    def _scrub_response(self, response: dict[str, Any]) -> dict[str, Any]:
        self._rest_times.append(self._t())  # vcrpy calls this once per interaction it keeps
        body = response["body"].get("string", b"")
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        self.scrub.observe_text(text)
        response["body"]["string"] = self.scrub(text).encode()
        response["headers"] = {k: [self.scrub(str(v)) for v in vs] for k, vs in response["headers"].items()}
        return response

    # -- REST --------------------------------------------------------------------------------
    async def _rest(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        tr_id = request.headers.get("tr_id")
        self.scrub.observe_pairs(request.headers.items())
        self.scrub.observe_pairs(request.query_params.multi_items())
        why = None if self.allow_trading else refusal(path, tr_id)
        if why:
            self.refused += 1
            return Response(
                json.dumps({"rt_cd": "1", "msg_cd": "FAKEKIS-REFUSED", "msg1": why}, ensure_ascii=False),
                403,
                media_type="application/json; charset=utf-8",
            )
        assert self._http is not None
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("host", "content-length", "accept-encoding", "connection")
        }
        body = await request.body()
        if body:
            self.scrub.observe_text(body.decode("utf-8", "replace"))
        try:
            upstream = await self._http.request(
                request.method, path, params=request.query_params.multi_items(), headers=headers, content=body
            )
        except httpx.HTTPError as e:
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
                max_size=None,
                open_timeout=15,
            )
        except Exception as e:  # noqa: BLE001 - any upstream failure closes the client, and is recorded
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
                    self._seen(text, direction)
                    self._line({"t": self._t(), "dir": direction, "text": text, "conn": conn})
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

    def _seen(self, text: str, direction: str) -> None:
        self.messages += 1
        if text[:1] == "{":
            self.scrub.observe_text(text)
            if direction == "send":
                try:
                    msg = json.loads(text)
                    inp = msg["body"]["input"]
                    if msg["header"].get("tr_type") == "1":
                        self.subscriptions[(str(inp["tr_id"]), self.scrub(str(inp["tr_key"])))] = None
                except (ValueError, KeyError, TypeError):
                    pass
        elif direction == "recv" and text[:2] in ("0|", "1|"):
            parts = text.split("|", 3)
            if len(parts) == 4:
                self.counts[f"{parts[1]} {parts[3].split('^', 1)[0][:12]}"] += 1

    def progress(self) -> dict[str, Any]:
        elapsed = max(self.clock.now() - self.started_at, 1e-9)
        return {
            "elapsed_s": round(elapsed, 1),
            "messages": self.messages,
            "per_second": round(self.messages / elapsed, 1),
            "by_symbol": dict(self.counts.most_common(8)),
            "refused_calls": self.refused,
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
