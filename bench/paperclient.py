"""The paper-trading benchmark's client, in its own process: N limit orders through REST at a fixed
concurrency, each order's notice awaited on the WebSocket.

    python -m bench.paperclient fakekis|bare REST_URL WS_URL ORDERS CONCURRENCY

Prints one JSON line: orders/s (all answered and all notices in) and the order -> notice latency
percentiles (POST sent -> its notice decrypted). The same client drives fakekis and the bare baseline.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import statistics
import sys
import time

import httpx
import websockets
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gateway.session import subscribe_message

APPKEY, SECRET = "PSbench" + "0" * 29, "bench-" + "s" * 174
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)
ORDER = {"CANO": "50123456", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_DVSN": "00", "ORD_QTY": "1"}


def decrypt(text: str, key: str, iv: str) -> list[str]:
    dec = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).decryptor()
    raw = dec.update(base64.b64decode(text.split("|", 3)[3])) + dec.finalize()
    unpad = padding.PKCS7(128).unpadder()
    return (unpad.update(raw) + unpad.finalize()).decode().split("^")


async def main(mode: str, rest: str, ws_url: str, n: int, concurrency: int, price: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=rest, timeout=30) as http:
        headers = {"appkey": APPKEY, "appsecret": SECRET, "tr_id": "VTTC0012U", "custtype": "P"}
        if mode == "fakekis":
            body = {"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}
            token = (await http.post("/oauth2/tokenP", json=body)).json()["access_token"]
            headers["authorization"] = f"Bearer {token}"
            body = {"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET}
            approval = (await http.post("/oauth2/Approval", json=body)).json()["approval_key"]
        async with websockets.connect(ws_url, ping_interval=None, max_size=None) as ws:
            await ws.send(subscribe_message(approval, "H0STCNI9", "bench") if mode == "fakekis" else "hello")
            ack = json.loads(await ws.recv())
            key, iv = ack["body"]["output"]["key"], ack["body"]["output"]["iv"]
            sent: dict[str, float] = {}
            got: dict[str, float] = {}  # a notice may come before its order's answer: match at the end
            done = asyncio.Event()

            async def receive() -> None:
                async for text in ws:
                    if isinstance(text, str) and text.startswith("1|"):
                        got[decrypt(text, key, iv)[2]] = time.perf_counter()
                        if len(got) == n:
                            done.set()
                            return

            queue = iter(range(n))

            host = rest.split("//", 1)[1]
            payload = json.dumps({**ORDER, "ORD_UNPR": price}).encode()
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            request = (
                f"POST /uapi/domestic-stock/v1/trading/order-cash HTTP/1.1\r\nHost: {host}\r\n{head}"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
            ).encode() + payload

            async def worker() -> None:
                # Raw asyncio streams with TCP_NODELAY, one write per request (bench/loadgen.py says why:
                # httpx measured itself here, ~35 ms a call from Nagle's algorithm on its split writes).
                h, _, p = host.partition(":")
                reader, writer = await asyncio.open_connection(h, int(p))
                for _ in queue:
                    t0 = time.perf_counter()
                    writer.write(request)
                    answer_head = await reader.readuntil(b"\r\n\r\n")
                    match = _LENGTH.search(answer_head)
                    assert match is not None, answer_head
                    out = json.loads(await reader.readexactly(int(match.group(1))))
                    assert out["rt_cd"] == "0", out
                    sent.setdefault(out["output"]["ODNO"], t0)
                writer.close()

            reader = asyncio.create_task(receive())
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            await asyncio.wait_for(done.wait(), 60)
            took = time.perf_counter() - start
            reader.cancel()
    ms = sorted((got[odno] - t0) * 1000 for odno, t0 in sent.items())
    return {
        "orders_per_s": n / took,
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[int(len(ms) * 0.99) - 1],
        "max_ms": ms[-1],
        "orders": n,
    }


if __name__ == "__main__":
    mode, rest, ws_url, n, c = sys.argv[1:6]
    print(
        json.dumps(
            asyncio.run(
                main(mode, rest, ws_url, int(n), int(c), sys.argv[6] if len(sys.argv) > 6 else "50000")
            )
        )
    )
