"""The command-line contracts, as real processes: `fakekis serve` prints one JSON line and exits 0
on SIGTERM; `kis-gateway serve` pointed at it by environment variables alone serves kis-ws (the
README's two-terminal flow); bad input is one line on stderr, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import APPKEY, SECRET

PY = sys.executable


def _start(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen(
        [PY, "-m", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(f"{args[0]} printed no ready line: {proc.stderr.read() if proc.stderr else ''}")
    return proc, json.loads(line)


def _stop(proc: subprocess.Popen) -> tuple[int, str]:
    """SIGTERM, then the exit; a process that ignores it is killed (not leaked) and the test says so."""
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=20)
        raise AssertionError(
            f"{' '.join(proc.args[2:4])} did not exit within 20 s of SIGTERM (a task that ignores "
            f"cancellation?); killed. Its stderr ends: {err[-600:]}"
        ) from None
    return proc.returncode, out


def _stop_all(*procs: subprocess.Popen) -> list[tuple[int, str]]:
    """Stop every process even when one of them will not stop (none is leaked past the test)."""
    results, problems = [], []
    for proc in procs:
        try:
            results.append(_stop(proc))
        except AssertionError as e:
            problems.append(str(e))
    if problems:
        raise AssertionError("; ".join(problems))
    return results


def _poll(check, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)  # polling another process over HTTP, bounded by the deadline
    raise AssertionError(f"timed out after {timeout:g} s (real time) waiting for {what}")


@pytest.mark.ws
def test_two_processes_wired_by_environment_variables_alone(tmp_path: Path) -> None:
    kis, ready = _start(["fakekis", "serve", "--recording", "healthy-morning-synthetic", "--speed", "asap"])
    assert set(ready) >= {"rest_url", "ws_url", "env"} and ready["env"] == "mock"
    assert ready["rest_url"].startswith("http://127.0.0.1:") and ready["ws_url"].startswith("ws://127.0.0.1:")
    env = {
        "KIS_ENV": "mock",
        "KIS_APP_KEY": APPKEY,
        "KIS_APP_SECRET": SECRET,
        "KIS_SYMBOLS": "005930,000660,035720",
        "KIS_REST_URL": ready["rest_url"],
        "KIS_WS_URL": ready["ws_url"],
        "GATEWAY_TOKEN_DIR": str(tmp_path),
        "GATEWAY_CLOCK_START": "2026-11-25T09:05:00+09:00",
    }
    gw, gw_ready = _start(["gateway", "serve", "--port", "0"], env)
    try:
        with httpx.Client(base_url=gw_ready["url"], timeout=10) as http:
            _poll(lambda: http.get("/v1/metrics/quote").json()["cached_symbols"] == 3, "3 cached symbols")
            quotes = [http.get(f"/v1/quotes/{s}").json() for s in ("005930", "000660", "035720")]
            assert [q["source"] for q in quotes] == ["kis-ws"] * 3, quotes
            # Three cached symbols do not mean the replay is over: wait for that, then every frame sent
            # must have been ingested (a lost frame times the poll out).
            stats = _poll(
                lambda: (
                    (s := httpx.get(ready["rest_url"] + "/__fakekis/stats").json())["replay"]["done"] and s
                ),
                "fakekis to finish the replay",
            )
            m = _poll(
                lambda: (
                    (x := http.get("/v1/metrics/quote").json())["ws_messages"] == stats["frames_sent"] and x
                ),
                "the gateway to ingest every frame fakekis sent",
            )
            assert m["ws_connected"] and m["ws_messages"] > 0
            assert all(v["reached"] for v in m["stages"].values())
    finally:
        (gw_code, gw_out), (kis_code, kis_out) = _stop_all(gw, kis)
    assert (gw_code, kis_code) == (0, 0)
    assert gw_out == "" and kis_out == ""  # exactly one stdout line each: the ready line


@pytest.mark.parametrize(
    "env, needle",
    [
        ({"KIS_APP_KEY": ""}, "KIS_APP_KEY"),
        ({"KIS_ENV": "prod"}, "KIS_ENV"),
        ({"KIS_SYMBOLS": "5930"}, "'5930'"),
        ({"GATEWAY_CLOCK_START": "yesterday"}, "GATEWAY_CLOCK_START"),
        ({"GATEWAY_FRESHNESS_MS": "-1"}, "GATEWAY_FRESHNESS_MS"),
        ({"KIS_WS_URL": "http://x"}, "KIS_WS_URL"),
    ],
    # ids without "ws": a config check is not the WebSocket path, and `pytest -k ws` must not pick it
    ids=[
        "empty-appkey",
        "unknown-env",
        "short-symbol",
        "bad-clock-start",
        "negative-freshness",
        "http-stream-url",
    ],
)
def test_gateway_config_errors_are_one_line(env: dict[str, str], needle: str) -> None:
    base = {"KIS_APP_KEY": APPKEY, "KIS_APP_SECRET": SECRET}
    proc = subprocess.run(
        [PY, "-m", "gateway", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **base, **env},
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and needle in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["serve", "--speed", "fast"], "'fast' is not a number or 'asap'"),
        (["serve", "--recording", "/no/such/place"], "not a recording folder"),
        (["serve", "--pingpong-deadline=-1"], "'-1' is not allowed: give a number of seconds from 0 (never)"),
        (["serve", "--pingpong-deadline", "inf"], "'inf' is not allowed: give a number of seconds from 0"),
        (["serve", "--pingpong-deadline", "nan"], "'nan' is not allowed: give a number of seconds from 0"),
        (["generate", "{tmp}/x", "--start", "2026-11-25T09:05"], "no UTC offset"),
    ],
)
def test_fakekis_bad_arguments_are_one_line(args: list[str], needle: str, tmp_path: Path) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]  # never a shared folder such as /tmp/x
    proc = subprocess.run([PY, "-m", "fakekis", *args], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr  # argparse's usage block used to come first
    # (the full table of bad values is tests/e2e/test_cli_bad_input.py)


def test_generate_then_validate(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    gen = subprocess.run(
        [PY, "-m", "fakekis", "generate", str(out), "--minutes", "0.5", "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gen.returncode == 0, gen.stderr
    val = subprocess.run(
        [PY, "-m", "fakekis", "validate", str(out)], capture_output=True, text=True, timeout=60
    )
    summary = json.loads(val.stdout)
    assert summary["synthetic"] is True and summary["data_frames"]["H0STCNT0"] > 0


@pytest.mark.ws
def test_gateway_and_fakekis_in_two_processes_step_through_one_clock(tmp_path: Path) -> None:
    kis, ready = _start(["fakekis", "serve", "--clock", "manual", "--ping-interval", "10"])
    rest = ready["rest_url"]
    env = {
        "KIS_ENV": "mock",
        "KIS_APP_KEY": APPKEY,
        "KIS_APP_SECRET": SECRET,
        "KIS_SYMBOLS": "005930,000660",
        "KIS_REST_URL": rest,
        "KIS_WS_URL": ready["ws_url"],
        "GATEWAY_TOKEN_DIR": str(tmp_path),
        "GATEWAY_CLOCK_URL": rest + "/__fakekis/clock",
    }
    gw, gw_ready = _start(["gateway", "serve", "--port", "0"], env)
    try:
        with httpx.Client(base_url=gw_ready["url"], timeout=10) as http:
            _poll(
                lambda: http.get("/v1/metrics/quote").json()["ws_subscriptions"] == 2, "2 acked subscriptions"
            )
            for _ in range(6):  # 30 s of the recorded morning, in 5 s steps
                now = httpx.post(rest + "/__fakekis/clock", json={"advance": 5}).json()["now"]
                _poll(
                    lambda now=now: http.get("/v1/metrics/quote").json()["now"].startswith(now[:19]),
                    f"the gateway's clock to read {now}",
                )
            stats = httpx.get(rest + "/__fakekis/stats").json()
            m = _poll(
                lambda: (lambda m: m if m["ws_messages"] == stats["frames_sent"] else None)(
                    http.get("/v1/metrics/quote").json()
                ),
                "the gateway to ingest every frame fakekis sent",
            )
            assert (
                m["now"].startswith("2026-11-25T09:05:30")
                and m["ws_pingpongs"] == stats["pingpongs_sent"] == 3
            )
            assert m["ws_messages"] > 0 and http.get("/v1/quotes/005930").json()["source"] == "kis-ws"
    finally:
        assert [code for code, _ in _stop_all(gw, kis)] == [0, 0]


def test_unreachable_clock_url_is_one_line(tmp_path: Path) -> None:
    env = {
        "KIS_APP_KEY": APPKEY,
        "KIS_APP_SECRET": SECRET,
        "GATEWAY_CLOCK_URL": "http://127.0.0.1:9/__fakekis/clock",
    }
    proc = subprocess.run(
        [PY, "-m", "gateway", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
    )
    assert proc.returncode == 2 and "GATEWAY_CLOCK_URL" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "scenario, code, needle",
    [
        (None, 0, "VERDICT: PASS"),
        ("session-in-use", 1, "OPSP8996"),
    ],
)
@pytest.mark.ws
def test_diagnose_cli_against_a_fakekis_process(scenario, code, needle, tmp_path: Path) -> None:
    args = ["fakekis", "serve", "--speed", "1"] + (["--scenario", scenario] if scenario else [])
    kis, ready = _start(args)
    env = {
        "KIS_ENV": "mock",
        "KIS_APP_KEY": APPKEY,
        "KIS_APP_SECRET": SECRET,
        "KIS_SYMBOLS": "005930,000660",
        "KIS_REST_URL": ready["rest_url"],
        "KIS_WS_URL": ready["ws_url"],
        "GATEWAY_TOKEN_DIR": str(tmp_path),
        "GATEWAY_CLOCK_START": "2026-11-25T09:05:00+09:00",
    }
    try:
        proc = subprocess.run(
            [PY, "-m", "gateway", "diagnose", "--seconds", "8"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        )
        as_json = subprocess.run(
            [PY, "-m", "gateway", "diagnose", "--seconds", "3", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        )
    finally:
        _stop(kis)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert needle in proc.stdout and "Traceback" not in proc.stderr
    for boundary in ("worker_started", "connected", "subscribed", "first_message", "cached", "served_ws"):
        assert boundary in proc.stdout
    assert json.loads(as_json.stdout)["findings"][0]["boundary"] == "worker_started"


def test_start_cash_reaches_a_new_paper_account(tmp_path: Path) -> None:
    kis, ready = _start(["fakekis", "serve", "--start-cash", "1,234,000", "--hts-id", "myhtsid"])
    try:
        with httpx.Client(base_url=ready["rest_url"], timeout=10) as http:
            body = {"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}
            token = http.post("/oauth2/tokenP", json=body).json()["access_token"]
            auth = {"authorization": f"Bearer {token}", "appkey": APPKEY, "appsecret": SECRET}
            r = http.get(
                "/uapi/domestic-stock/v1/trading/inquire-psbl-order",
                params={"CANO": "50123456", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_UNPR": "71000"},
                headers={**auth, "tr_id": "VTTC8908R"},
            )
            assert r.json()["output"]["ord_psbl_cash"] == "1234000"
            assert http.get("/__fakekis/accounts").json()["accounts"][0]["cash"] == 1_234_000
    finally:
        assert _stop(kis)[0] == 0
