"""The validators every `fakekis` command shares (argparse `type=`), and the one-line error parser.

Each turns a flag's text into a checked value or raises `ArgumentTypeError` with the allowed values, so a
bad flag is one line on stderr and exit code 2, before any command starts.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from fakekis import tape
from kisclock import parse_instant

MAX_SPEED = 1_000_000.0
MIN_SPEED = 0.001
MAX_SYMBOLS = 100


class _Parser(argparse.ArgumentParser):
    """argparse prints the usage block before an error; we print the error alone, on one line."""

    def error(self, message: str) -> NoReturn:
        # `--ping-interval -inf` reads as an option, not a value: say what the flag takes (and the `=` form).
        flag = re.fullmatch(r"argument (\S+?)(?:/\S+)?: expected one argument", message)
        if flag:
            action = next((a for a in self._actions if flag[1] in a.option_strings), None)
            if action is not None and action.help:
                message += f" ({action.help}; write {flag[1]}=VALUE for a value that starts with -)"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# -- validators shared by every command (argparse `type=`) ------------------------------------------


def port(text: str) -> int:
    """A TCP port: an integer from 0 to 65535, 0 meaning a free port chosen by the system."""
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port: give an integer from 0 to 65535 (0: a free port)"
        )
    return int(text)


def positive(maximum: float, unit: str) -> Callable[[str], float]:
    """A number > 0, finite, at most `maximum` (so nothing downstream sleeps forever or overflows)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not 0 < value <= maximum:  # False for NaN
            raise argparse.ArgumentTypeError(
                f"{text!r} is not allowed: give a number of {unit} greater than 0 and at most {maximum:g}"
            )
        return value

    return parse


def non_negative(maximum: float, unit: str) -> Callable[[str], float]:
    """A number >= 0, finite, at most `maximum` (0 usually meaning "never")."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not 0 <= value <= maximum:  # False for NaN
            raise argparse.ArgumentTypeError(
                f"{text!r} is not allowed: give a number of {unit} from 0 (never) to {maximum:g}"
            )
        return value

    return parse


def speed(text: str) -> float | None:
    """Replay speed: `asap` (None) or a factor from MIN_SPEED to MAX_SPEED."""
    if text == "asap":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number or 'asap': give a factor from {MIN_SPEED:g} to {MAX_SPEED:.0f} "
            "(1 = recorded pace) or asap"
        ) from None
    if not MIN_SPEED <= value <= MAX_SPEED:  # False for NaN
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed: give a factor from {MIN_SPEED:g} to {MAX_SPEED:.0f} "
            "(1 = recorded pace) or asap"
        )
    return value


def instant(text: str) -> datetime:
    """An ISO-8601 instant with a UTC offset, between 1990 and 2099 (where recordings live)."""
    try:
        parse_instant(text)  # names the value and demands an offset
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    when = datetime.fromisoformat(text.strip())
    lo, hi = tape.START_RANGE
    if not lo <= when.timestamp() < hi:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: give an instant between 1990 and 2099")
    return when


def out_dir(replace_recording: bool) -> Callable[[str], Path]:
    """A folder to write a recording into: new (parents are created), empty, or (for `generate`) an
    existing recording to replace; never a file, never someone's non-empty folder, and somewhere we may
    write."""

    def parse(text: str) -> Path:
        path = Path(text)
        allowed = "a new or empty folder" + (" or an existing recording" if replace_recording else "")
        if path.exists() and not path.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is a file: give {allowed}")
        if path.is_dir():
            try:
                empty = not any(path.iterdir())
            except OSError as e:
                raise argparse.ArgumentTypeError(
                    f"{text!r} cannot be read ({e.strerror}): give {allowed}"
                ) from None
            if not empty and not (replace_recording and (path / "session.json").is_file()):
                raise argparse.ArgumentTypeError(f"{text!r} is a folder that is not empty: give {allowed}")
        parent = path.absolute().parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is inside a file ({parent}): give {allowed}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(
                f"{text!r}: {parent} is not writable: give {allowed} somewhere writable"
            )
        return path

    return parse


def recording(text: str) -> Path:
    """A recording folder, or the name of a bundled recording."""
    path = Path(text)
    if not path.is_dir() and (tape.bundled(text) / "session.json").is_file():
        path = tape.bundled(text)  # a bundled recording by name
    if not path.is_dir():
        names = ", ".join(_bundled_names()) or "none"
        what = "it is a file" if path.exists() else "no such folder"
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a recording folder ({what}): give a folder with session.json and ws.jsonl, "
            f"or a bundled name ({names})"
        )
    return path


def symbols(text: str) -> tuple[str, ...]:
    """A comma list of 6-digit KRX codes, each once."""
    codes = tuple(s.strip() for s in text.split(",") if s.strip())
    allowed = f"a comma list of 1 to {MAX_SYMBOLS} distinct 6-digit codes, e.g. 005930,000660"
    if not codes or len(codes) > MAX_SYMBOLS:
        raise argparse.ArgumentTypeError(f"{len(codes)} codes: give {allowed}")
    for code in codes:
        if not (len(code) == 6 and code.isascii() and code.isdigit()):
            raise argparse.ArgumentTypeError(f"{code!r} is not a 6-digit code: give {allowed}")
    if len(set(codes)) != len(codes):
        twice = next(c for c in codes if codes.count(c) > 1)
        raise argparse.ArgumentTypeError(f"{twice!r} appears twice: give {allowed}")
    return codes


def venue_list(text: str) -> tuple[str, ...]:
    """`krx,nxt,unified` or `all` (tape/market_day.py)."""
    from fakekis.tape.market_day import parse_venues

    try:
        return parse_venues(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer: give a whole number, e.g. 7") from None


MAX_START_CASH = 10**13  # KRW: ten trillion, far above any real deposit, far below overflow anywhere


def won(text: str) -> int:
    """A deposit in KRW: a whole number from 0 to MAX_START_CASH; `_` and `,` may group digits."""
    digits = text.replace("_", "").replace(",", "")
    if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_START_CASH:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed: give whole won from 0 to {MAX_START_CASH:,}, e.g. 10000000 or 10,000,000"
        )
    return int(digits)


def hts_id(text: str) -> str:
    """An HTS ID: 1 to 16 printable ASCII characters without spaces (it is a tr_key, sent as is)."""
    if not 1 <= len(text) <= 16 or not text.isascii() or not text.isprintable() or " " in text:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed: give an HTS ID of 1 to 16 printable ASCII characters, no spaces"
        )
    return text


def url(*schemes: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        scheme, sep, rest = text.partition("://")
        if not sep or scheme not in schemes or not rest.strip("/"):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a URL: give {' or '.join(s + '://HOST[:PORT]' for s in schemes)}"
            )
        return text

    return parse


def _bundled_names() -> list[str]:
    root = tape.bundled().parent
    try:
        return sorted(p.name for p in root.iterdir() if (p / "session.json").is_file())
    except OSError:
        return []


def _say(command: str, message: str) -> None:
    print(f"fakekis {command}: error: {message}", file=sys.stderr)
