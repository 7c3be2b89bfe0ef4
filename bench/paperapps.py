"""The two servers the paper-trading benchmark compares, each in its own process:

    python -m bench.paperapps fakekis|bare   -> prints {"rest_url", "ws_url"}, serves until killed

`fakekis` is FakeKis on the bundled morning (replay at speed 1, started by the client's subscription), its
REST budget lifted, a start cash big enough for every order. `bare` is the floor: the same libraries (uvicorn
with h11, Starlette, websockets) doing only what an order must do on the wire: parse the JSON body, encrypt
a 26-field notice with AES-256-CBC, send it on the client's WebSocket, answer with an order number.
"""

from __future__ import annotations

import asyncio
import json
import sys

import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fakekis import tape
from fakekis.serve.listen import listen
from fakekis.serve.server import FakeKis
from fakekis.wire.frames import encrypted_frame

KEY, IV = "abcdefghijklmnopabcdefghijklmnop", "0123456789abcdef"


async def fakekis() -> None:
    kis = FakeKis(
        tape.load(tape.bundled(tape.DEFAULT_BUNDLED)),
        rest_rps={"mock": 10**9},
        start_cash=10**13,
    )
    await kis.start()
    print(json.dumps(kis.urls["mock"]), flush=True)
    await asyncio.Event().wait()


async def bare() -> None:
    clients: list[websockets.ServerConnection] = []
    counter = iter(range(10_001, 10**9))

    async def handler(conn: websockets.ServerConnection) -> None:
        await conn.recv()
        clients.append(conn)
        await conn.send(json.dumps({"body": {"output": {"key": KEY, "iv": IV}}}))
        await conn.wait_closed()

    async def order(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        odno = f"{next(counter):010d}"
        rec = ["bench", body["CANO"] + body["ACNT_PRDT_CD"], odno, "", "02", "0", body["ORD_DVSN"], "0"]
        rec += [body["PDNO"], f"{int(body['ORD_QTY']):010d}", f"{int(body['ORD_UNPR']):09d}", "090500"]
        rec += [
            "0",
            "1",
            "1",
            "00950",
            "000000001",
            "fakekis",
            "",
            "1",
            "Y",
            "",
            "",
            "",
            "삼성전자",
            "000050000",
        ]
        for c in clients:
            await c.send(encrypted_frame("H0STCNI9", [rec], KEY, IV))
        return JSONResponse({"rt_cd": "0", "msg_cd": "40600000", "msg1": "", "output": {"ODNO": odno}})

    app = Starlette(routes=[Route("/uapi/domestic-stock/v1/trading/order-cash", order, methods=["POST"])])
    ws = await websockets.serve(handler, "127.0.0.1", 0, ping_interval=None, compression=None)
    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, http="h11", log_level="warning", access_log=False))
    rest_port, ws_port = sock.getsockname()[1], ws.sockets[0].getsockname()[1]
    print(
        json.dumps({"rest_url": f"http://127.0.0.1:{rest_port}", "ws_url": f"ws://127.0.0.1:{ws_port}"}),
        flush=True,
    )
    await server.serve(sockets=[sock])


if __name__ == "__main__":
    asyncio.run(fakekis() if sys.argv[1] == "fakekis" else bare())
