"""`fakekis record` when things go wrong: an unreachable upstream is named, with how it failed, in one
line, before anything is written (so the retry is not blocked by a half-made folder); an upstream that
fails during the recording is logged once per kind and makes the recording incomplete; an empty
recording is not complete; `validate` warns on both (exit 1); `generate --minutes 0` is refused before
anything is written."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from conftest import kst, trade, write_recording
from fakekis import tape
from fakekis.serve.proxy import Recorder
from fakekis.serve.server import FakeKis
from fakekis.wire import frames

WED = kst(2026, 11, 25, 10, 0)


def _fakekis(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fakekis", *args], capture_output=True, text=True, timeout=timeout
    )


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_upstream_is_one_line_and_leaves_no_folder(tmp_path: Path) -> None:
    port = _closed_port()
    out = tmp_path / "r"
    proc = _fakekis(
        "record", str(out), "--duration", "5",
        "--rest-upstream", f"http://127.0.0.1:{port}", "--ws-upstream", f"ws://127.0.0.1:{port}",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr and proc.stdout == ""
    assert (
        f"--rest-upstream http://127.0.0.1:{port}: cannot connect to 127.0.0.1:{port} (Connection refused)"
        in lines[0]
    )
    assert f"--ws-upstream ws://127.0.0.1:{port}" in lines[0] and "nothing was written" in lines[0]
    assert not out.exists()  # the retry with a good upstream is not blocked


def test_an_empty_recording_is_not_complete_and_validate_warns(tmp_path: Path) -> None:
    upstream = subprocess.Popen(
        [sys.executable, "-m", "fakekis", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert upstream.stdout is not None
        ready = json.loads(upstream.stdout.readline())
        proc = _fakekis(
            "record", str(tmp_path / "r"), "--duration", "1.2", "--progress",
            "--rest-upstream", ready["rest_url"], "--ws-upstream", ready["ws_url"],
        )  # fmt: skip
    finally:
        upstream.terminate()
        upstream.communicate(timeout=20)
    assert proc.returncode == 1, proc.stderr
    progress = [line for line in proc.stderr.splitlines() if line.startswith("recording")]
    assert len(progress) >= 2 and all("msgs" in line and "/s" in line for line in progress)
    assert "is not complete: nothing was recorded" in proc.stderr.splitlines()[-1]
    session = json.loads((tmp_path / "r" / "session.json").read_text())
    assert (
        session["recorder"]["complete"] is False
        and "nothing was recorded" in session["recorder"]["problems"][0]
    )
    assert tape.load(tmp_path / "r").lines == []  # still a loadable recording
    check = _fakekis("validate", str(tmp_path / "r"))
    assert check.returncode == 1 and json.loads(check.stdout)["ws_lines"] == 0
    warnings = check.stderr.strip().splitlines()
    assert any("recorder.complete is not true (nothing was recorded" in w for w in warnings), warnings
    assert any("nothing to replay" in w for w in warnings) and "Traceback" not in check.stderr
    again = _fakekis("record", str(tmp_path / "r"), "--duration", "0.1")  # a recording is never overwritten
    assert again.returncode == 2 and "not empty" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.anyio
async def test_an_upstream_failing_mid_recording_is_logged_once_and_marks_it_incomplete(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tape.load(
        write_recording(
            tmp_path / "source",
            WED,
            [(0.2, frames.data_frame("H0STCNT0", [trade("005930", "100000", 71_000, 71_000, 5)]))],
        )
    )
    kis = FakeKis(source, speed=None)
    await kis.start()
    upstream = kis.urls["mock"]
    rec = Recorder(tmp_path / "rec", rest_upstream=upstream["rest_url"], ws_upstream=upstream["ws_url"])
    await rec.start()
    try:
        async with httpx.AsyncClient(base_url=rec.rest_url) as http:
            body = {"grant_type": "client_credentials", "appkey": "PSx" + "k" * 33, "appsecret": "s" * 40}
            assert (await http.post("/oauth2/tokenP", json=body)).status_code == 200
            await kis.stop()  # the upstream goes away mid-recording
            for _ in range(3):
                answer = await http.post("/oauth2/tokenP", json=body)
                assert answer.status_code == 502 and answer.json()["msg_cd"] == "FAKEKIS-UPSTREAM"
    finally:
        await rec.stop()
    failures = [r.getMessage() for r in caplog.records if "upstream REST" in r.getMessage()]
    assert len(failures) == 1 and f"upstream REST {upstream['rest_url']} failed: ConnectError" in failures[0]
    recorder = json.loads((tmp_path / "rec" / "session.json").read_text())["recorder"]
    assert recorder["complete"] is False and recorder["problems"] == [
        "the upstream failed: REST ConnectError x3"
    ]


def test_generate_minutes_0_writes_nothing(tmp_path: Path) -> None:
    proc = _fakekis("generate", str(tmp_path / "g"), "--minutes", "0")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "--minutes" in proc.stderr
    assert not (tmp_path / "g").exists() and not list(tmp_path.iterdir())
