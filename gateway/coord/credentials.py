"""`KIS_CREDENTIALS_FILE`: several appkeys for one gateway (docs/scaling.md). A JSON list of
`{"env": "mock"|"live", "appkey": "...", "appsecret": "..."}`, mode 0600.

Every problem is one line naming the file, the entry and the field, never the secret itself.
`parse` is pure; `load` adds the file's reading and its mode check.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
from dataclasses import dataclass
from pathlib import Path

_CREDENTIAL = re.compile(r"[!-~]{1,512}")  # as gateway.config: printable ASCII, no spaces


class CredentialsError(ValueError):
    pass


@dataclass(frozen=True)
class AppKey:
    env: str
    appkey: str
    appsecret: str

    @property
    def ident(self) -> str:
        """The 16-hex id used in keys, metrics and logs: the raw appkey never leaves the process."""
        return appkey_id(self.env, self.appkey)

    def __repr__(self) -> str:  # never show the secrets
        return f"AppKey(env={self.env!r}, id={self.ident})"


def appkey_id(env: str, appkey: str) -> str:
    return hashlib.sha256(f"{env}\0{appkey}".encode()).hexdigest()[:16]


def parse(text: str, name: str = "KIS_CREDENTIALS_FILE") -> tuple[AppKey, ...]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise CredentialsError(
            f"{name}: not JSON (allowed: a list of {{env, appkey, appsecret}} objects)"
        ) from None
    if not isinstance(data, list) or not data:
        raise CredentialsError(f"{name}: not a non-empty JSON list of {{env, appkey, appsecret}} objects")
    out: list[AppKey] = []
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(data):
        where = f"{name}: entry {i}"
        if not isinstance(entry, dict):
            raise CredentialsError(f"{where} is not an object (allowed: {{env, appkey, appsecret}})")
        extra = sorted(set(entry) - {"env", "appkey", "appsecret"})
        if extra:
            raise CredentialsError(
                f"{where}: unknown field {extra[0][:40]!r} (allowed: env, appkey, appsecret)"
            )
        env = entry.get("env")
        if env not in ("mock", "live"):
            shown = env[:20] if isinstance(env, str) else type(env).__name__
            raise CredentialsError(f"{where}: env={shown!r} (allowed: 'mock' or 'live')")
        for field_name in ("appkey", "appsecret"):
            value = entry.get(field_name)
            if not isinstance(value, str) or not _CREDENTIAL.fullmatch(value):
                size = len(value) if isinstance(value, str) else 0
                raise CredentialsError(
                    f"{where}: {field_name} is missing or invalid ({size} chars; allowed: 1-512 printable "
                    "ASCII characters, no spaces; value not shown)"
                )
        if (env, entry["appkey"]) in seen:
            raise CredentialsError(f"{where}: the same {env} appkey appears twice (value not shown)")
        seen.add((env, entry["appkey"]))
        out.append(AppKey(env, entry["appkey"], entry["appsecret"]))
    return tuple(out)


def load(path: Path, name: str = "KIS_CREDENTIALS_FILE") -> tuple[AppKey, ...]:
    label = f"{name}={str(path)[:120]!r}"
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise CredentialsError(f"{label} is not a regular file")
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise CredentialsError(
                f"{label} has mode {mode:04o}; allowed: 0600 or stricter (chmod 600 {str(path)[:120]})"
            )
        text = path.read_text(encoding="utf-8")
    except CredentialsError:
        raise
    except (OSError, ValueError) as e:
        raise CredentialsError(f"{label} cannot be read ({type(e).__name__})") from None
    return parse(text, label)
