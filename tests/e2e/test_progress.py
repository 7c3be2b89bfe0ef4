"""Progress on long work (fakekis/cli/progress.py): one updating line when stderr is a terminal, nothing
when it is not; the replay's end as an event in stats and in the log."""

from __future__ import annotations

import json
import logging
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets

from conftest import APPKEY, SECRET, eventually, kst, trade, write_recording
from fakekis import tape
from fakekis.serve.server import FakeKis
from fakekis.wire import frames
from gateway.session import subscribe_message

ENV = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}


def _read_pty(fd: int, until: str, timeout: float = 30.0) -> str:
    """What the terminal shows until `until` appears (bounded in real time)."""
    out, deadline = b"", time.monotonic() + timeout
    while until.encode() not in out:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {until!r} on the terminal within {timeout:g} s; saw {out[-400:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                out += os.read(fd, 4096)
            except OSError:  # the child closed its end
                break
    return out.decode("utf-8", "replace")


def test_generate_paints_a_line_on_a_terminal_and_nothing_in_a_pipe(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "fakekis", "generate", "--minutes", "3", "--seed", "1"]
    piped = subprocess.run([*args, str(tmp_path / "a")], capture_output=True, text=True, env=ENV, timeout=120)
    assert piped.returncode == 0 and piped.stderr.startswith("wrote ") and piped.stderr.count("\n") == 1
    assert "\x1b[" not in piped.stderr and "generating" not in piped.stderr
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [*args, str(tmp_path / "b")], stdout=subprocess.DEVNULL, stderr=slave, env=ENV
        )
        os.close(slave)
        shown = _read_pty(master, "wrote ")
        assert proc.wait(timeout=120) == 0
    finally:
        os.close(master)
    # drawn (one phase or the other, as fast as the machine is), then cleared, on the terminal
    assert ("generating 3 minutes" in shown or "writing " in shown) and "\x1b[" in shown


def test_serve_displays_the_replay_position_on_a_terminal() -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakekis", "serve", "--recording", "healthy-morning-synthetic"],
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
        env=ENV,
    )
    os.close(slave)
    try:
        assert proc.stdout is not None and json.loads(proc.stdout.readline())["rest_url"]
        assert "(4,386 frames)" in _read_pty(master, "replay waiting for the first subscription (")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
        os.close(master)
    assert proc.returncode == 0


@pytest.mark.anyio
@pytest.mark.ws
async def test_replay_finished_is_an_event_in_stats_and_the_log(tmp_path: Path, caplog) -> None:
    start = kst(2026, 11, 25, 10, 0)
    out = [
        (0.1 * i, frames.data_frame("H0STCNT0", [trade("005930", "100000", 71_000, 70_000, i + 1)]))
        for i in range(5)
    ]
    rec = tape.load(write_recording(tmp_path / "rec", start, out))
    caplog.set_level(logging.INFO, logger="fakekis")
    async with FakeKis(rec, speed=None) as kis:
        assert kis.stats("mock")["replay"]["finished_at"] is None
        async with httpx.AsyncClient(base_url=kis.urls["mock"]["rest_url"]) as http:
            key = (
                await http.post(
                    "/oauth2/Approval",
                    json={"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET},
                )
            ).json()["approval_key"]
        async with websockets.connect(kis.urls["mock"]["ws_url"], ping_interval=None) as ws:
            await ws.send(subscribe_message(key, "H0STCNT0", "005930"))
            await eventually(lambda: kis.stats("mock")["replay"]["finished_at"] is not None, what="the end")
        assert kis.replay_status() == "replay finished: 5 frames"
    assert any(r.getMessage().startswith("replay finished: 5 frames") for r in caplog.records)
