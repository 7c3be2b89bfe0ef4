"""Every bad GATEWAY_*/KIS_* value and CLI flag stops `kis-gateway` with exit 2 and ONE line on stderr
that names the variable or flag, never a traceback and never the secret itself (issue #12).

Runs the real entry point (`gateway.cli.main`) in-process; tests/e2e/test_cli_pipes.py runs processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import APPKEY, SECRET, plain_id
from gateway.cli import main

GOOD_ENV = {
    "KIS_ENV": "mock",
    "KIS_APP_KEY": APPKEY,
    "KIS_APP_SECRET": SECRET,
    "KIS_REST_URL": "http://127.0.0.1:9",
    "KIS_WS_URL": "ws://127.0.0.1:9",
    "KIS_SYMBOLS": "005930",
}
ACCOUNT_CANARY = "CANARY-ACCT-77"

BAD_ENV: list[tuple[str, str]] = [
    ("GATEWAY_WS_IDLE_TIMEOUT", "nan"),
    ("GATEWAY_WS_IDLE_TIMEOUT", "0"),
    ("GATEWAY_WS_IDLE_TIMEOUT", "-5"),
    ("GATEWAY_WS_IDLE_TIMEOUT", "inf"),
    ("GATEWAY_WS_IDLE_TIMEOUT", "1e309"),
    ("GATEWAY_WS_IDLE_TIMEOUT", "ten"),
    ("GATEWAY_ACK_TIMEOUT", "NaN"),
    ("GATEWAY_ACK_TIMEOUT", "1e6"),
    ("GATEWAY_FRESHNESS_MS", "-1"),
    ("GATEWAY_FRESHNESS_MS", "Infinity"),
    ("GATEWAY_REST_RPS", "nan"),
    ("GATEWAY_REST_RPS", "0"),
    ("GATEWAY_REST_RPS", "1e9"),
    ("GATEWAY_CLOCK_START", "2026-11-25T09:00:00"),
    ("GATEWAY_CLOCK_START", "0001-01-01T00:00:00+09:00"),
    ("GATEWAY_CLOCK_START", "yesterday"),
    ("GATEWAY_CLOCK_URL", "ftp://127.0.0.1/clock"),
    ("GATEWAY_CLOCK_URL", "http://127.0.0.1:99999/__fakekis/clock"),
    ("GATEWAY_SESSION_HOURS", "25:00-26:00"),
    ("GATEWAY_SESSION_HOURS", "15:30-09:00"),
    ("GATEWAY_SESSION_HOURS", "nine to five"),
    ("KIS_REST_URL", "http://127.0.0.1:70000"),
    ("KIS_REST_URL", "http://127.0.0.1:0"),
    ("KIS_REST_URL", "127.0.0.1:8080"),
    ("KIS_REST_URL", "http://"),
    ("KIS_REST_URL", "http://[::1"),
    ("KIS_WS_URL", "http://127.0.0.1:9"),
    ("KIS_WS_URL", "ws://127.0.0.1:port"),
    ("KIS_ENV", "prod"),
    ("KIS_VENUE", "nasdaq"),
    ("KIS_VENUE", "unified"),  # GOOD_ENV is mock, which serves no NXT/unified TR
    ("KIS_APP_KEY", ""),
    ("KIS_APP_KEY", "has a space " + ACCOUNT_CANARY),
    ("KIS_APP_KEY", "키" + ACCOUNT_CANARY),
    ("KIS_APP_SECRET", " "),
    ("KIS_SYMBOLS", "٠٠٥٩٣٠"),
    ("KIS_SYMBOLS", "12345"),
    ("KIS_SYMBOLS", ","),
    ("KIS_SYMBOLS", ",".join(f"{i:06d}" for i in range(42))),
    ("KIS_ACCOUNT_NO", ACCOUNT_CANARY),
    ("KIS_CANO", ACCOUNT_CANARY),
]
COMMANDS = [["serve", "--port", "0"], ["diagnose", "--seconds", "1"], ["compare", "--seconds", "1"]]


def accepted(level: int) -> None:
    raise AssertionError("the bad value was accepted: the command went on to start")


def run_cli(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch | None = None
) -> tuple[int, str]:
    """`main(argv)`; with `monkeypatch`, a command that gets past its checks fails at once instead of
    serving (every command sets up logging right after validating)."""
    if monkeypatch is not None:
        monkeypatch.setattr("gateway.cli._logs", accepted)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse exits; the console script does the same
        code = e.code if isinstance(e.code, int) else 1
    return code, capsys.readouterr().err


def assert_one_line(code: int, err: str, name: str, secret: str | None = None) -> None:
    lines = err.splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1, err
    assert name in lines[0], (name, err)
    assert "Traceback" not in err
    if secret:
        assert secret not in err, err


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("name,value", BAD_ENV, ids=[plain_id(f"{n}={v[:20]}") for n, v in BAD_ENV])
def test_bad_environment_value_is_one_line(
    name: str,
    value: str,
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    env = {**GOOD_ENV, "GATEWAY_TOKEN_DIR": str(tmp_path / "tokens"), name: value}
    if name == "KIS_CANO":
        env["KIS_ACNT_PRDT_CD_KR"] = "01"
    for k in list(os.environ):
        if k.startswith(("KIS_", "GATEWAY_")):
            monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    code, err = run_cli(
        [*command, *(["--out", str(tmp_path / "ev")] if command[0] == "compare" else [])], capsys, monkeypatch
    )
    assert_one_line(code, err, name, ACCOUNT_CANARY)


BAD_FLAGS: list[tuple[list[str], str]] = [
    (["serve", "--port", "70000"], "--port"),
    (["serve", "--port", "-1"], "--port"),
    (["serve", "--port", "http"], "--port"),
    (["serve", "--host", "a" * 300], "--host"),
    (["diagnose", "--seconds", "nan"], "--seconds"),
    (["diagnose", "--seconds", "-1"], "--seconds"),
    (["compare", "--seconds", "inf"], "--seconds"),
    (["compare", "--mock-rest-url", "ftp://x"], "--mock-rest-url"),
    (["compare", "--live-ws-url", "ws://h:99999"], "--live-ws-url"),
    (["decode", "--tr-id", "H0STCNI0", "--key", "short", "--iv", "x"], "--key"),
    (["decode", "--key", "k" * 32], "--key"),
    (["decode", "--bogus"], "--bogus"),
    (["nonsense"], "nonsense"),
]


@pytest.mark.parametrize("argv,flag", BAD_FLAGS, ids=[plain_id(" ".join(a)[:40]) for a, _ in BAD_FLAGS])
def test_bad_flag_is_one_line(
    argv: list[str],
    flag: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    for k, v in {**GOOD_ENV, "GATEWAY_TOKEN_DIR": str(tmp_path / "tokens")}.items():
        monkeypatch.setenv(k, v)
    code, err = run_cli(argv, capsys)
    assert_one_line(code, err, flag)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_unwritable_token_folder_is_one_line(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for k, v in {**GOOD_ENV, "GATEWAY_TOKEN_DIR": str(blocker / "tokens")}.items():
        monkeypatch.setenv(k, v)
    code, err = run_cli(
        [*command, *(["--out", str(tmp_path / "ev")] if command[0] == "compare" else [])], capsys, monkeypatch
    )
    assert_one_line(code, err, "GATEWAY_TOKEN_DIR")


def test_unwritable_compare_output_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for k, v in {**GOOD_ENV, "GATEWAY_TOKEN_DIR": str(tmp_path / "tokens")}.items():
        monkeypatch.setenv(k, v)
    code, err = run_cli(
        ["compare", "--seconds", "1", "--out", str(blocker / "evidence")], capsys, monkeypatch
    )
    assert_one_line(code, err, "--out")
