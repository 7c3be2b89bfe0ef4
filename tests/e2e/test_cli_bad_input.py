"""Issue #12, "nothing crashes on bad input": every bad value of every `fakekis` flag is ONE line on stderr
naming the flag and the allowed values, exit code 2, no traceback, no hang.

The table runs through `main()` in-process (fast: ~90 cases); a command that would start a server or a
replay instead fails the case at once (a bad value that slipped through would otherwise hang). A
representative subset runs again as real processes with a timeout, which also catches what only a
process shows: tracebacks printed at interpreter exit, a closed stdout pipe, a port already taken.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from conftest import kst, plain_id, trade, write_recording
from fakekis import cli, tape
from fakekis.tape import format as tape_format
from fakekis.wire import frames

PY = sys.executable
PORT = "0 to 65535"
SPEED = "0.001 to 1000000"
INSTANT = "+09:00"

# (argv, the flag the line must name, a phrase giving the allowed values). Placeholders in argv:
# {tmp} a fresh folder, {file} a plain file, {full} a non-empty folder that is not a recording.
CASES: list[tuple[list[str], str, str]] = [
    ([], "COMMAND", "required"),
    (["bogus"], "COMMAND", "choose from"),
    *[
        (["serve", flag, value], flag, PORT)
        for flag in ("--rest-port", "--ws-port")
        for value in ("-1", "65536", "x", "1.5", "", "٣")
    ],
    *[
        (["serve", "--ping-interval", v], "--ping-interval", "greater than 0 and at most 3600")
        for v in ("0", "-1", "nan", "inf", "-inf", "x", "1e9")
    ],
    *[
        (["serve", "--speed", v], "--speed", SPEED)
        for v in ("0", "-1", "nan", "inf", "fast", "1e-300", "1e9")
    ],
    (["serve", "--clock", "manual", "--clock-start", "2026-11-25T09:05:00"], "--clock-start", INSTANT),
    (["serve", "--clock", "manual", "--clock-start", "yesterday"], "--clock-start", INSTANT),
    (["serve", "--clock", "manual", "--clock-start", "3000-01-01T00:00:00+09:00"], "--clock-start", "1990"),
    (["serve", "--clock-start", "2026-11-25T09:05:00+09:00"], "--clock-start", "--clock manual"),
    (["serve", "--clock", "sundial"], "--clock", "'wall', 'manual'"),
    (["serve", "--env", "both", "--rest-port", "5"], "--rest-port", "--env live or --env mock"),
    (["serve", "--env", "prod"], "--env", "'mock', 'live', 'both'"),
    (["serve", "--start-on", "later"], "--start-on", "'subscribe', 'ready'"),
    (["serve", "--seed", "x"], "--seed", "integer"),
    *[
        (["serve", "--start-cash", v], "--start-cash", "whole won from 0 to 10,000,000,000,000")
        for v in ("-1", "x", "1.5", "", "1e9", "10000000000001", "٣")
    ],
    *[
        (["serve", "--hts-id", v], "--hts-id", "1 to 16 printable ASCII")
        for v in ("", "two words", "a" * 17, "아이디")
    ],
    (["serve", "--recording", "/no/such/place"], "--recording", "bundled name"),
    (["serve", "--recording", "{file}"], "--recording", "bundled name"),
    *[(["demo", "--timeout", v], "--timeout", "greater than 0") for v in ("0", "-1", "nan", "inf")],
    (["demo", "--speed", "nan"], "--speed", SPEED),
    (["demo", "--recording", "/no/such/place"], "--recording", "bundled name"),
    *[
        (["generate", "{tmp}/g", "--minutes", v], "--minutes", "greater than 0 and at most 720")
        for v in ("0", "-5", "nan", "inf", "721", "x")
    ],
    (["generate", "{tmp}/g", "--venues", "krx,nasdaq"], "--venues", "krx, nxt, unified (or all)"),
    (["generate", "{tmp}/g", "--start", "2026-11-25T09:05"], "--start", INSTANT),
    (["generate", "{tmp}/g", "--start", "2026-13-25T09:05:00+09:00"], "--start", INSTANT),
    (["generate", "{tmp}/g", "--start", "1900-01-01T00:00:00+09:00"], "--start", "between 1990 and 2099"),
    *[
        (["generate", "{tmp}/g", "--symbols", v], "--symbols", "distinct 6-digit codes")
        for v in (",,,", "5930", "00593²", "005930,005930", ",".join(f"{i:06d}" for i in range(101)))
    ],
    (["generate", "{tmp}/g", "--seed", "1.5"], "--seed", "integer"),
    (["generate", "{tmp}/g", "--env", "prod"], "--env", "'mock', 'live'"),
    (["generate"], "OUT", "required"),
    (["generate", "{file}"], "OUT", "new or empty folder"),
    (["generate", "{file}/inside"], "OUT", "new or empty folder"),
    (["generate", "{full}"], "OUT", "new or empty folder or an existing recording"),
    (["record", "{file}"], "OUT", "new or empty folder"),
    (["record", "{full}"], "OUT", "not empty"),
    (["record", "{tmp}/r", "--rest-port", "65536"], "--rest-port", PORT),
    *[
        (["record", "{tmp}/r", "--duration", v], "--duration", "at most 604800")
        for v in ("0", "-1", "nan", "inf")
    ],
    (["record", "{tmp}/r", "--rest-upstream", "kis.example"], "--rest-upstream", "https://HOST"),
    (["record", "{tmp}/r", "--ws-upstream", "http://kis.example"], "--ws-upstream", "wss://HOST"),
    (["record", "{tmp}/r", "--env", "prod"], "--env", "'mock', 'live'"),
    *[
        ([command, where], "recording", "a folder with session.json and ws.jsonl")
        for command in ("inspect", "validate")
        for where in ("/no/such/place", "{file}")
    ],
    (["validate"], "recording", "required"),
    (["faults", "--json", "extra"], "unrecognized arguments", "extra"),
]


@pytest.fixture
def places(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "a-file").write_text("not a folder\n")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("someone's work\n")
    return {"tmp": str(tmp_path), "file": str(tmp_path / "a-file"), "full": str(tmp_path / "full")}


def _fill(argv: list[str], places: dict[str, str]) -> list[str]:
    return [a.format(**places) for a in argv]


def _main(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as e:  # argparse exits; the console script does the same
        return e.code if isinstance(e.code, int) else 1


def _no_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(coro: Coroutine[Any, Any, Any], **_: Any) -> None:
        coro.close()
        raise AssertionError("a bad value got through: the command started a server or a replay")

    monkeypatch.setattr(asyncio, "run", refuse)


@pytest.mark.parametrize(
    "argv, flag, allowed", CASES, ids=[plain_id(" ".join(c[0])[:60]) or "(none)" for c in CASES]
)
def test_every_bad_value_is_one_line_and_exit_2(
    argv: list[str],
    flag: str,
    allowed: str,
    places: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_event_loop(monkeypatch)
    before = sorted(Path(places["tmp"]).rglob("*"))
    code = _main(_fill(argv, places))
    out, err = capsys.readouterr()
    assert code == 2, (code, err)
    assert err.count("\n") == 1 and err.startswith("fakekis"), err
    assert flag in err and allowed in err, err
    assert "Traceback" not in err and out == ""
    assert sorted(Path(places["tmp"]).rglob("*")) == before  # nothing written, nothing removed


def test_out_in_a_read_only_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root writes anywhere, so the read-only case is staged through os.access, which the check asks."""
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path)
    for command in ("generate", "record"):
        assert _main([command, str(tmp_path / "new")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "OUT" in err and "not writable" in err, err
    assert list(tmp_path.iterdir()) == []


# -- generate leaves nothing behind -------------------------------------------------------------------


def test_failed_generate_leaves_nothing_and_a_retry_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "deep" / "er" / "gen"
    real = tape_format._write_files

    def disk_full(root: Path, *args: Any) -> None:
        real(root, *args)  # the files are there, then the last write fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tape_format, "_write_files", disk_full)
    assert _main(["generate", str(out), "--minutes", "0.2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no folder, no .partial, not even the parents it made

    monkeypatch.setattr(tape_format, "_write_files", real)
    assert _main(["generate", str(out), "--minutes", "0.2"]) == 0
    assert tape.load(out).synthetic is True
    assert sorted(p.name for p in out.parent.iterdir()) == ["gen"]


def test_generate_replaces_a_recording_but_never_other_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gen"
    assert _main(["generate", str(out), "--minutes", "0.2", "--seed", "1"]) == 0
    (out / "rest.yaml").write_text("# mine\ninteractions: []\n")
    first = (out / "ws.jsonl").read_text()
    assert _main(["generate", str(out), "--minutes", "0.2", "--seed", "2"]) == 0
    assert (out / "ws.jsonl").read_text() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen"]  # no .old or .partial left
    assert "# mine" not in (out / "rest.yaml").read_text()  # the folder was replaced, not written into
    capsys.readouterr()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me\n")
    with pytest.raises(FileExistsError):
        tape.write(mine, {}, [])
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_generate_minutes_at_the_edges(tmp_path: Path) -> None:
    """The shortest session with many symbols: the close event used to precede the subscriptions."""
    out = tmp_path / "tiny"
    codes = ",".join(f"{i:06d}" for i in range(1, 21))
    assert _main(["generate", str(out), "--minutes", "0.0001", "--symbols", codes]) == 0
    rec = tape.load(out)
    assert rec.lines[-1].event == "close" and rec.lines[-1].t >= rec.lines[-2].t


# -- validate and inspect: one line per problem -------------------------------------------------------


def _broken(tmp: Path) -> Path:
    root = write_recording(
        tmp / "rec",
        kst(2026, 11, 25, 9, 5),
        [
            (0.5 + i, frames.data_frame("H0STCNT0", [trade("005930", "090500", 71_100, 71_000, 10)]))
            for i in range(6)
        ],
    )
    lines = (root / "ws.jsonl").read_text().splitlines()
    lines[1] = lines[1].replace('"t": 1.5', '"t": NaN')
    lines[3] = lines[3].replace('"t": 3.5', '"t": Infinity')
    lines[5] = lines[5].replace('"dir"', '"direction"')
    (root / "ws.jsonl").write_text("\n".join(lines) + "\n")
    session = json.loads((root / "session.json").read_text())
    session["version"] = True
    (root / "session.json").write_text(json.dumps(session, indent=2))
    return root


@pytest.mark.parametrize("command", ["validate", "inspect"])
def test_validate_and_inspect_print_one_line_per_problem(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _broken(tmp_path)
    assert _main([command, str(root)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f'fakekis {command}: error: {root}/session.json:3: field "version" must be 1 (got True)',
        f'fakekis {command}: error: {root}/ws.jsonl:2: field "t" must be a number of seconds from 0 to 604800 '
        "(got nan)",
        f'fakekis {command}: error: {root}/ws.jsonl:4: field "t" must be a number of seconds from 0 to 604800 '
        "(got inf)",
        f'fakekis {command}: error: {root}/ws.jsonl:6: unknown field "direction" '
        "(known: t, dir, text, conn, event, code, reason)",
    ]


def test_a_superscript_count_does_not_crash_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'²'.isdigit() is True and int('²') raises: validate crashed on such a frame."""
    body = "^".join(trade("005930", "090500", 71_100, 71_000, 10))
    root = write_recording(tmp_path / "rec", kst(2026, 11, 25, 9, 5), [(0.5, f"0|H0STCNT0|²|{body}")])
    assert _main(["validate", str(root)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["data_frames"] == {"H0STCNT0": 1} and summary["malformed_frames"] == 1
    assert _main(["inspect", str(root)]) == 0
    assert json.loads(capsys.readouterr().out)["malformed_frames"] == 1


# -- the same promises, as real processes ------------------------------------------------------------

PROCESS_CASES = [
    (["serve", "--rest-port", "65536"], "--rest-port"),
    (["serve", "--ping-interval", "nan"], "--ping-interval"),
    (["serve", "--speed", "inf"], "--speed"),
    (["serve", "--clock", "manual", "--clock-start", "2026-11-25T09:05:00"], "--clock-start"),
    (["serve", "--scenario", "no-such-fault"], "--scenario"),
    (["demo", "--speed", "nan"], "--speed"),
    (["generate", "{tmp}/g", "--minutes", "nan"], "--minutes"),
    (["generate", "{file}"], "OUT"),
    (["record", "{file}", "--duration", "1"], "OUT"),
    (["validate", "/no/such/place"], "recording"),
]


def _process(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "fakekis", *argv], capture_output=True, text=True, timeout=60, **kw)


@pytest.mark.parametrize("argv, flag", PROCESS_CASES, ids=[plain_id(" ".join(c[0])) for c in PROCESS_CASES])
def test_bad_values_as_processes(argv: list[str], flag: str, places: dict[str, str]) -> None:
    proc = _process(_fill(argv, places))  # a hang is a TimeoutExpired
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr.count("\n") == 1 and flag in proc.stderr and "Traceback" not in proc.stderr


def test_a_taken_port_is_one_line_and_record_leaves_no_folder(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        serve = _process(["serve", "--rest-port", port])
        record = _process(["record", str(tmp_path / "r"), "--rest-port", port, "--duration", "1"])
    assert serve.returncode == 2 and serve.stderr.count("\n") == 1, serve.stderr
    # record's other stderr lines (vcrpy's INFO logging) are another change's business: count ours only
    errors = [line for line in record.stderr.splitlines() if line.startswith("fakekis record: error:")]
    assert record.returncode == 2 and len(errors) == 1, record.stderr
    for proc in (serve, record):
        assert "--rest-port" in proc.stderr and "Address already in use" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # the recorder's half-made folder does not block a retry


@pytest.mark.parametrize("command", ["inspect", "validate", "faults"])
def test_a_closed_stdout_pipe_is_quiet(command: str) -> None:
    """`fakekis inspect REC | head -1`: the reader is gone before we write. The read end is closed before
    the process starts, so the write fails every time (a real `head` may leave after the pipe's buffer
    took everything, which hides the bug)."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run(
            [PY, "-m", "fakekis", command, *([] if command == "faults" else [tape.DEFAULT_BUNDLED])],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            # buffered, as in a user's shell: the failed write then comes at the final flush
            env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        )
    finally:
        os.close(write)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_demo_on_a_recording_without_trades_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo polls for quotes of the H0STCNT0 symbols; with none it would wait out every stage."""
    _no_event_loop(monkeypatch)
    root = write_recording(tmp_path / "books", kst(2026, 11, 25, 9, 5), [], subs=[("H0STASP0", "005930")])
    assert _main(["demo", "--recording", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--recording" in err and "H0STCNT0" in err, err


def test_generate_into_the_current_directory(tmp_path: Path) -> None:
    """`fakekis generate .` in an empty folder, then again over the recording it made: '.' has no name to
    put a temporary folder beside (a traceback), and replacing it replaces the current directory."""
    here = tmp_path / "here"
    here.mkdir()
    for seed in ("1", "2"):
        proc = _process(["generate", ".", "--minutes", "0.1", "--seed", seed], cwd=here)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        assert json.loads((here / "session.json").read_text())["generator"]["seed"] == int(seed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here"]


def test_interrupted_generate_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tape_format, "_write_files", interrupted)
    assert _main(["generate", str(tmp_path / "a" / "gen"), "--minutes", "0.1"]) == 130
    assert capsys.readouterr().err == "fakekis: interrupted\n"
    assert list(tmp_path.iterdir()) == []
