"""Recordings: the on-disk format and its loader (`format`), the seeded generator (`synth`), and the
summaries `fakekis inspect` prints (`inspect`). Pure: files and text in, values out; no sockets, no clock.

`from fakekis import tape` gives the format's public names (`tape.load`, `tape.check`, `tape.bundled`, `tape.write`, ...).
"""

from fakekis.tape.format import (
    DEFAULT_BUNDLED,
    FORMAT,
    MAX_T,
    START_RANGE,
    VERSION,
    Recording,
    RecordingError,
    TapeFrame,
    WsLine,
    bundled,
    write,
)
from fakekis.tape.reader import MAX_PROBLEMS, check, load

__all__ = [
    "DEFAULT_BUNDLED",
    "FORMAT",
    "MAX_PROBLEMS",
    "MAX_T",
    "START_RANGE",
    "VERSION",
    "Recording",
    "RecordingError",
    "TapeFrame",
    "WsLine",
    "bundled",
    "check",
    "load",
    "write",
]
