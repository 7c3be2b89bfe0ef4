"""The recording proxy's output as a tape: compressed by the name asked for, nothing lost between the
relay and the file, and valid up to the last flushed frame when the process dies without closing it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from conftest import APPKEY, SECRET, kst, trade, write_recording
from fakekis import tape
from fakekis.serve.proxy import Recorder
from fakekis.serve.server import FakeKis
from fakekis.tape.stream import Tape
from fakekis.wire import frames
from gateway.session import subscribe_message

pytestmark = [pytest.mark.anyio, pytest.mark.ws]
WED = kst(2026, 11, 25, 10, 0)
N = 400


def _source(tmp: Path) -> tape.Recording:
    out = [
        (
            round(0.5 + i * 0.001, 3),
            frames.data_frame("H0STCNT0", [trade("005930", "100000", 71_000 + i, 71_000, 1_000 + i)]),
        )
        for i in range(N)
    ]
    return tape.load(write_recording(tmp / "source", WED, out))


async def _record(tmp: Path, name: str, stop: bool, rotate: int | None = None) -> tuple[Path, list[str]]:
    """Relay the source through a recorder writing `name`; with stop=False the recorder is abandoned
    without closing its file (what a kill -9 leaves), and a copy of its folder as it was is returned."""
    source = _source(tmp)
    seen: list[str] = []
    async with FakeKis(source, speed=None) as kis:
        up = kis.urls["mock"]
        rec = Recorder(
            tmp / "rec",
            rest_upstream=up["rest_url"],
            ws_upstream=up["ws_url"],
            ws_name=name,
            flush_every=0.05,
            rotate_bytes=rotate,
        )
        await rec.start()
        try:
            async with httpx.AsyncClient(base_url=rec.rest_url) as http:
                body = {"grant_type": "client_credentials", "appkey": APPKEY, "secretkey": SECRET}
                key = (await http.post("/oauth2/Approval", json=body)).json()["approval_key"]
            async with connect(rec.ws_url, ping_interval=None) as ws:
                await ws.send(subscribe_message(key, "H0STCNT0", "005930"))
                while len(seen) < N:
                    msg = await ws.recv()
                    if isinstance(msg, str) and msg.startswith("0|"):
                        seen.append(msg)
            if not stop:
                assert rec._ws_file is not None
                rec._ws_file.flush(rec.clock.now() + 1)  # what the flusher does every flush_every
                crashed = tmp / "crashed"
                shutil.copytree(tmp / "rec", crashed)  # the folder as the dead process left it
                return crashed, seen
        finally:
            await rec.stop()
    return tmp / "rec", seen


@pytest.mark.parametrize(
    ("name", "rotate"),
    [("ws.jsonl.zst", None), ("ws.jsonl.gz", None), ("ws.jsonl", 15_000)],
    ids=["zst", "gz", "plain-rotated"],
)
async def test_compressed_recording_loses_no_frame(tmp_path: Path, name: str, rotate: int | None) -> None:
    """Catches a recorder that drops a frame between relay and file (at a rotation seam too), or writes
    the wrong codec."""
    out, seen = await _record(tmp_path, name, stop=True, rotate=rotate)
    assert (out / name).is_file() and (name == "ws.jsonl" or not (out / "ws.jsonl").exists())
    if rotate:
        assert (out / "ws.2.jsonl").is_file() and (out / "ws.3.jsonl").is_file()
    rec = Tape.open(out)
    assert rec.index is not None and rec.index.frames == N
    assert [f.text for f in rec.frames()] == seen


async def test_killed_recording_is_valid_to_the_last_flush(tmp_path: Path) -> None:
    """Catches a recorder whose file is unreadable unless closed: after a kill -9 the flushed frames
    are all there, and the reader says where the tape ends instead of failing."""
    out, seen = await _record(tmp_path, "ws.jsonl.zst", stop=False)
    assert json.loads((out / "session.json").read_text())["recorder"]["complete"] is False
    assert not (out / "ws.index.json").exists()  # written only at a clean stop
    # A torn last frame, as a kill in the middle of a write leaves.
    with (out / "ws.jsonl.zst").open("ab") as fh:
        fh.write(b"\x28\xb5\x2f\xfd\x04\x58\x00")
    rec = Tape.open(out)
    got = [f.text for f in rec.frames()]
    assert got == seen
    assert rec.ended is not None and rec.ended.offset == (out / "ws.jsonl.zst").stat().st_size - 7
