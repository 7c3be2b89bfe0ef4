"""A tiny KIS trading bot, run against fakekis's paper trading (docs/paper-trading.md).

It does what a real bot does on KIS, with nothing fakekis-specific but the URLs: takes a token and an
approval key, subscribes to its fill notices (H0STCNI9 on mock, H0STCNI0 on live) with its HTS ID, buys
with a market order, waits for the fill notice (decrypting it with the key of its own subscription ack),
then reads its balance. It prints one JSON line with what happened.

    fakekis serve --hts-id myhtsid &        # prints {"rest_url": ..., "ws_url": ...}
    python examples/paper_bot.py --rest-url http://127.0.0.1:PORT --ws-url ws://127.0.0.1:PORT \\
        --hts-id myhtsid --account 50123456-01 --symbol 005930 --qty 3
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from websockets.sync.client import connect

APPKEY = "PSexample" + "0" * 27  # fakekis takes any key on first use; real KIS keys are 36 characters
APPSECRET = "example-secret-" + "s" * 165


def call(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One REST call; KIS's per-second limit (EGW00201, HTTP 500) is retried after 0.2 s, five times."""
    for _ in range(5):
        r = http.request(method, path, **kwargs)
        if r.status_code != 500 or "EGW00201" not in r.text:
            return r
        time.sleep(0.2)  # what python-kis does on EGW00201, with a bound
    return r


def decrypt(payload: str, key: str, iv: str) -> list[str]:
    dec = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).decryptor()
    raw = dec.update(base64.b64decode(payload)) + dec.finalize()
    unpad = padding.PKCS7(128).unpadder()
    return (unpad.update(raw) + unpad.finalize()).decode().split("^")


def run(
    rest_url: str, ws_url: str, hts_id: str, account: str, symbol: str, qty: int, env: str
) -> dict[str, Any]:
    cano, prdt = account.split("-")
    prefix, notice_tr = ("V", "H0STCNI9") if env == "mock" else ("T", "H0STCNI0")
    with httpx.Client(base_url=rest_url, timeout=10) as http:
        token = call(
            http,
            "POST",
            "/oauth2/tokenP",
            json={"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": APPSECRET},
        ).json()["access_token"]
        approval = call(
            http,
            "POST",
            "/oauth2/Approval",
            json={"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": APPSECRET},
        ).json()["approval_key"]
        auth = {"authorization": f"Bearer {token}", "appkey": APPKEY, "appsecret": APPSECRET, "custtype": "P"}
        with connect(ws_url, open_timeout=10) as ws:
            ws.send(
                json.dumps(
                    {
                        "header": {
                            "approval_key": approval,
                            "custtype": "P",
                            "tr_type": "1",
                            "content-type": "utf-8",
                        },
                        "body": {"input": {"tr_id": notice_tr, "tr_key": hts_id}},
                    }
                )
            )
            ack = json.loads(ws.recv(timeout=10))
            if ack["body"]["rt_cd"] != "0":
                raise SystemExit(f"paper_bot: subscription refused: {ack['body']['msg1']}")
            key, iv = ack["body"]["output"]["key"], ack["body"]["output"]["iv"]
            order = {
                "CANO": cano,
                "ACNT_PRDT_CD": prdt,
                "PDNO": symbol,
                "ORD_DVSN": "01",
                "ORD_QTY": str(qty),
                "ORD_UNPR": "0",
            }
            hashed = call(http, "POST", "/uapi/hashkey", json=order, headers=auth).json()["HASH"]
            answer = call(
                http,
                "POST",
                "/uapi/domestic-stock/v1/trading/order-cash",
                json=order,
                headers={**auth, "tr_id": prefix + "TTC0012U", "hashkey": hashed},
            ).json()
            if answer["rt_cd"] != "0":
                raise SystemExit(f"paper_bot: order refused: {answer['msg_cd']} {answer['msg1']}")
            odno, filled, fills = answer["output"]["ODNO"], 0, []
            deadline = time.monotonic() + 30
            while filled < qty:
                text = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
                if text.startswith("{"):
                    if json.loads(text)["header"].get("tr_id") == "PINGPONG":
                        ws.send(text)  # answer the heartbeat, as KIS expects
                    continue
                _, _, _, payload = text.split("|", 3)
                f = decrypt(payload, key, iv)
                if f[2] == odno and f[13] == "2":  # CNTG_YN 2: a fill
                    filled += int(f[9])
                    fills.append({"qty": int(f[9]), "price": int(f[10]), "time": f[11]})
        balance = call(
            http,
            "GET",
            "/uapi/domestic-stock/v1/trading/inquire-balance",
            params={
                "CANO": cano,
                "ACNT_PRDT_CD": prdt,
                "AFHR_FLPR_YN": "N",
                "OFL_YN": "",
                "INQR_DVSN": "02",
                "UNPR_DVSN": "01",
                "FUND_STTL_ICLD_YN": "N",
                "FNCG_AMT_AUTO_RDPT_YN": "N",
                "PRCS_DVSN": "00",
                "CTX_AREA_FK100": "",
                "CTX_AREA_NK100": "",
            },
            headers={**auth, "tr_id": prefix + "TTC8434R", "tr_cont": ""},
        ).json()
    held = {row["pdno"]: int(row["hldg_qty"]) for row in balance["output1"]}
    return {
        "odno": odno,
        "fills": fills,
        "held": held.get(symbol, 0),
        "cash": int(balance["output2"][0]["dnca_tot_amt"]),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rest-url", required=True)
    p.add_argument("--ws-url", required=True)
    p.add_argument("--hts-id", default="myhtsid")
    p.add_argument("--account", default="50123456-01", help="CANO-ACNT_PRDT_CD, e.g. 50123456-01")
    p.add_argument("--symbol", default="005930")
    p.add_argument("--qty", type=int, default=3)
    p.add_argument("--env", choices=("mock", "live"), default="mock")
    a = p.parse_args(argv)
    print(json.dumps(run(a.rest_url, a.ws_url, a.hts_id, a.account, a.symbol, a.qty, a.env)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
