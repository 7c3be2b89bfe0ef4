"""Crafted requests against `fakekis record` (issue #12): none may reach the upstream, each is answered 403
with a KIS-shaped reason, counted and logged scrubbed; bodies, idle and half-sent connections and clock
long-polls are bounded on both the proxy and fakekis REST. The upstream here is a ledger: an app that
writes down every request that reaches it, so "not forwarded" is read, not inferred. Requests go over a
raw socket where a client library would normalise what we mean to send."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from conftest import eventually
from fakekis.exchange.auth import Registry
from fakekis.exchange.market import MarketState
from fakekis.serve.allowlist import check, normalise
from fakekis.serve.listen import start_rest
from fakekis.serve.proxy import Recorder
from fakekis.serve.rest import create_app
from kisclock import ManualClock

pytestmark = pytest.mark.anyio
CANARY_KEY = "PSCANARYATTACK" + "k" * 22
PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"
ORDER = "/uapi/domestic-stock/v1/trading/order-cash"
DEADLINE = 15.0  # generous: the machine is shared; the limits under test are far smaller


@contextlib.asynccontextmanager
async def ledger() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """An upstream that records (method, raw path, headers) of every request reaching it."""
    seen: list[dict[str, Any]] = []

    async def anything(request: Request) -> JSONResponse:
        seen.append(
            {
                "method": request.method,
                "path": request.scope["raw_path"].decode("latin-1"),
                "headers": [(k.decode(), v.decode()) for k, v in request.scope["headers"]],
            }
        )
        return JSONResponse({"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "ledger", "output": {}})

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    server, task, url = start_rest(
        Starlette(routes=[Route("/{p:path}", anything, methods=methods)]), "127.0.0.1", 0
    )
    try:
        yield url, seen
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def proxy(tmp: Path) -> AsyncIterator[tuple[Recorder, list[dict[str, Any]]]]:
    async with (
        ledger() as (url, seen),
        Recorder(tmp / "rec", rest_upstream=url, ws_upstream="ws://127.0.0.1:9") as rec,
    ):
        yield rec, seen


async def raw(url: str, data: bytes) -> tuple[int, bytes]:
    """Send `data` as is; (status, body) of the answer (the request says Connection: close)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), DEADLINE)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def request(method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "host: kis", "connection: close"]
    lines += [f"{k}: {v}" for k, v in headers] + ([f"content-length: {len(body)}"] if body else [])
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


CREDS = [
    ("appkey", CANARY_KEY),
    ("appsecret", "CANARYSECRET" + "s" * 20),
    ("authorization", "Bearer canarytoken1"),
]
ORDER_BODY = json.dumps({"CANO": "73190042", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_QTY": "1"}).encode()
ATTACKS = {
    "plain order": ("POST", ORDER, [("tr_id", "TTTC0012U")]),
    "dot segments": (
        "POST",
        "/uapi/domestic-stock/v1/quotations/../trading/order-cash",
        [("tr_id", "TTTC0012U")],
    ),
    "dot segments, quotation tr_id": (
        "GET",
        "/uapi/domestic-stock/v1/quotations/../../v1/quotations/inquire-price",
        [("tr_id", "FHKST01010100")],
    ),
    "percent-encoded dots": (
        "POST",
        "/uapi/domestic-stock/v1/quotations/%2e%2e/trading/order-cash",
        [("tr_id", "TTTC0012U")],
    ),
    "percent-encoded upper": (
        "POST",
        "/uapi/domestic-stock/v1/quotations/%2E%2E%2Ftrading%2Forder-cash",
        [("tr_id", "TTTC0012U")],
    ),
    "double-encoded": (
        "POST",
        "/uapi/domestic-stock/v1/quotations/%252e%252e/trading/order-cash",
        [("tr_id", "TTTC0012U")],
    ),
    "percent-encoded letter": (
        "GET",
        "/uapi/domestic-stock/v1/quotations/inquire%2Dprice",
        [("tr_id", "FHKST01010100")],
    ),
    "backslash": (
        "POST",
        "/uapi/domestic-stock/v1/quotations/..\\trading\\order-cash",
        [("tr_id", "TTTC0012U")],
    ),
    "empty segment": (
        "GET",
        "/uapi//domestic-stock/v1/quotations/inquire-price",
        [("tr_id", "FHKST01010100")],
    ),
    "lower-case order tr_id on a quotation path": ("GET", PRICE, [("tr_id", "tttc0012u")]),
    "lower-case order tr_id": ("POST", ORDER, [("tr_id", "tttc0012u")]),
    "lower-case quotation tr_id": ("GET", PRICE, [("tr_id", "fhkst01010100")]),
    "two tr_id headers": ("GET", PRICE, [("tr_id", "FHKST01010100"), ("tr_id", "TTTC0012U")]),
    "tr_id and tr-id": ("GET", PRICE, [("tr_id", "FHKST01010100"), ("TR-ID", "TTTC0012U")]),
    "two appkeys": ("GET", PRICE, [("tr_id", "FHKST01010100"), ("appkey", "PSother")]),
    "unknown order tr_id on a quotation path": ("GET", PRICE, [("tr_id", "TTTC9999U")]),
    "unknown account tr_id": (
        "GET",
        "/uapi/domestic-stock/v1/quotations/inquire-balance",
        [("tr_id", "ZZTC8434R")],
    ),
    "mock order tr_id": ("POST", PRICE, [("tr_id", "VTTC0012U")]),
    "quotation tr_id, POST": ("POST", PRICE, [("tr_id", "FHKST01010100")]),
    "no tr_id": ("GET", PRICE, []),
    "hashkey": ("POST", "/uapi/hashkey", []),
    "overseas order": ("POST", "/uapi/overseas-stock/v1/trading/order", [("tr_id", "TTTT1002U")]),
    "auth path, GET": ("GET", "/oauth2/tokenP", []),
}


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_crafted_requests_never_reach_the_upstream(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    method, target, headers = ATTACKS[name]
    async with proxy(tmp_path) as (rec, seen):
        status, body = await raw(rec.rest_url, request(method, target, CREDS + headers, ORDER_BODY))
        answer = json.loads(body)
        assert status == 403 and answer["rt_cd"] == "1" and answer["msg_cd"] == "FAKEKIS-REFUSED", body
        assert "refused" in answer["msg1"] or "NOT sent" in answer["msg1"]
        assert rec.progress()["refused_calls"] == 1 and sum(rec.progress()["refused_by_reason"].values()) == 1
    assert seen == [], f"{name} reached the upstream: {seen}"
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "fakekis.record")
    assert "refused" in logged and CANARY_KEY not in logged
    session = json.loads((tmp_path / "rec" / "session.json").read_text())
    assert session["recorder"]["refused_calls"] == 1


PATH_ATTACKS = [
    n for n in ATTACKS if any(w in n for w in ("dot", "percent", "encoded", "backslash", "empty"))
]


@pytest.mark.parametrize("name", PATH_ATTACKS)
async def test_with_trading_allowed_a_path_is_still_forwarded_only_as_checked(
    name: str, tmp_path: Path
) -> None:
    """--allow-trading forwards orders, but never a path upstream could read differently from the one
    the proxy decided on (percent-decoding, dot segments): such requests are refused."""
    method, target, headers = ATTACKS[name]
    async with ledger() as (url, seen):
        async with Recorder(
            tmp_path / "r", rest_upstream=url, ws_upstream="ws://127.0.0.1:9", allow_trading=True
        ) as rec:
            status, _ = await raw(rec.rest_url, request(method, target, CREDS + headers, ORDER_BODY))
            assert status == 403 and rec.progress()["refused_by_reason"] == {"path": 1}
            status, _ = await raw(
                rec.rest_url, request("POST", ORDER, CREDS + [("tr_id", "TTTC0012U")], ORDER_BODY)
            )
            assert status == 200  # the plain order does go (that is what the flag is for)
    assert [s["path"] for s in seen] == [ORDER]


async def test_quotation_and_auth_calls_are_forwarded_exactly_as_checked(tmp_path: Path) -> None:
    async with proxy(tmp_path) as (rec, seen):
        target = PRICE + "?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930"
        noise = [("x-forwarded-host", "evil"), ("tr-cont", "N")]
        status, _ = await raw(
            rec.rest_url, request("GET", target, CREDS + [("tr_id", "FHKST01010100")] + noise)
        )
        assert status == 200
        body = json.dumps({"grant_type": "client_credentials", "appkey": CANARY_KEY, "appsecret": "x" * 40})
        status, _ = await raw(
            rec.rest_url,
            request("POST", "/oauth2/tokenP", [("content-type", "application/json")], body.encode()),
        )
        assert status == 200
        assert rec.progress()["refused_calls"] == 0
    assert [(s["method"], s["path"]) for s in seen] == [("GET", PRICE), ("POST", "/oauth2/tokenP")]
    names = [k for k, _ in seen[0]["headers"]]
    assert names.count("tr_id") == 1 and dict(seen[0]["headers"])["tr_id"] == "FHKST01010100"
    assert "x-forwarded-host" not in names and "tr-cont" not in names  # only KIS's own headers go on


async def test_bodies_over_the_cap_are_refused_without_being_read(tmp_path: Path) -> None:
    declared = request(
        "POST", "/oauth2/tokenP", [("content-length", str(200 * 2**20))]
    )  # 200 MiB, never sent
    # no Content-Length: chunked, so the cap is counted on the bytes as they arrive (70 KiB of a chunk that
    # claims more; all of it sent, so the server has read every byte before it answers and closes)
    chunked = request("POST", "/oauth2/tokenP", [("transfer-encoding", "chunked")])
    chunked += b"%x\r\n" % (200 * 2**20) + b"k" * (70 * 1024)
    async with proxy(tmp_path) as (rec, seen):
        for data in (declared, chunked):
            status, body = await raw(rec.rest_url, data)
            assert status == 413 and json.loads(body)["msg_cd"] == "FAKEKIS-TOO-LARGE", body
    assert seen == []
    clock = ManualClock(0.0)
    server, task, url = start_rest(create_app(Registry("mock"), MarketState(), clock), "127.0.0.1", 0)
    try:
        for data in (declared, chunked):
            status, body = await raw(url, data)
            assert status == 413 and b"65536" in body
        ok = json.dumps(
            {"grant_type": "client_credentials", "appkey": "PS" + "k" * 34, "appsecret": "s" * 180}
        )
        status, _ = await raw(url, request("POST", "/oauth2/tokenP", [], ok.encode()))
        assert status == 200  # an ordinary body still passes
    finally:
        server.should_exit = True
        await task


async def _closed_by_server(url: str, data: bytes) -> float:
    """Seconds until the server closes a connection that sent `data` (and then nothing)."""
    host, port = url.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(host, int(port))
    start = loop.time()
    try:
        writer.write(data)
        try:
            await asyncio.wait_for(reader.read(), DEADLINE)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"the server kept a connection that sent {data!r} open {DEADLINE}s"
            ) from None
        return loop.time() - start
    finally:
        writer.close()


async def test_idle_and_half_sent_connections_are_closed() -> None:
    clock = ManualClock(0.0)
    app = create_app(Registry("mock"), MarketState(), clock)
    server, task, url = start_rest(app, "127.0.0.1", 0, header_timeout=0.3, keep_alive=0.3)
    try:
        await _closed_by_server(url, b"")  # connected, said nothing
        await _closed_by_server(url, b"GET /__fakekis/clo")  # half a request line
        await _closed_by_server(url, b"GET /__fakekis/clock HTTP/1.1\r\nhost: x\r\n")  # headers never end
        # a complete request, answered, then idle on keep-alive
        await _closed_by_server(url, b"GET /__fakekis/clock HTTP/1.1\r\nhost: x\r\n\r\n")
    finally:
        server.should_exit = True
        await task


async def test_the_proxy_closes_idle_half_sent_and_slow_connections_too(tmp_path: Path) -> None:
    limits = {"header_timeout": 0.3, "keep_alive": 0.3, "body_timeout": 0.3}
    async with ledger() as (url, seen):
        async with Recorder(
            tmp_path / "r", rest_upstream=url, ws_upstream="ws://127.0.0.1:9", limits=limits
        ) as rec:
            await _closed_by_server(rec.rest_url, b"")
            await _closed_by_server(rec.rest_url, b"POST /oauth2/tok")
            status, body = await raw(
                rec.rest_url, request("POST", "/oauth2/tokenP", [("content-length", "100")]) + b"{"
            )
            assert status == 408 and json.loads(body)["msg_cd"] == "FAKEKIS-TIMEOUT"  # a body that never ends
    assert seen == []


async def test_websocket_messages_through_the_proxy_are_capped(tmp_path: Path) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from fakekis.serve.server import FakeKis

    async with FakeKis(None, speed=None) as kis:
        up = kis.urls["mock"]
        async with Recorder(tmp_path / "r", rest_upstream=up["rest_url"], ws_upstream=up["ws_url"]) as rec:
            async with connect(rec.ws_url, ping_interval=None, max_size=None) as ws:
                await ws.send("{" + " " * (2 * 2**20) + "}")
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), DEADLINE)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big


async def test_clock_long_polls_are_validated_bounded_and_quiet_at_shutdown(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = ManualClock(1_000.0)
    app = create_app(Registry("mock"), MarketState(), clock, clock_max_wait=0.3)
    server, task, url = start_rest(app, "127.0.0.1", 0)
    get = "GET /__fakekis/clock?after={} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    try:
        for bad in ("inf", "-inf", "nan", "1e999", "x"):
            status, body = await raw(url, get.format(bad).encode())
            assert status == 400 and b"finite" in body, bad
        status, body = await raw(url, get.format("1e12").encode())  # never comes: answered after the max wait
        assert status == 200 and json.loads(body)["epoch"] == 1_000.0
    finally:
        server.should_exit = True
        await task
    clock = ManualClock(1_000.0)  # a fresh one: its waiting sleepers are the polls below
    server, task, url = start_rest(create_app(Registry("mock"), MarketState(), clock), "127.0.0.1", 0)
    polls = [asyncio.create_task(raw(url, get.format("1e12").encode())) for _ in range(20)]
    await eventually(lambda: len(clock._sleepers) == 20, DEADLINE, "20 long-polls waiting on the clock")
    caplog.clear()
    capfd.readouterr()
    server.should_exit = True
    await asyncio.wait_for(task, DEADLINE)
    answers = await asyncio.wait_for(asyncio.gather(*polls), DEADLINE)
    assert all(status == 200 for status, _ in answers)  # answered at shutdown, not cut off
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert noisy == [], [r.getMessage() for r in noisy]
    stderr = capfd.readouterr().err  # uvicorn's own handler writes to stderr, past caplog
    assert "Traceback" not in stderr and "ERROR" not in stderr, stderr[:2000]


SEGMENTS = ["uapi", "domestic-stock", "v1", "quotations", "trading", "order-cash", "inquire-price"]
NOISE = ["", ".", "..", "%2e", "%2E%2e", "%2f", "%252e", "\\", ";", "%00", "a%2Fb", "trading", "order-cash"]


@given(
    edits=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(NOISE + SEGMENTS)), max_size=3),
    tr_id=st.sampled_from(
        ["FHKST01010100", "fhkst01010100", "TTTC0012U", "tttc0012u", "CTPF1604R", "ZZZZ0000U"]
    ),
    method=st.sampled_from(["GET", "POST"]),
)
def test_whatever_the_path_what_is_forwarded_is_what_was_checked(
    edits: list[tuple[int, str]], tr_id: str, method: str
) -> None:
    path = ["uapi", "domestic-stock", "v1", "quotations", "inquire-price"]  # a quotation path, then noise
    for at, segment in edits:
        path.insert(at, segment)
    raw_path = "/" + "/".join(path)
    headers = [("tr_id", tr_id), ("appkey", CANARY_KEY)]
    for allow_trading in (False, True):
        forwarded, _why, _code = check(method, raw_path, headers, allow_trading)
        if forwarded is None:
            continue
        assert forwarded == raw_path == normalise(raw_path)  # nothing upstream could read differently
        assert "%" not in forwarded and "\\" not in forwarded
        assert not {".", "..", ""} & set(forwarded.split("/")[1:])
        if not allow_trading:  # and by default only a quotation GET with an upper-case quotation tr_id
            assert method == "GET" and forwarded.split("/")[-2] == "quotations"
            assert tr_id in ("FHKST01010100", "CTPF1604R")
