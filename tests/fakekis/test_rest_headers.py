"""REST header names as KIS writes them (docs/kis/protocol.md §3.2), checked on the raw bytes a running
fakekis sends: canonical case for standard headers, lower case for `tr_id`/`tr_cont`/`gt_uid`, no `Server`.

The official sample library builds a namedtuple from every all-lower-case header name
(`kis_auth.APIResp._setHeader`); one lower-case `content-length` made every REST call of it fail.
"""

from __future__ import annotations

import asyncio
import json
from collections import namedtuple
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conftest import APPKEY, SECRET, kst
from fakekis.serve.headers import kis_case, kis_headers
from fakekis.serve.listen import start_rest
from fakekis.serve.proxy import Recorder
from fakekis.serve.rest import INQUIRE_PRICE
from fakekis.serve.server import FakeKis
from kisclock import ManualClock

pytestmark = pytest.mark.anyio

T0 = kst(2026, 11, 25, 9, 0)
STANDARD = {"Date", "Content-Length", "Content-Type"}
KIS_OWN = {"tr_id", "tr_cont", "gt_uid"}


class Raw:
    """One HTTP/1.1 answer as it crossed the socket: status, header (name, value) pairs in order, body."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.headers]

    def get(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


async def raw_request(
    base: str, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> Raw:
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 10)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
        pairs = [(k, v.strip()) for k, _, v in (h.partition(":") for h in header_lines)]
        length = next(int(v) for k, v in pairs if k.lower() == "content-length")
        payload = await asyncio.wait_for(reader.readexactly(length), 10)
    except asyncio.TimeoutError:
        raise AssertionError(f"no complete HTTP answer to {method} {path} within 10 s") from None
    finally:
        writer.close()
    return Raw(int(status_line.split()[1]), pairs, payload)


def kis_auth_header_tuple(raw: Raw) -> tuple[object, ...]:
    """What the official library (examples_user/kis_auth.py, `APIResp._setHeader`) does with the headers:
    every all-lower-case name becomes a namedtuple field."""
    fld = {x: raw.get(x) for x in raw.names if x.islower()}
    header = namedtuple("header", fld.keys())  # type: ignore[misc]
    return header(**fld)


async def _token(base: str) -> str:
    body = json.dumps({"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}).encode()
    raw = await raw_request(base, "POST", "/oauth2/tokenP", {"content-type": "application/json"}, body)
    assert raw.status == 200, raw.body
    return str(json.loads(raw.body)["access_token"])


def _quote_headers(token: str) -> dict[str, str]:
    return {
        "authorization": f"Bearer {token}",
        "appkey": APPKEY,
        "appsecret": SECRET,
        "tr_id": "FHKST01010100",
        "custtype": "P",
    }


async def test_every_rest_answer_has_kis_header_names_on_the_wire() -> None:
    clock = ManualClock(T0)
    async with FakeKis(envs=("live",), clock=clock) as kis:
        base = kis.urls["live"]["rest_url"]
        body = json.dumps({"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET})
        token_raw = await raw_request(base, "POST", "/oauth2/tokenP", {}, body.encode())
        token = json.loads(token_raw.body)["access_token"]
        query = "?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930"
        quote = await raw_request(base, "GET", INQUIRE_PRICE + query, _quote_headers(token))
        wrong_tr = await raw_request(
            base, "GET", INQUIRE_PRICE + query, {**_quote_headers(token), "tr_id": "FHKST01010400"}
        )
        no_token = await raw_request(base, "GET", INQUIRE_PRICE + query, {"tr_id": "FHKST01010100"})
        missing = await raw_request(base, "GET", "/uapi/domestic-stock/v1/quotations/nowhere")
        stats = await raw_request(base, "GET", "/__fakekis/stats")

    assert (token_raw.status, quote.status, wrong_tr.status, no_token.status, missing.status) == (
        200,
        200,
        200,
        500,
        404,
    )
    for raw in (token_raw, quote, wrong_tr, no_token, missing, stats):
        names = raw.names
        assert "server" not in {n.lower() for n in names}, names
        assert len(names) == len({n.lower() for n in names}), f"a header sent twice: {names}"
        assert STANDARD <= set(names), names  # exact casing
        assert set(names) <= STANDARD | KIS_OWN, names
        assert raw.get("Date") == "Wed, 25 Nov 2026 00:00:00 GMT"  # the exchange clock, not the machine's
    for raw in (quote, wrong_tr):  # quotation answers carry KIS's own headers, in lower case
        assert KIS_OWN <= set(raw.names), raw.names
        assert raw.get("tr_cont") == "" and len(raw.get("gt_uid") or "") == 32
    assert quote.get("tr_id") == "FHKST01010100"
    assert json.loads(quote.body)["rt_cd"] == "0"


async def test_official_library_builds_its_header_namedtuple() -> None:
    async with FakeKis(envs=("live",), clock=ManualClock(T0)) as kis:
        base = kis.urls["live"]["rest_url"]
        token = await _token(base)
        query = "?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930"
        quote = await raw_request(base, "GET", INQUIRE_PRICE + query, _quote_headers(token))
    header = kis_auth_header_tuple(quote)
    assert header._fields == ("tr_id", "tr_cont", "gt_uid")  # type: ignore[attr-defined]
    assert header.tr_id == "FHKST01010100" and header.tr_cont == ""  # type: ignore[attr-defined]


async def test_recording_proxy_answers_with_kis_header_names(tmp_path: Path) -> None:
    closed = "127.0.0.1:9"  # nothing is forwarded: the proxy refuses an order on its own
    async with Recorder(
        tmp_path / "rec", rest_upstream=f"http://{closed}", ws_upstream=f"ws://{closed}"
    ) as recorder:
        refused = await raw_request(
            recorder.rest_url, "POST", "/uapi/domestic-stock/v1/trading/order-cash", {"tr_id": "TTTC0802U"}
        )
    assert refused.status == 403
    assert STANDARD <= set(refused.names) <= STANDARD | KIS_OWN, refused.names


async def test_a_crash_answers_500_with_kis_header_names_too() -> None:
    """Starlette writes the 500 of an uncaught exception outside any app middleware: the casing must
    wrap the whole app (start_rest does it), or one bug in fakekis breaks the official library twice."""

    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug")

    server, task, url = start_rest(
        Starlette(routes=[Route("/boom", boom)]), "127.0.0.1", 0, ManualClock(T0).now
    )
    try:
        raw = await raw_request(url, "GET", "/boom")
    finally:
        server.should_exit = True
        await task
    assert raw.status == 500
    assert STANDARD <= set(raw.names) <= STANDARD | {"Connection"}, raw.names


def test_kis_case() -> None:
    assert kis_case(b"content-type") == b"Content-Type"
    assert kis_case(b"CONTENT-LENGTH") == b"Content-Length"
    assert kis_case(b"date") == b"Date"
    assert kis_case(b"x-content-type-options") == b"X-Content-Type-Options"
    assert kis_case(b"tr_id") == b"tr_id" and kis_case(b"TR_CONT") == b"tr_cont"
    assert kis_case(b"gt_uid") == b"gt_uid"
    out = kis_headers([(b"server", b"uvicorn"), (b"content-type", b"x"), (b"date", b"d0")], b"d1")
    assert out == [(b"Content-Type", b"x"), (b"Date", b"d0")]  # the app's own Date wins
