"""docs/cli.md lists every command and flag of both CLIs, and nothing they do not have: each command's
section has a table whose first column names the flags (`--flag ...`) and positionals (`OUT`), and says
its exit codes. A flag added to argparse without a line in docs/cli.md fails here, and so does a line
left behind for a flag that is gone."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

import gateway.cli
from fakekis.cli.parser import build as fakekis_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


class _Grabbed(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def _gateway_parser(monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    """kis-gateway builds its parser inside main(): take it at parse time."""

    def grab(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        raise _Grabbed(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", grab)
    with pytest.raises(_Grabbed) as got:
        gateway.cli.main([])
    return got.value.parser


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    out = set()
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.option_strings:
            out.add(max(action.option_strings, key=len))
        else:
            out.add(str(action.metavar or action.dest).upper())
    return out


def _in_code(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    commands = {}
    for prog, parser in (("fakekis", fakekis_parser()), ("kis-gateway", _gateway_parser(monkeypatch))):
        commands[prog] = _flags(parser)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        for name, subparser in sub.choices.items():
            commands[f"{prog} {name}"] = _flags(subparser)
    return commands


def _in_docs() -> tuple[dict[str, set[str]], dict[str, str]]:
    flags: dict[str, set[str]] = {}
    text: dict[str, str] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"#{2,3} `((?:fakekis|kis-gateway)(?: [a-z]+)?)`", line)
        if heading:
            current = heading[1]
            flags[current], text[current] = set(), ""
            continue
        if line.startswith("## "):
            current = None
        if current is None:
            continue
        text[current] += line + "\n"
        row = re.match(r"\| `([^` ]+)", line)
        if row:
            flags[current].add(row[1])
    return flags, text


def test_every_command_and_flag_is_in_docs_cli_md(monkeypatch: pytest.MonkeyPatch) -> None:
    code = _in_code(monkeypatch)
    docs, _ = _in_docs()
    assert sorted(docs) == sorted(code), "commands: docs/cli.md vs the parsers"
    for command, flags in code.items():
        assert docs[command] == flags, (
            f"{command}: in the code only {sorted(flags - docs[command])}, "
            f"in docs/cli.md only {sorted(docs[command] - flags)}"
        )


def test_every_command_says_its_exit_codes() -> None:
    _, text = _in_docs()
    for command, body in text.items():
        if " " in command:  # the program-level sections hold --version only
            assert "Exit code" in body, f"docs/cli.md: {command} does not say its exit codes"
