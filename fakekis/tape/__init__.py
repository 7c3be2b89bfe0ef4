"""Recordings: the on-disk format and its loader (`format`), the seeded generator (`synth`), and the
summaries `fakekis inspect` prints (`inspect`). Pure: files and text in, values out; no sockets, no clock.

`from fakekis import tape` gives the format's public names (`tape.load`, `tape.open_tape`, `tape.check`,
`tape.bundled`, `tape.write`, ...). `stream` reads a tape of any length in constant memory, `compress` the
plain/zst/gz ws file, `index` the seek points.
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
from fakekis.tape.stream import Tape, Window

open_tape = Tape.open  # a recording streamed (any length), where `load` reads it all into a list

__all__ = [
    "DEFAULT_BUNDLED",
    "FORMAT",
    "MAX_PROBLEMS",
    "MAX_T",
    "START_RANGE",
    "VERSION",
    "Recording",
    "Tape",
    "Window",
    "RecordingError",
    "TapeFrame",
    "WsLine",
    "bundled",
    "check",
    "load",
    "open_tape",
    "write",
]
