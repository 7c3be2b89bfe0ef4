"""The two zstd settings (tape/compress.py): tapes written at leisure (`tape.write`: generate, slice, merge)
use the smaller one, the recorder the faster one, and a tape written either way, or by plain zstd, reads
back line for line."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import zstandard

from fakekis import tape
from fakekis.tape import compress, synth
from fakekis.tape.stream import Tape
from kisclock import KST


def _body(lines: list[tape.WsLine]) -> list[bytes]:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    return [(dumps(ln.to_json()) + "\n").encode() for ln in lines]


def _frames(path: Path) -> list[bytes]:
    return [data for _, data in compress.chunks(path)]


def test_stored_is_smaller_and_both_read_back(tmp_path: Path) -> None:
    """Catches the offline writers losing the small setting, or a setting whose frames do not read back."""
    session, lines = synth.generate(datetime(2026, 11, 25, 9, 5, tzinfo=KST), 3, seed=5)
    raw = _body(list(lines))
    sizes = {}
    for stored in (False, True):
        buf = io.BytesIO()
        out = compress.BlockWriter(buf, "zst", block_lines=1024, stored=stored)
        for i, line in enumerate(raw):
            out.write(line, float(i))
        out.flush()
        sizes[stored] = len(buf.getvalue())
        path = tmp_path / f"{stored}.jsonl.zst"
        path.write_bytes(buf.getvalue())
        assert b"".join(_frames(path)) == b"".join(raw)
        assert len(out.blocks) > 1  # independent frames, each a seek point
    assert sizes[True] < 0.93 * sizes[False]
    rec = tape.write(
        tmp_path / "rec",
        session,
        synth.generate(datetime(2026, 11, 25, 9, 5, tzinfo=KST), 3, seed=5)[1],
        rest=[],
        ws_name="ws.jsonl.zst",
    )
    assert (rec / "ws.jsonl.zst").stat().st_size < 1.02 * sizes[True]  # tape.write takes the small one


def test_a_tape_compressed_by_plain_zstd_still_validates(tmp_path: Path) -> None:
    """Old files (one big frame, any level) still read: the setting is the writer's, never the reader's."""
    session, lines = synth.generate(datetime(2026, 11, 25, 9, 5, tzinfo=KST), 1, seed=2)
    src = tape.write(tmp_path / "src", session, lines, rest=[], ws_name="ws.jsonl")
    old = tmp_path / "old"
    old.mkdir()
    (old / "session.json").write_bytes((src / "session.json").read_bytes())
    (old / "ws.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor(level=3).compress((src / "ws.jsonl").read_bytes())
    )
    assert [ln for _, ln in Tape.open(old).lines()] == [ln for _, ln in Tape.open(src).lines()]
