"""`fakekis record` with a fakekis as the upstream: secrets never written (canary scan of every
byte), order calls refused, and a round trip: what the gateway saw through the proxy, replayed from
the recording, arrives again in the same order with the same pacing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from conftest import eventually, gateway_env, kst, trade, write_recording
from fakekis import tape
from fakekis.serve.proxy import Recorder, refusal
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
    assert refusal("/oauth2/tokenP", None) is None
    assert "order" in refusal("/uapi/domestic-stock/v1/trading/order-cash", "TTTC0802U")
    assert "TTTC8434R" in refusal("/uapi/domestic-stock/v1/quotations/x", "TTTC8434R")


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
    assert set(written) == {"session.json", "ws.jsonl", "rest.yaml"}
    for name, data in written.items():
        for secret in secrets:
            assert secret.encode() not in data, (name, secret[:8])
    assert b"REDACTEDAPPKEY1" in written["rest.yaml"] and b"REDACTEDHTSID1" in written["ws.jsonl"]
    loaded = tape.load(tmp_path / "rec")  # scrubbed, and still a valid recording
    assert loaded.synthetic is False and ("H0STCNI9", "REDACTEDHTSID1") in loaded.subscriptions
    assert [i["response"]["status"]["code"] for i in loaded.rest] == [200, 200, 200]  # the order never left
    assert json.loads(written["session.json"])["recorder"]["refused_calls"] == 1


async def _gateway_sees(urls: dict[str, str], tmp: Path, wanted: int) -> list[tuple[str, float]]:
    """Run the gateway against `urls`; return (data frame, arrival time) as on_message saw them."""
    app = create_app(from_env(gateway_env(urls, tmp)), ShiftedClock(WED))
    seen: list[tuple[str, float]] = []
    async with app.router.lifespan_context(app):
        worker = app.state.gateway.worker
        original = worker.on_message

        def spy(session, text):  # test instrumentation: note each data frame as the worker gets it
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


def test_cli_record_stops_after_duration_and_leaves_a_valid_recording(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fakekis",
            "record",
            str(tmp_path / "r"),
            "--duration",
            "1.2",
            "--progress",
            "--rest-upstream",
            "http://127.0.0.1:9",
            "--ws-upstream",
            "ws://127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    progress = [line for line in proc.stderr.splitlines() if line.startswith("recording")]
    assert len(progress) >= 2 and all("msgs" in line and "/s" in line for line in progress)
    ready = json.loads(proc.stdout.splitlines()[0])
    assert ready["rest_url"].startswith("http://127.0.0.1:") and ready["ws_url"].startswith("ws://127.0.0.1:")
    rec = tape.load(tmp_path / "r")
    assert json.loads((tmp_path / "r" / "session.json").read_text())["recorder"]["complete"] is True
    assert rec.lines == []
    again = subprocess.run(
        [sys.executable, "-m", "fakekis", "record", str(tmp_path / "r"), "--duration", "0.1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2 and "not empty" in again.stderr and "Traceback" not in again.stderr


def test_inspect_reports_widths_gaps_and_pingpong(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fakekis", "inspect", "healthy-morning-synthetic"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(out.stdout)
    assert report["record_widths"] == {"H0STCNT0": {"46": 3160}, "H0STASP0": {"59": 1226}}
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

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fakekis",
            "record",
            str(tmp_path / "r"),
            "--rest-upstream",
            "http://127.0.0.1:9",
            "--ws-upstream",
            "ws://127.0.0.1:9",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert json.loads(proc.stdout.readline())["out"] == str(tmp_path / "r")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)  # reads and closes both pipes (an open one is a ResourceWarning)
    assert proc.returncode == 0, err
    assert json.loads((tmp_path / "r" / "session.json").read_text())["recorder"]["complete"] is True
    tape.load(tmp_path / "r")
