"""The writers' data line recognised without a JSON parse: `fast_split` takes a ws.jsonl line as bytes
and gives its (t, text) when it is exactly `{"t":N,"dir":"recv","text":"0|..."}` (the shape
`format.WsLine.to_json` writes, with an optional `,"conn":N`), else None.

It is the player's fast path (`stream.Tape.frames`, `stream.Tape.lines`): a line it refuses takes the full
check (`reader._ws_line`), so it must never accept a line that check would refuse or read differently.
tests/fakekis/test_tape_stream.py feeds both paths the same odd and bad lines.

`FRAME_HEAD` is the same shape read from a decoded chunk's text (`stream.Tape.frames`): one `match` per
line gives t, tr_id, record count and key in C, and two `find`s check the rest of the text, so the
per-line Python work is only what the player needs (the caller checks the rest of the text: no quote,
no backslash, `isprintable`). With those checks it accepts a subset of what
`fast_split` accepts (no `conn`, two `|` in the text, a newline after the line) and reads the same t and
text; every line it does not take goes the per-line way. A finditer over the chunk was slower than a
match per line: the multi-line `^` defeats the regex engine's literal-prefix search.

Pure: bytes in, bytes out; no files, no clock.
"""

from __future__ import annotations

import re

# A plain JSON number, no escapes or control characters in the text. A few C-speed byte operations: a
# regex scanning the whole line was slower than json.loads.
_HEAD = b'{"t":'
_MID = b',"dir":"recv","text":"0|'
_CONN = b'","conn":'
_INT = re.compile(rb"0|[1-9][0-9]*")
_CONTROL = bytes(range(32))

# The head of a writer-shaped data line, matched at a line's start with the line's end as `endpos`:
# t, then the text from its "0|" through the key. Groups: t, text, tr_id, record count, key (up to the
# text's first `^`). No quote, backslash or control character in it; `stream.Tape.frames` checks the rest.
_C = r'[^"\\\x00-\x1f'
FRAME_HEAD = re.compile(
    r'\{"t":((?:0|[1-9][0-9]*)(?:\.[0-9]+)?),"dir":"recv","text":"'
    rf"(0\|({_C}|]*)\|({_C}|]*)\|({_C}^]*))"
)


def fast_split(raw: bytes) -> tuple[bytes, bytes] | None:
    """(t, text) of a line in the writers' exact shape, else None (the caller then parses it fully)."""
    if not raw.startswith(_HEAD) or b"\\" in raw:
        return None
    j = raw.find(_MID, 5)
    if j < 0:
        return None
    t = raw[5:j]  # a JSON number without sign or exponent: digits, at most one dot inside, no leading 0
    if (
        not t.replace(b".", b"", 1).isdigit()
        or t[-1:] == b"."
        or (t[:1] == b"0" and t[1:2] not in (b"", b"."))
    ):
        return None
    if t[:1] == b".":
        return None
    start = j + len(_MID) - 2  # the text starts at its "0|"
    if raw.endswith(b'"}'):
        end, quotes = len(raw) - 2, 10
    else:
        end = raw.rfind(_CONN, start)
        if end < 0 or not raw.endswith(b"}") or not _INT.fullmatch(raw, end + len(_CONN), len(raw) - 1):
            return None
        quotes = 12
    if raw.count(b'"') != quotes:  # so the text holds no quote of its own
        return None
    text = raw[start:end]
    if len(text.translate(None, _CONTROL)) != len(text):
        return None
    return t, text
