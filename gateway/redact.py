"""Secrets never reach logs, metrics or errors: every outgoing string passes through `Redactor`.

Masking happens on the final text, so a secret embedded anywhere (a URL, an exception message,
a JSON body echoed by the server) is caught, not only the fields we thought of.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable


class Redactor:
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        # Very short values would mask innocent text; real KIS secrets are 8+ chars.
        if secret and len(secret) >= 6 and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, f"***{len(s)}***")
        return text


class StageLog:
    """Structured stage events (`ws_worker_start`, `ws_connect`, `ws_subscribe`, `ws_first_message`, ...)
    as one JSON object per line, masked."""

    def __init__(self, redact: Redactor, logger: logging.Logger | None = None) -> None:
        self.redact = redact
        self.logger = logger or logging.getLogger("gateway.stage")
        self.lines: list[str] = []  # recent lines, for `diagnose` and tests
        self.keep = 500

    def event(self, name: str, level: int = logging.INFO, **fields: object) -> str:
        line = self.redact(json.dumps({"event": name, **fields}, ensure_ascii=False, default=str))
        self.lines.append(line)
        if len(self.lines) > self.keep:
            del self.lines[: len(self.lines) - self.keep]
        self.logger.log(level, line)
        return line
