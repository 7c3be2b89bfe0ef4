"""Log output as text (the default) or as JSON lines with timestamp and level (`fakekis --log-format json
COMMAND`), for log shippers. python-json-logger makes the lines. A deliberate twin of gateway/logfmt.py:
fakekis and the gateway never import each other (docs/architecture.md)."""

from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

FORMATS = ("text", "json")


def formatter(fmt: str, text: str = "%(message)s") -> logging.Formatter:
    """`{"timestamp": "...+00:00", "level": "INFO", "logger": "fakekis", "message": "..."}` per line for json
    (UTC, ISO 8601); `text` as given otherwise."""
    if fmt == "json":
        return JsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
            json_ensure_ascii=False,
        )
    return logging.Formatter(text)
