"""Logging while `fakekis record` holds real credentials: every log line scrubbed, chatty libraries quieted.

The recorder (serve/proxy.py) installs this for its lifetime and restores the process's logging after;
what a scrubber removes is `wire/scrub.py`'s, what must never be logged is docs/security.md's.
"""

from __future__ import annotations

import logging

from fakekis.wire.scrub import Scrubber

__all__ = ["QUIET", "QuietLogs", "ScrubLogs"]

# Libraries that log requests or responses at INFO/DEBUG (vcrpy logs each interaction before any
# filter of ours runs): held at WARNING while recording.
QUIET = ("vcr", "httpx", "httpcore", "websockets", "uvicorn", "h11", "hpack")


class ScrubLogs(logging.Filter):
    """On the root handlers while a recorder runs: whatever any logger emits passes the scrubber."""

    def __init__(self, scrub: Scrubber) -> None:
        super().__init__()
        self.scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.scrub(record.getMessage()), None
        if record.exc_info:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True


class QuietLogs:
    """`install()` holds the `QUIET` loggers at WARNING and scrubs the root handlers; `restore()` undoes it."""

    def __init__(self, scrub: Scrubber) -> None:
        self.filter = ScrubLogs(scrub)
        self._levels: dict[str, int] = {}

    def install(self) -> None:
        for name in QUIET:
            logger = logging.getLogger(name)
            if logger.getEffectiveLevel() < logging.WARNING:
                self._levels[name] = logger.level
                logger.setLevel(logging.WARNING)
        for handler in logging.getLogger().handlers:
            handler.addFilter(self.filter)

    def restore(self) -> None:
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        self._levels.clear()
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self.filter)
