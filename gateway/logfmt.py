"""Log output as text (the default) or as JSON lines with timestamp and level (`GATEWAY_LOG_FORMAT=json` or
`kis-gateway serve --log-format json`), for log shippers. python-json-logger makes the lines; the messages
are the same ones the text format prints, already redacted by `gateway.redact`."""

from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

FORMATS = ("text", "json")


def formatter(fmt: str, text: str = "%(message)s") -> logging.Formatter:
    """`{"timestamp": "2026-11-25T01:00:00.123+00:00", "level": "INFO", "logger": "gateway.stage",
    "message": "..."}` per line for json (UTC, ISO 8601); `text` as given otherwise."""
    if fmt == "json":
        return JsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
            json_ensure_ascii=False,
        )
    return logging.Formatter(text)
