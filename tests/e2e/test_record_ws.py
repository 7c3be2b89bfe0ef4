"""`fakekis record` with a fakekis as the upstream: secrets never written (canary scan of every
byte), order calls refused, and a round trip: what the gateway saw through the proxy, replayed from
the recording, arrives again in the same order with the same pacing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from conftest import eventually, gateway_env, kst, trade, write_recording
from fakekis import tape
from fakekis.serve.allowlist import refusal
from fakekis.serve.proxy import Recorder
from fakekis.serve.server import FakeKis
from fakekis.wire import frames
from gateway.app import create_app
from gateway.config import from_env
from gateway.session import subscribe_message
from kisclock import ShiftedClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]
WED = kst(2026, 11, 25, 10, 0)
CANARY_KEY = "PSCANARYRECORD" + "k" * 22
CANARY_SECRET = "CANARYRECSECRET" + "s" * 165
CANARY_HTS = "canaryhts77"
CANARY_CANO = "73190042"
GAPS = [0.3, 0.1, 0.45, 0.05, 0.2, 0.35, 0.15, 0.25, 0.1, 0.3]


def _source(tmp: Path) -> tape.Recording:
    t, out = 0.2, []
    for i, gap in enumerate(GAPS):
        t += gap
        n = 2 if i % 3 == 0 else 1
        recs = [
            trade("005930", f"1000{i:02d}", 71_000 + 100 * i, 71_000, 1_000 + 3 * i + j) for j in range(n)
        ]
        out.append((round(t, 3), frames.data_frame("H0STCNT0", recs)))
    return tape.load(write_recording(tmp / "source", WED, out))


def test_order_calls_are_refused_by_default() -> None:
    assert refusal("/uapi/domestic-stock/v1/quotations/inquire-price", "FHKST01010100") is None
    assert refusal("/oauth2/tokenP", None, "POST") is None
    assert "order" in str(refusal("/uapi/domestic-stock/v1/trading/order-cash", "TTTC0802U"))
    assert "TTTC8434R" in str(refusal("/uapi/domestic-stock/v1/quotations/x", "TTTC8434R"))


async def test_canary_secrets_never_reach_the_recording(tmp_path: Path) -> None:
    async with FakeKis(_source(tmp_path), speed=None) as kis:
        upstream = kis.urls["mock"]
        async with Recorder(
            tmp_path / "rec", rest_upstream=upstream["rest_url"], ws_upstream=upstream["ws_url"]
        ) as rec:
            async with httpx.AsyncClient(base_url=rec.rest_url) as http:
                tok = (
                    await http.post(
                        "/oauth2/tokenP",
                        json={
                            "grant_type": "client_credentials",
                            "appkey": CANARY_KEY,
                            "appsecret": CANARY_SECRET,
                        },
                    )
                ).json()
                approval = (
                    await http.post(
                        "/oauth2/Approval",
                        json={
                            "grant_type": "client_credentials",
                            "appkey": CANARY_KEY,
                            "secretkey": CANARY_SECRET,
                        },
                    )
                ).json()
                price = await http.get(
                    "/uapi/domestic-stock/v1/quotations/inquire-price",
                    params={"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930", "CANO": CANARY_CANO},
                    headers={
                        "authorization": f"Bearer {tok['access_token']}",
                        "appkey": CANARY_KEY,
                        "appsecret": CANARY_SECRET,
                        "tr_id": "FHKST01010100",
                    },
                )
                assert price.json()["rt_cd"] == "0"
                order = await http.post(
                    "/uapi/domestic-stock/v1/trading/order-cash",
                    json={"CANO": CANARY_CANO, "PDNO": "005930"},
                    headers={"tr_id": "TTTC0802U", "appkey": CANARY_KEY},
                )
                assert order.status_code == 403 and "--allow-trading" in order.json()["msg1"]
            async with connect(rec.ws_url, ping_interval=None) as ws:
                key = approval["approval_key"]
                await ws.send(subscribe_message(key, "H0STCNT0", "005930"))
                await ws.send(subscribe_message(key, "H0STCNI9", CANARY_HTS))
                acks = [json.loads(await ws.recv()) for _ in range(2)]
                assert {a["body"]["msg_cd"] for a in acks} == {"OPSP0000"}
    secrets = [
        CANARY_KEY,
        CANARY_SECRET,
        CANARY_HTS,
        CANARY_CANO,
        tok["access_token"],
        approval["approval_key"],
    ]
    written = {p.name: p.read_bytes() for p in (tmp_path / "rec").iterdir()}
    assert set(written) == {"session.json", "ws.jsonl", "ws.index.json", "rest.yaml"}
    for name, data in written.items():
        for secret in secrets:
            assert secret.encode() not in data, (name, secret[:8])
    assert b"REDACTEDAPPKEY1" in written["rest.yaml"] and b"REDACTEDHTSID1" in written["ws.jsonl"]
    loaded = tape.load(tmp_path / "rec")  # scrubbed, and still a valid recording
    assert loaded.synthetic is False and ("H0STCNI9", "REDACTEDHTSID1") in loaded.subscriptions
    assert [i["response"]["status"]["code"] for i in loaded.rest] == [200, 200, 200]  # type: ignore[index]  # the order never left
    assert json.loads(written["session.json"])["recorder"]["refused_calls"] == 1


async def _gateway_sees(urls: dict[str, str], tmp: Path, wanted: int) -> list[tuple[str, float]]:
    """Run the gateway against `urls`; return (data frame, arrival time) as on_message saw them."""
    app = create_app(from_env(gateway_env(urls, tmp)), ShiftedClock(WED))
    seen: list[tuple[str, float]] = []
    async with app.router.lifespan_context(app):
        worker = app.state.gateway.worker
        original = worker.on_message

        def spy(
            session: Any, text: str
        ) -> Any:  # test instrumentation: note each data frame as the worker gets it
            if text[:2] == "0|":
                seen.append((text, time.monotonic()))
            return original(session, text)

        worker.on_message = spy
        await eventually(lambda: len(seen) >= wanted, timeout=20, what=f"{wanted} frames at the gateway")
    return seen


def _gaps(seen: list[tuple[str, float]]) -> list[float]:
    return [b[1] - a[1] for a, b in zip(seen, seen[1:], strict=False)]


async def test_round_trip_same_messages_same_order_same_pacing(tmp_path: Path) -> None:
    source = _source(tmp_path)
    async with FakeKis(source, speed=1.0) as kis:
        up = kis.urls["mock"]
        async with Recorder(tmp_path / "rec", rest_upstream=up["rest_url"], ws_upstream=up["ws_url"]) as rec:
            live = await _gateway_sees(
                {"rest_url": rec.rest_url, "ws_url": rec.ws_url}, tmp_path / "a", len(GAPS)
            )
            progress = rec.progress()  # what the recorder shows while it runs
    assert progress["by_symbol"] == {"H0STCNT0 005930": len(GAPS)}
    assert progress["messages"] >= len(GAPS) + 2 and progress["per_second"] > 0 and progress["elapsed_s"] > 0
    recorded = tape.load(tmp_path / "rec")
    assert [f.text for f in recorded.data_frames()] == [f.text for f in source.data_frames()]
    async with FakeKis(recorded, speed=1.0) as replay:
        again = await _gateway_sees(replay.urls["mock"], tmp_path / "b", len(GAPS))
    assert [t for t, _ in again] == [t for t, _ in live] == [f.text for f in source.data_frames()]
    errors = [abs(a - b) for a, b in zip(_gaps(again), _gaps(live), strict=True)]
    assert max(errors) < 0.05, errors  # pacing within 50 ms per gap on loopback
    assert all(abs(g - want) < 0.05 for g, want in zip(_gaps(again), GAPS[1:], strict=True))


def test_inspect_reports_widths_gaps_and_pingpong(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fakekis", "inspect", "healthy-morning-synthetic"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(out.stdout)
    assert report["record_widths"] == {"H0STCNT0": {"47": 3160}, "H0STASP0": {"63": 1226}}  # 2026-11 layouts
    assert report["pingpong"]["median_interval_s"] == 20.0 and report["malformed_frames"] == 0
    assert report["longest_gaps"][0]["seconds"] > 0 and report["disconnects"][0]["code"] == 1000


@pytest.mark.skipif(
    not (__import__("os").environ.get("KIS_APP_KEY") and __import__("os").environ.get("KIS_APP_SECRET")),
    reason="real KIS: set KIS_APP_KEY, KIS_APP_SECRET (and KIS_ENV) to record from it",
)
async def test_record_from_real_kis(tmp_path: Path) -> None:  # pragma: no cover - needs credentials
    import os

    env = os.environ.get("KIS_ENV", "mock")
    async with Recorder(tmp_path / "live", env=env) as rec:
        app = create_app(
            from_env(
                {
                    **os.environ,
                    "KIS_REST_URL": rec.rest_url,
                    "KIS_WS_URL": rec.ws_url,
                    "GATEWAY_TOKEN_DIR": str(tmp_path / "tok"),
                }
            ),
            ShiftedClock(time.time()),
        )
        async with app.router.lifespan_context(app):
            m = app.state.gateway.metrics
            await eventually(lambda: m.ws_subscriptions > 0, timeout=30, what="acks from real KIS")
    recorded = tape.load(tmp_path / "live")
    data = b"".join(p.read_bytes() for p in (tmp_path / "live").iterdir())
    assert (
        os.environ["KIS_APP_KEY"].encode() not in data and os.environ["KIS_APP_SECRET"].encode() not in data
    )
    assert recorded.subscriptions


def test_ctrl_c_leaves_a_complete_recording(tmp_path: Path) -> None:
    import signal

    upstream = subprocess.Popen(
        [sys.executable, "-m", "fakekis", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert upstream.stdout is not None
        ready = json.loads(upstream.stdout.readline())
        proc = subprocess.Popen(
            [sys.executable, "-m", "fakekis", "record", str(tmp_path / "r")]
            + ["--rest-upstream", ready["rest_url"], "--ws-upstream", ready["ws_url"]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        proxy = json.loads(proc.stdout.readline())
        assert proxy["out"] == str(tmp_path / "r")
        body = {"grant_type": "client_credentials", "appkey": "PSctrlc" + "k" * 29, "appsecret": "s" * 40}
        assert httpx.post(proxy["rest_url"] + "/oauth2/tokenP", json=body, timeout=10).status_code == 200
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(
            timeout=30
        )  # reads and closes both pipes (an open one is a ResourceWarning)
    finally:
        upstream.terminate()
        upstream.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert json.loads((tmp_path / "r" / "session.json").read_text())["recorder"]["complete"] is True
    assert len(tape.load(tmp_path / "r").rest) == 1


# -- every output of `fakekis record`, scanned for canaries in every spelling ----------------------------
ESC_KEY = (
    "PSCANARY/ESC+KEY=" + "k" * 19
)  # characters JSON encoders escape: \/ (PHP), \u002B/\u003d (.NET, Gson)
ESC_SECRET = "CANARY+ESC/SECRET=" + "s" * 162
NOTICE_HTS, NOTICE_ACCOUNT, NOTICE_NAME = "cnyhts42", "7319004277", "카나리아"
SHORT_PRODUCT = "7"  # a 1-char secret: scrubbed in its own fields, not as every "7" in the files
REAL_IV, REAL_KEY = "0123456789abcdef", "abcdefghijklmnopabcdefghijklmnop"


def _escaped_json(obj: dict[str, str]) -> bytes:
    """JSON as PHP/.NET/Gson write it by default."""
    text = json.dumps(obj).replace("/", "\\/").replace("+", "\\u002B").replace("=", "\\u003d")
    return text.encode()


def _spellings(secret: str) -> list[str]:
    """The ways a secret could sit in a file: verbatim, JSON-escaped, percent-encoded, inside base64."""
    import base64
    from urllib.parse import quote

    out = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=True)[1:-1],
        quote(secret, safe=""),
    }
    out.add(json.dumps(secret)[1:-1].replace("/", "\\/"))
    out.add("".join(f"\\u{ord(c):04x}" for c in secret))
    if len(secret) >= 12:
        for pad in range(3):
            core = base64.b64encode(b"\0" * pad + secret.encode()).decode()[4:-4]
            out |= {core, core.replace("+", "-").replace("/", "_")}
    return sorted(out)


def decrypt(payload: str, key: str, iv: str) -> str | None:
    """AES-256-CBC/PKCS#7/base64, as a client does it (not the scrubber's own code)."""
    import base64

    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    try:
        dec = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).decryptor()
        padded = dec.update(base64.b64decode(payload)) + dec.finalize()
        unpad = padding.PKCS7(128).unpadder()
        return (unpad.update(padded) + unpad.finalize()).decode()
    except ValueError:
        return None


def _notice() -> list[str]:
    rec = [NOTICE_HTS, NOTICE_ACCOUNT, "0000012345", "", "02", "0", "00", "0", "005930", "0000000010"]
    rec += ["000071600", "101523", "0", "2", "2", "06010", "000000010", NOTICE_NAME, "", "1", "Y", "", "", ""]
    return rec + ["삼성전자", "000071600"]


async def _notice_upstream(
    conn: Any,
) -> None:  # a KIS WS that acks with a key and sends one fill notice per CNI TR
    async for text in conn:
        inp = json.loads(text)["body"]["input"]
        secret_tr = "CNI" in inp["tr_id"]
        out = {"iv": REAL_IV, "key": REAL_KEY}
        ack = frames.control(
            inp["tr_id"], inp["tr_key"], "0", "OPSP0000", "SUBSCRIBE SUCCESS", out, "Y" if secret_tr else "N"
        )
        await conn.send(ack)
        if secret_tr:
            await conn.send(frames.encrypted_frame(inp["tr_id"], [_notice()], REAL_KEY, REAL_IV))


async def test_cli_record_leaks_no_canary_in_any_output(tmp_path: Path) -> None:
    import asyncio
    import signal

    import yaml
    from websockets.asyncio.server import serve

    out = tmp_path / "rec"
    async with FakeKis(_source(tmp_path), speed=None) as kis, serve(_notice_upstream, "127.0.0.1", 0) as stub:
        ws_up = f"ws://127.0.0.1:{stub.sockets[0].getsockname()[1]}"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fakekis", "record", str(out), "--progress",
            "--rest-upstream", kis.urls["mock"]["rest_url"], "--ws-upstream", ws_up,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert proc.stdout is not None and proc.stderr is not None
            ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
            creds = {"grant_type": "client_credentials", "appkey": ESC_KEY}
            async with httpx.AsyncClient(base_url=ready["rest_url"]) as http:
                json_h = {"content-type": "application/json"}
                tok = (
                    await http.post(
                        "/oauth2/tokenP",
                        content=_escaped_json({**creds, "appsecret": ESC_SECRET}),
                        headers=json_h,
                    )
                ).json()
                approval = (
                    await http.post(
                        "/oauth2/Approval",
                        content=_escaped_json({**creds, "secretkey": ESC_SECRET}),
                        headers=json_h,
                    )
                ).json()
                headers = {
                    "authorization": f"Bearer {tok['access_token']}",
                    "appkey": ESC_KEY,
                    "appsecret": ESC_SECRET,
                }
                price = await http.get(
                    "/uapi/domestic-stock/v1/quotations/inquire-price",
                    params={
                        "FID_COND_MRKT_DIV_CODE": "J",
                        "FID_INPUT_ISCD": "005930",
                        "CANO": CANARY_CANO,
                        "ACNT_PRDT_CD": SHORT_PRODUCT,
                    },
                    headers={**headers, "tr_id": "FHKST01010100"},
                )
                assert price.json()["rt_cd"] == "0"
                order = await http.post(
                    "/uapi/domestic-stock/v1/trading/order-cash", headers={**headers, "tr_id": "tttc0012u"}
                )
                assert order.status_code == 403
            async with connect(ready["ws_url"], ping_interval=None) as ws:
                for tr_id, tr_key in (
                    ("H0STCNT0", "005930"),
                    ("H0STCNI9", NOTICE_HTS),
                    ("H0IFCNI0", NOTICE_HTS),
                ):
                    await ws.send(subscribe_message(approval["approval_key"], tr_id, tr_key))
                got = [str(await asyncio.wait_for(ws.recv(), 10)) for _ in range(5)]
            notices = [g for g in got if g.startswith("1|")]
            assert len(notices) == 2 and NOTICE_NAME in str(
                decrypt(notices[0].split("|")[3], REAL_KEY, REAL_IV)
            )
            await eventually(
                lambda: len((out / "ws.jsonl").read_text().splitlines()) >= 9, what="9 ws.jsonl lines"
            )
            proc.send_signal(signal.SIGINT)
            stderr = (await asyncio.wait_for(proc.stderr.read(), 30)).decode()
            assert await asyncio.wait_for(proc.wait(), 30) == 0, stderr
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    files = {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()}
    assert set(files) == {"session.json", "ws.jsonl", "ws.index.json", "rest.yaml"}
    cassette = yaml.safe_load(files["rest.yaml"])["interactions"]
    bodies = [str(i["request"]["body"]) + str(i["response"]["body"]["string"]) for i in cassette]
    lines = [json.loads(line) for line in files["ws.jsonl"].splitlines()]
    acks = [json.loads(ln["text"]) for ln in lines if ln.get("dir") == "recv" and ln["text"].startswith("{")]
    own = acks[-1]["body"]["output"]
    decoded = [
        decrypt(ln["text"].split("|")[3], own["key"], own["iv"])
        for ln in lines
        if ln.get("text", "").startswith("1|")
    ]
    assert len(decoded) == 2 and all(
        d and "삼성전자" in d for d in decoded
    )  # notices kept, readable, scrubbed
    outputs = {
        "stderr": stderr,
        **files,
        "cassette bodies": "\n".join(bodies),
        "decoded notices": "\n".join(map(str, decoded)),
    }
    secrets = [ESC_KEY, ESC_SECRET, CANARY_CANO, NOTICE_HTS, NOTICE_ACCOUNT, NOTICE_NAME, REAL_KEY, REAL_IV]
    secrets += [tok["access_token"], approval["approval_key"]]
    leaks = [
        (name, s[:10], form[:16])
        for name, text in outputs.items()
        for s in secrets
        for form in _spellings(s)
        if form in text
    ]
    assert leaks == [], leaks
    assert "refused" in stderr and "REDACTEDAPPKEY" in files["rest.yaml"]
    # the 1-char account product code: gone from its query field, while other 7s stay
    uri = next(i["request"]["uri"] for i in cassette if "inquire-price" in i["request"]["uri"])
    assert (
        f"ACNT_PRDT_CD={SHORT_PRODUCT}" not in uri
        and "ACNT_PRDT_CD=REDACTED" in uri
        and "7" in files["ws.jsonl"]
    )
