"""A KIS trading client for the paper-trading tests: REST orders and queries, fill-notice decryption written
from the spec (docs/kis/protocol.md §4.6), independent of fakekis's own code."""

from __future__ import annotations

import base64
from typing import Any

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from conftest import APPKEY, SECRET

TRADING = "/uapi/domestic-stock/v1/trading/"
ACCOUNT = {"CANO": "50123456", "ACNT_PRDT_CD": "01"}


def decrypt(text: str, key: str, iv: str) -> list[str]:
    """The client's side of docs/kis/protocol.md §4.6, written here from the spec (not fakekis's code)."""
    flag, tr_id, count, payload = text.split("|", 3)
    assert flag == "1" and count == "001"
    dec = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).decryptor()
    raw = dec.update(base64.b64decode(payload)) + dec.finalize()
    unpad = padding.PKCS7(128).unpadder()
    return (unpad.update(raw) + unpad.finalize()).decode().split("^")


async def notice(ws: Any, key: str, iv: str) -> list[str]:
    """The next fill notice, skipping PINGPONGs."""
    while True:
        text = await ws.recv()
        if not text.startswith("{"):
            return decrypt(text, key, iv)


class Client:
    def __init__(self, http: httpx.AsyncClient, token: str, env: str = "mock") -> None:
        self.http, self.token, self.prefix = http, token, "V" if env == "mock" else "T"

    def headers(self, tr_id: str, **extra: str) -> dict[str, str]:
        return {
            "authorization": f"Bearer {self.token}",
            "appkey": APPKEY,
            "appsecret": SECRET,
            "tr_id": tr_id,
            "custtype": "P",
            **extra,
        }

    async def order(self, tr_id: str, path: str = "order-cash", **body: str) -> dict[str, Any]:
        r = await self.http.post(TRADING + path, json={**ACCOUNT, **body}, headers=self.headers(tr_id))
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def query(self, path: str, tr_id: str, **params: str) -> tuple[dict[str, Any], str]:
        r = await self.http.get(TRADING + path, params={**ACCOUNT, **params}, headers=self.headers(tr_id))
        assert r.status_code == 200, r.text
        return dict(r.json()), r.headers["tr_cont"]


async def start(http: httpx.AsyncClient) -> str:
    r = await http.post(
        "/oauth2/tokenP", json={"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}
    )
    return str(r.json()["access_token"])


async def approval(http: httpx.AsyncClient) -> str:
    r = await http.post(
        "/oauth2/Approval", json={"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET}
    )
    return str(r.json()["approval_key"])
