"""Gateway operations (gateway/ops.py, docs/operations in README): `/metrics` in Prometheus exposition,
`/healthz`, `/readyz` and its definition, and JSON logs with timestamp and level from both CLIs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_cli_processes import _poll, _start

from conftest import APPKEY, SECRET, eventually, kst, running, trade, write_recording
from fakekis import tape
from fakekis.wire import frames
from gateway.ops import GatewayCollector
from kisclock import ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]
WED = kst(2026, 11, 25, 10, 0)


def _tape(tmp: Path) -> tape.Recording:
    out = [
        (0.5 + i, frames.data_frame("H0STCNT0", [trade("005930", f"1000{i:02d}", 71_000, 70_000, 10 + i)]))
        for i in range(20)
    ]
    return tape.load(write_recording(tmp / "rec", WED, out))


def _families(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


async def test_metrics_is_prometheus_exposition_of_the_same_numbers(tmp_path: Path) -> None:
    async with running(_tape(tmp_path), ManualClock(WED), tmp_path) as r:
        await eventually(lambda: r.metrics.ws_subscriptions == 1, what="the subscription")
        await r.advance(3.0)
        resp = await r.http.get("/metrics")
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain; version=")
        fams = _families(resp.text)  # parses: valid exposition
        assert fams["kis_gateway_ws_connected"][0].value == 1.0
        assert fams["kis_gateway_ws_messages"][0].value == r.metrics.ws_messages > 0
        reached = {s.labels["stage"]: s.value for s in fams["kis_gateway_stage_reached"]}
        assert reached["subscribed"] == 1.0 and reached["served_ws"] == 0.0
        assert fams["kis_gateway_ready"][0].value == 1.0
        assert APPKEY not in resp.text and SECRET not in resp.text
        legacy = (await r.http.get("/v1/metrics/quote")).json()  # the JSON endpoint still answers
        assert legacy["ws_messages"] == r.metrics.ws_messages


def test_label_values_are_codes_or_other() -> None:
    """Text from upstream (a msg_cd) becomes a label only if it looks like a code: a secret never does."""
    family = GatewayCollector._by("rest_errors", "x", "code", {"EGW00201": 2, APPKEY: 1, "a b": 1})
    assert {s.labels["code"]: s.value for s in family.samples if s.name.endswith("_total")} == {
        "EGW00201": 2,
        "other": 2,
    }


async def test_healthz_and_readyz(tmp_path: Path) -> None:
    async with running(_tape(tmp_path), ManualClock(WED), tmp_path, "005930,000660") as r:
        assert (await r.http.get("/healthz")).json() == {"status": "ok"}
        await eventually(lambda: r.metrics.ws_subscriptions >= 1, what="a subscription")
        ready = await r.http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] and ready.json()["reason"] is None
        r.kis.drop_connections("mock")  # the WebSocket is gone and no REST token was ever needed
        await eventually(lambda: not r.metrics.ws_connected, what="the drop")
        down = await r.http.get("/readyz")
        assert down.status_code == 503 and "no quote source" in down.json()["reason"]
        assert (await r.http.get("/healthz")).status_code == 200  # the process is still up
        q = await r.quote("005930")  # WS is down: served from REST, so the gateway now holds a token
        assert q["source"] == "kis-rest"
        up = await r.http.get("/readyz")
        assert up.status_code == 200 and up.json()["rest_token"] and not up.json()["ws_connected"]
        r.gw.task.cancel()
        await eventually(lambda: not r.metrics.worker_running, what="the supervisor to stop")
        stopped = await r.http.get("/readyz")
        assert stopped.status_code == 503 and "worker is not running" in stopped.json()["reason"]


def _json_lines(text: str) -> list[dict]:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert lines and all({"timestamp", "level", "message"} <= set(x) for x in lines), text[:500]
    return lines


def test_both_clis_log_json_when_asked(tmp_path: Path) -> None:
    kis, ready = _start(
        [
            "fakekis",
            "--log-format",
            "json",
            "serve",
            "--recording",
            "healthy-morning-synthetic",
            "--speed",
            "asap",
        ]
    )
    env = {
        "KIS_ENV": "mock",
        "KIS_APP_KEY": APPKEY,
        "KIS_APP_SECRET": SECRET,
        "KIS_SYMBOLS": "005930",
        "KIS_REST_URL": ready["rest_url"],
        "KIS_WS_URL": ready["ws_url"],
        "GATEWAY_TOKEN_DIR": str(tmp_path),
        "GATEWAY_CLOCK_START": "2026-11-25T09:05:00+09:00",
        "GATEWAY_LOG_FORMAT": "json",
    }
    gw, gw_ready = _start(["gateway", "serve", "--port", "0"], env)
    try:
        with httpx.Client(base_url=gw_ready["url"], timeout=10) as http:
            _poll(lambda: http.get("/readyz").status_code == 200, "the gateway to be ready")
            assert "kis_gateway_ws_connected 1.0" in http.get("/metrics").text
    finally:
        errs = []
        for proc in (gw, kis):
            proc.send_signal(signal.SIGTERM)
            try:
                errs.append(proc.communicate(timeout=20)[1])
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError(f"{proc.args} did not exit within 20 s of SIGTERM") from None
    gw_lines, kis_lines = _json_lines(errs[0]), _json_lines(errs[1])
    assert {x["level"] for x in gw_lines} <= {"INFO", "WARNING", "ERROR"} and gw_lines[0]["timestamp"][
        :2
    ] == "20"
    assert any("replaying" in x["message"] for x in kis_lines)
    assert not any(SECRET in json.dumps(x) or APPKEY in json.dumps(x) for x in gw_lines + kis_lines)


def test_a_bad_log_format_is_one_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env={
            "PATH": "",
            "GATEWAY_LOG_FORMAT": "xml",
            "KIS_APP_KEY": APPKEY,
            "KIS_APP_SECRET": SECRET,
            "GATEWAY_TOKEN_DIR": str(tmp_path),
        },
        timeout=60,
    )
    assert out.returncode == 2 and "GATEWAY_LOG_FORMAT='xml'" in out.stderr and "Traceback" not in out.stderr
