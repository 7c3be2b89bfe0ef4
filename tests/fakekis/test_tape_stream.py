"""Streamed, compressed and indexed recordings (docs/recordings.md): a compressed tape reads as its plain
twin, a seek through the index gives what a linear scan gives, slice and merge keep every frame, and a
damaged tape or index is one error naming the file and where."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakekis import tape
from fakekis.exchange.market import MarketState
from fakekis.tape import compress, index, synth, synthday
from fakekis.tape.stream import Tape
from kisclock import KST

START = datetime(2026, 11, 25, 9, 5, tzinfo=KST)
KINDS = {"plain": "ws.jsonl", "zst": "ws.jsonl.zst", "gz": "ws.jsonl.gz"}
SMALL_BLOCKS = 64  # lines per plain block here, so a few minutes of tape has many seek points


@pytest.fixture(scope="module")
def tapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One synthetic session written plain, zst and gz, with small blocks (many seek points)."""
    session, lines = synth.generate(START, 6, seed=3)
    root = tmp_path_factory.mktemp("tapes")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(index, "PLAIN_BLOCK_LINES", SMALL_BLOCKS)
        mp.setattr("fakekis.tape.stream.PLAIN_BLOCK_LINES", SMALL_BLOCKS)
        out = {
            kind: tape.write(root / kind, session, lines, rest=[], ws_name=name)
            for kind, name in KINDS.items()
        }
    return out  # the patch ends with the writing: later tests see the real block size


@pytest.mark.parametrize("kind", ["plain", "zst", "gz"])
def test_compressed_reads_as_plain(tapes: dict[str, Path], kind: str) -> None:
    """Catches a codec that drops or splits lines at frame boundaries."""
    want = tape.load(tapes["plain"]).data_frames()
    got = Tape.open(tapes[kind])
    assert list(got.frames()) == want
    assert got.index is not None and len(got.index.blocks) > 5  # really many independent frames
    assert got.frame_count() == len(want)


@pytest.mark.parametrize("kind", ["plain", "zst", "gz"])
def test_index_written_equals_rebuilt(tapes: dict[str, Path], kind: str) -> None:
    """Catches a writer whose seek points or checkpoints differ from what `fakekis index` finds."""
    rec = Tape.open(tapes[kind])
    assert rec.index is not None
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("fakekis.tape.stream.PLAIN_BLOCK_LINES", SMALL_BLOCKS)
        assert rec.build_index().to_json() == rec.index.to_json()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["plain", "zst", "gz"]),
    start=st.floats(0, 400),
    length=st.floats(0, 400),
    syms=st.sampled_from([None, frozenset({"005930"}), frozenset({"000660", "035720"})]),
)
def test_seek_equals_linear_scan(
    tapes: dict[str, Path], kind: str, start: float, length: float, syms: frozenset[str] | None
) -> None:
    """Catches an off-by-one block choice: a seek that starts a block late loses the frames at `start`."""
    linear = tape.load(tapes["plain"]).data_frames()
    want = [f for f in linear if start <= f.t <= start + length and (syms is None or f.tr_key in syms)]
    assert list(Tape.open(tapes[kind]).frames(start, start + length, syms)) == want


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.floats(0, 380))
def test_warmup_gives_the_market_a_linear_fold_gives(tapes: dict[str, Path], start: float) -> None:
    """Catches a checkpoint taken at the wrong block: REST after --from would show a stale last trade."""
    linear, seeked = MarketState(), MarketState()
    rec = Tape.open(tapes["zst"])
    for f in rec.first_trades().values():  # primed before any frame, as the server does at start
        parts = f.text.split("|", 3)[3].split("^", 46)[:46]
        linear.prime(parts)
        seeked.prime(parts)
    for f in tape.load(tapes["plain"]).data_frames():
        if f.t < start:
            linear.apply(f.tr_id, f.text, f.records, f.tr_key)
    for f in rec.warmup(start):
        seeked.apply(f.tr_id, f.text, f.records, f.tr_key)
    for code in ("005930", "000660", "035720"):
        assert seeked.inquire_price(code) == linear.inquire_price(code)


def test_truncated_zst_names_file_and_byte(tapes: dict[str, Path], tmp_path: Path) -> None:
    """Catches a reader that stops quietly at a cut: a finished tape that ends early is an error."""
    cut = _copy(tapes["zst"], tmp_path / "cut")
    data = (cut / "ws.jsonl.zst").read_bytes()
    (cut / "ws.jsonl.zst").write_bytes(data[: len(data) - 100])
    (cut / "ws.index.json").unlink()
    with pytest.raises(
        tape.RecordingError, match=r"ws\.jsonl\.zst: byte \d+: the file ends inside a zst frame"
    ):
        list(Tape.open(cut).frames())


def test_unfinished_recording_ends_at_last_whole_frame(tapes: dict[str, Path], tmp_path: Path) -> None:
    """Catches losing a kill -9'd recording: one the recorder did not finish is valid up to the cut."""
    cut = _copy(tapes["zst"], tmp_path / "cut")
    session = json.loads((cut / "session.json").read_text())
    session["recorder"] = {"tool": "fakekis record", "complete": False}
    (cut / "session.json").write_text(json.dumps(session))
    data = (cut / "ws.jsonl.zst").read_bytes()
    rec0 = Tape.open(tapes["zst"])
    assert rec0.index is not None
    last_block = rec0.index.blocks[-1]
    (cut / "ws.jsonl.zst").write_bytes(data[: last_block[0] + 10])
    (cut / "ws.index.json").unlink()
    rec = Tape.open(cut)
    lines = list(rec.lines())
    assert lines[-1][0] == last_block[1] - 1  # every line before the damaged frame, none after
    assert rec.ended is not None and rec.ended.offset == last_block[0]


def test_corrupt_gz_names_the_frame(tapes: dict[str, Path], tmp_path: Path) -> None:
    cut = _copy(tapes["gz"], tmp_path / "bad")
    data = bytearray((cut / "ws.jsonl.gz").read_bytes())
    data[len(data) // 2 : len(data) // 2 + 50] = b"\x00" * 50
    (cut / "ws.jsonl.gz").write_bytes(bytes(data))
    (cut / "ws.index.json").unlink()
    with pytest.raises(tape.RecordingError, match=r"ws\.jsonl\.gz: byte \d+: corrupt gz data"):
        list(Tape.open(cut).frames())


def test_index_of_another_tape_is_refused(tapes: dict[str, Path], tmp_path: Path) -> None:
    """Catches seeking with stale offsets into an edited tape (frames from the wrong place)."""
    cut = _copy(tapes["plain"], tmp_path / "edited")
    with (cut / "ws.jsonl").open("a") as fh:
        fh.write('{"t":9999,"event":"close"}\n')
    with pytest.raises(tape.RecordingError, match=r"ws\.index\.json: does not match its tape"):
        Tape.open(cut)


def test_two_tape_files_are_refused(tapes: dict[str, Path], tmp_path: Path) -> None:
    both = _copy(tapes["plain"], tmp_path / "both")
    (both / "ws.jsonl.zst").write_bytes((tapes["zst"] / "ws.jsonl.zst").read_bytes())
    with pytest.raises(tape.RecordingError, match="keep one"):
        Tape.open(both)


def test_day_generator_streams_valid_records(tmp_path: Path) -> None:
    """Catches the streamed generator breaking the loader's checks or the time order."""
    session, lines = synthday.generate(START, 3, seed=5)
    assert not isinstance(lines, list)
    out = tape.write(tmp_path / "day", session, lines, rest=[], ws_name="ws.jsonl.zst")
    rec = Tape.open(out)
    got = list(rec.frames())
    assert len(got) > 500 and {f.tr_id for f in got} == {"H0STCNT0", "H0STASP0"}
    assert [f.t for f in got] == sorted(f.t for f in got)
    assert tape.load(out).data_frames() == got  # the list loader accepts every line
    # A book never shows more volume than the trades before it have made.
    vol: dict[str, int] = {}
    for f in got:
        fields = f.text.split("|", 3)[3].split("^")
        if f.tr_id == "H0STCNT0":
            width = len(fields) // f.records
            vol[f.tr_key] = int(fields[(f.records - 1) * width + 13])
        elif f.tr_key in vol:
            assert int(fields[53]) == vol[f.tr_key]


def test_writer_blocks_are_independent_frames(tmp_path: Path) -> None:
    """Each block decodes from its own offset: the property the index relies on."""
    session, lines = synth.generate(START, 3, seed=1)
    out = tape.write(tmp_path / "z", session, lines, rest=[], ws_name="ws.jsonl.zst")
    rec = Tape.open(out)
    assert rec.index is not None
    for offset, first, _, _ in rec.index.blocks:
        start, data = next(compress.chunks(rec.ws_path, offset))
        assert start == offset and data.startswith(b'{"t":')
        assert first >= 1


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


ODD_LINES = [
    '{"t":0,"event":"open"}',
    '{"t":0.5,"dir":"recv","text":"0|H0STCNT0|001|005930^090000^71000"}',
    '{"t":0.6,"dir":"recv","text":"0|H0STCNT0|001|\\u0030\\u0030\\u0035930^090001^71100"}',  # escapes
    '{"dir":"recv","t":0.7,"text":"0|H0STCNT0|001|005930^090002^71200"}',  # other key order
    '{"t":0.8,"dir":"recv","text":"0|H0STCNT0|002|000660^1^2^000660^3^4","conn":2}',
    '{"t":0.9,"dir":"recv","text":"0|H0STCNT0|²|005930^x"}',  # odd count: one record, as recorded
    '{"t":1.0,"dir":"recv","text":"0|broken"}',  # malformed: never routed
    '{"t":1.1,"dir":"send","text":"0|H0STCNT0|001|005930^no"}',  # sent by the client: not data
    '{"t":1.2e0,"dir":"recv","text":"0|H0STCNT0|001|035720"}',  # exponent: the full parse
]


@pytest.mark.parametrize("kind", ["plain", "zst"])
def test_unusual_lines_read_as_the_list_loader_reads_them(tmp_path: Path, kind: str) -> None:
    """Catches the regex fast path accepting, dropping or mis-splitting what the full parse would not."""
    root = tmp_path / "odd"
    root.mkdir()
    session = {"format": tape.FORMAT, "version": 1, "env": "mock", "start": "2026-11-25T09:05:00+09:00"}
    session |= {"subscriptions": [["H0STCNT0", "005930"]], "synthetic": True}
    (root / "session.json").write_text(json.dumps(session))
    body = ("\n".join(ODD_LINES) + "\n").encode()
    (root / KINDS[kind]).write_bytes(
        body if kind == "plain" else compress.zstandard.ZstdCompressor().compress(body)
    )
    assert list(Tape.open(root).frames()) == tape.load(root).data_frames()
    assert [ln for _, ln in Tape.open(root).lines()] == tape.load(root).lines  # conn kept, too
    assert [f.tr_key for f in Tape.open(root).frames()] == [
        "005930",
        "005930",
        "005930",
        "000660",
        "005930",
        "035720",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        '{"t":0.4,"dir":"recv","text":"0|H0STCNT0|001|005930^back"}',
        '{"t":0.9,"dir":"recv","text":"0|H0STCNT0|001|005930","extra":1}',
        '{"t":99999999,"dir":"recv","text":"0|H0STCNT0|001|005930"}',
        '{"t":0.9,"dir":"recv","text":"0|H0STCNT0|001|005930\t^tab"}',  # a raw control character
        '{"t":0.9,"dir":"recv","text":"0|H0STCNT0|001|005930","conn":01}',  # not a JSON number
        '{"t":00.9,"dir":"recv","text":"0|H0STCNT0|001|005930"}',
        '{"t":.9,"dir":"recv","text":"0|H0STCNT0|001|005930"}',
        '{"t":9.,"dir":"recv","text":"0|H0STCNT0|001|005930"}',
    ],
    ids=[
        "backwards",
        "unknown-field",
        "t-too-large",
        "control-char",
        "conn-leading-zero",
        "t-leading-zero",
        "t-leading-dot",
        "t-trailing-dot",
    ],
)
def test_a_bad_line_is_the_same_error_on_both_paths(tmp_path: Path, bad: str) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    session = {"format": tape.FORMAT, "version": 1, "env": "mock", "start": "2026-11-25T09:05:00+09:00"}
    session |= {"subscriptions": [], "synthetic": True}
    (root / "session.json").write_text(json.dumps(session))
    (root / "ws.jsonl").write_text("\n".join([*ODD_LINES[:2], bad, ODD_LINES[-1]]) + "\n")
    with pytest.raises(tape.RecordingError) as loaded:
        tape.load(root)
    with pytest.raises(tape.RecordingError) as streamed:
        list(Tape.open(root).frames())
    assert str(streamed.value).split(" (")[0] == str(loaded.value).split(" (")[0]
    assert ":3:" in str(streamed.value)


@pytest.mark.parametrize("kind", ["plain", "zst", "gz"])
def test_rotated_parts_read_as_one_tape(tmp_path: Path, kind: str) -> None:
    """Catches a seam that loses, repeats or splits a line, an index that cannot seek into a later
    part, and damage in a middle part taken for the end of an unfinished recording."""
    from fakekis.tape.sink import TapeSink

    session, lines = synth.generate(START, 4, seed=2)
    root = tmp_path / "rot"
    root.mkdir()
    (root / "session.json").write_text(json.dumps(session))
    sink = TapeSink(root / KINDS[kind], flush_every=0.0, rotate_bytes=60_000)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for ln in lines:
        sink.write(dumps(ln.to_json()), ln, 0.0)
    sink.close()
    assert len(sink.parts) > 3 and all(p.is_file() for p in sink.parts)
    want = [f for no, ln in enumerate(lines, 1) if (f := tape.format.as_frame(no, ln)) is not None]
    rec = Tape.open(root)
    assert rec.index is not None and rec.index.parts == len(sink.parts)
    assert list(rec.frames()) == want == tape.load(root).data_frames()
    assert rec.build_index().to_json() == rec.index.to_json()
    late = want[len(want) * 3 // 4].t
    block = rec.index.block_for(late)
    assert rec.index.blocks[block][3] > 0  # the seek lands in a later part
    assert list(rec.frames(late)) == [f for f in want if f.t >= late]
    if kind != "plain":  # a cut middle part is damage, even in an unfinished recording
        session["recorder"] = {"tool": "fakekis record", "complete": False}
        (root / "session.json").write_text(json.dumps(session))
        (root / "ws.index.json").unlink()
        data = sink.parts[1].read_bytes()
        sink.parts[1].write_bytes(data[:-20])
        with pytest.raises(
            tape.RecordingError, match=rf"{sink.parts[1].name}: byte \d+: the file ends inside"
        ):
            list(Tape.open(root).frames())


@pytest.fixture(scope="module")
def uneven(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One busy symbol and one that trades every minute or so: its last trade is many blocks back."""
    specs = (
        synth.SymbolSpec("005930", 71_000, 4.0, 5_919_637_922, 12_000_000),
        synth.SymbolSpec("000660", 177_000, 0.015, 728_002_365, 3_000_000),
    )
    session, lines = synth.generate(START, 8, specs, seed=4, books=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(index, "PLAIN_BLOCK_LINES", SMALL_BLOCKS)
        mp.setattr(index, "CHECKPOINT_EVERY", 4)
        return tape.write(
            tmp_path_factory.mktemp("uneven") / "t", session, lines, rest=[], ws_name="ws.jsonl.zst"
        )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.floats(1, 480))
def test_warmup_finds_a_quiet_symbols_last_trade_blocks_back(uneven: Path, start: float) -> None:
    """Catches the backward block walk keeping an earlier block's trade over a later one."""
    linear, seeked = MarketState(), MarketState()
    rec = Tape.open(uneven)
    for f in rec.frames():
        if f.t < start:
            linear.apply(f.tr_id, f.text, f.records, f.tr_key)
    for f in rec.first_trades().values():
        parts = f.text.split("|", 3)[3].split("^", 46)[:46]
        linear.prime(parts)
        seeked.prime(parts)
    for f in rec.warmup(start):
        seeked.apply(f.tr_id, f.text, f.records, f.tr_key)
    for code in ("005930", "000660"):
        assert seeked.inquire_price(code) == linear.inquire_price(code)
