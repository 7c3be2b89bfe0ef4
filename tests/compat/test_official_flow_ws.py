"""The official samples' flow (open-trading-api `examples_user/kis_auth.py` style) against fakekis,
written here as our own small client that follows the documented steps; their code is not ours to copy.

Steps, as documented (docs/kis/protocol.md §2–§4): a token from tokenP, an approval key from Approval (body key
`secretkey`), a `websockets` connection to `<ops>/tryitout` with the library's default settings,
subscribe messages carrying the approval key, PINGPONG answered with a WebSocket *pong frame* carrying
the text, acks keeping `output.iv/key`, data frames cut into records by the count in `NNN`, each record
checked against the width KIS used on the tape's day (a careful client's era table: 46/62 before
September 2026, 47/63 since; fakekis/wire/layouts.py). Run on both bundled recordings.

Needs nothing beyond the package (stdlib HTTP, `websockets`), so it runs in the main suite and in
`tox -e compat`. What it catches: a fakekis that only works for our own gateway's habits (text-echo
PINGPONG, no WS-level pings, no path) or that breaks the record count.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime

import pytest
import websockets

from fakekis import tape
from fakekis.wire import layouts
from kisclock import KST

pytestmark = [pytest.mark.anyio, pytest.mark.ws]
RECORDINGS = ("healthy-morning-synthetic", "healthy-morning-synthetic-2026-08")


def _fields(recording: str) -> dict[str, int]:
    """Per-record field counts KIS used on the recording's day (docs/kis/protocol.md §5.1, §5.2)."""
    day = datetime.fromtimestamp(tape.load(tape.bundled(recording)).start, KST).date()
    return {tr: layouts.layout(tr, day).width for tr in ("H0STCNT0", "H0STASP0")}


def _post(url: str, body: dict[str, str]) -> dict[str, str]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json", "Accept": "text/plain", "charset": "UTF-8"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@dataclass
class SampleStyleClient:
    rest_url: str
    ws_url: str
    appkey: str
    appsecret: str
    fields: dict[str, int] = field(default_factory=dict)  # tr_id -> the width this client expects
    token: str = ""
    approval_key: str = ""
    acks: list[dict] = field(default_factory=list)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # tr_id -> (iv, key) from the ack
    records: dict[tuple[str, str], list[list[str]]] = field(default_factory=dict)
    pingpongs: int = 0

    def auth(self) -> None:
        self.token = _post(
            self.rest_url + "/oauth2/tokenP",
            {"grant_type": "client_credentials", "appkey": self.appkey, "appsecret": self.appsecret},
        )["access_token"]

    def auth_ws(self) -> None:
        self.approval_key = _post(
            self.rest_url + "/oauth2/Approval",
            {"grant_type": "client_credentials", "appkey": self.appkey, "secretkey": self.appsecret},
        )["approval_key"]

    def inquire_price(self, symbol: str) -> dict:
        req = urllib.request.Request(
            self.rest_url + f"/uapi/domestic-stock/v1/quotations/inquire-price?fid_cond_mrkt_div_code=J"
            f"&fid_input_iscd={symbol}",
            headers={
                "content-type": "application/json; charset=utf-8",
                "authorization": f"Bearer {self.token}",
                "appkey": self.appkey,
                "appsecret": self.appsecret,
                "tr_id": "FHKST01010100",
                "custtype": "P",
            },
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def request(self, tr_type: str, tr_id: str, tr_key: str) -> str:
        return json.dumps(
            {
                "header": {
                    "approval_key": self.approval_key,
                    "custtype": "P",
                    "tr_type": tr_type,
                    "content-type": "utf-8",
                },
                "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}},
            }
        )

    async def handle(self, ws, raw: str) -> None:
        if raw[0] in "01":
            _, tr_id, count, payload = raw.split("|", 3)
            values = payload.split("^")
            n, width = int(count), self.fields[tr_id]
            assert len(values) == n * width, f"{tr_id}: {len(values)} fields for {n} records"
            for i in range(n):
                rec = values[i * width : (i + 1) * width]
                self.records.setdefault((tr_id, rec[0]), []).append(rec)
            return
        msg = json.loads(raw)
        if msg["header"]["tr_id"] == "PINGPONG":
            self.pingpongs += 1
            await ws.pong(raw)  # the official samples' answer: a pong frame with the text
            return
        self.acks.append(msg)
        output = msg["body"].get("output")
        if msg["body"]["rt_cd"] == "0" and output:
            self.keys[msg["header"]["tr_id"]] = (output["iv"], output["key"])


async def _until(client: SampleStyleClient, ws, check, what: str, limit: int = 10_000) -> None:
    """Receive and handle messages until `check()` holds (bounded by a message count and a recv timeout)."""
    for _ in range(limit):
        if check():
            return
        await client.handle(ws, await asyncio.wait_for(ws.recv(), 10))
    raise AssertionError(f"{what}: not seen within {limit} messages")


@pytest.mark.parametrize(
    ("env", "recording"),
    [
        pytest.param(
            env,
            rec,
            marks=pytest.mark.fake_kis(env=env, recording=rec, manual_clock=True, speed=1, ping_interval=10),
        )
        for env in ("live", "mock")
        for rec in RECORDINGS
    ],
)
async def test_official_flow_subscribe_parse_by_count_and_pong_frames(
    fake_kis, env: str, recording: str
) -> None:
    client = SampleStyleClient(
        fake_kis.rest_url, fake_kis.ws_url, fake_kis.appkey, fake_kis.appsecret, _fields(recording)
    )
    client.auth()
    client.auth_ws()
    assert int(client.inquire_price("005930")["output"]["stck_prpr"]) > 0  # lower-case query names too
    subs = [("H0STCNT0", "005930"), ("H0STASP0", "005930"), ("H0STCNT0", "000660")]
    async with websockets.connect(fake_kis.ws_url + "/tryitout") as ws:  # library defaults, as kis_auth
        for tr_id, key in subs:
            await ws.send(client.request("1", tr_id, key))
        await _until(client, ws, lambda: len(client.acks) == 3, "three acks")
        assert [a["body"]["msg_cd"] for a in client.acks] == ["OPSP0000"] * 3
        assert all(len(iv) == 16 and len(key) == 32 for iv, key in client.keys.values())

        fake_kis.advance(25.0)  # two PINGPONGs (10 s, 20 s) and 25 s of the tape
        fake_kis.wait_until(lambda s: fake_kis.caught_up())
        sent = tape.load(tape.bundled(recording)).data_frames()[: fake_kis.stats()["replay"]["emitted"]]
        want = {sub: sum(f.records for f in sent if (f.tr_id, f.tr_key) == sub) for sub in subs}
        await _until(
            client,
            ws,
            lambda: (
                client.pingpongs == 2
                and all(len(client.records.get(sub, [])) == n for sub, n in want.items())
            ),
            "PINGPONGs and every record",
        )
        assert all(n > 0 for n in want.values())
        stats = fake_kis.wait_until(lambda s: s["pong_frames"] == 2)  # both answers counted
        assert stats["ping_echoes"] == 0 and stats["drops"] == {} and stats["sessions_opened"] == 1

        await ws.send(client.request("2", "H0STCNT0", "000660"))
        await _until(client, ws, lambda: len(client.acks) == 4, "the unsubscribe ack")
        assert client.acks[-1]["body"]["msg_cd"] == "OPSP0001"
        assert fake_kis.stats()["open_sessions"][0]["subscriptions"] == [
            ["H0STCNT0", "005930"],
            ["H0STASP0", "005930"],
        ]
