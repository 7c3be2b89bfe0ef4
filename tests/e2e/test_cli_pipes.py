"""`kis-gateway` as a process at the edges of its pipes (issue #12): a reader that closes early
(`kis-gateway decode | head -1`), bytes that are not UTF-8, text that is not printable, and a bad
variable through the console entry point. Never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import APPKEY, SECRET, real_frames

GATEWAY = [sys.executable, "-m", "gateway"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "GATEWAY_"))}
    return {**env, "KIS_APP_KEY": APPKEY, "KIS_APP_SECRET": SECRET, **extra}


def test_decode_into_a_reader_that_stops_after_one_line_exits_quietly(tmp_path: Path) -> None:
    frame = next(f["text"] for f in real_frames() if f["kind"] == "ws data frame")
    src = tmp_path / "frames.txt"
    # Far more output than a pipe buffer holds, so the writer must meet the closed pipe.
    src.write_text((frame + "\n") * 20_000, encoding="utf-8")
    with src.open("rb") as stdin:
        proc = subprocess.Popen(
            GATEWAY + ["decode"], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()
        )
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # what `head -1` does
        try:
            err = proc.stderr.read()
            code = proc.wait(timeout=60)
        finally:
            proc.kill()
            proc.stderr.close()  # an unclosed pipe is a ResourceWarning, and warnings are errors here
    assert first.startswith(b'{"type": "record"')
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode(errors="replace")
    assert err == b"" and code == 0, (code, err)


def test_decode_survives_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    data = (
        b'\xff\xfe0|H0STCNT0|001|\x80\n{"header":{"tr_id":"PINGPONG","datetime":"\\ud800"}}\n\xed\xa0\x80\n'
    )
    proc = subprocess.run(GATEWAY + ["decode"], input=data, capture_output=True, timeout=60, env=_env())
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    assert len(proc.stdout.splitlines()) == 3


def test_bad_variable_through_the_console_entry_is_one_line() -> None:
    proc = subprocess.run(
        GATEWAY + ["serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(GATEWAY_WS_IDLE_TIMEOUT="nan"),
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "GATEWAY_WS_IDLE_TIMEOUT" in proc.stderr, proc.stderr
    assert proc.stdout == ""
