"""Secrets never written: every byte a recording keeps passes through a `Scrubber`.

The scrubber learns secret values as they go by (JSON fields, headers, query parameters, the HTS ID
used as the tr_key of fill-notice subscriptions) and replaces each everywhere with a stable pseudonym
of the same length, so a recording stays consistent (the same approval key is the same pseudonym on
every line) and replayable, and nothing real is left.
"""

from __future__ import annotations

import json
import re
from typing import Any

# JSON fields / headers / query parameters whose values are secrets, and the pseudonym kind for each.
SECRET_FIELDS = {
    "appkey": "appkey",
    "appsecret": "secret",
    "secretkey": "secret",
    "access_token": "token",
    "token": "token",
    "approval_key": "approval",
    "authorization": "token",
    "cano": "account",
    "acnt_prdt_cd": "account-product",
    "acnt_no": "account",
    "hts_id": "htsid",
    "htsid": "htsid",
    "personalseckey": "secret",
    "hashkey": "secret",
}
FILL_NOTICE_TRS = {"H0STCNI0", "H0STCNI9", "H0GSCNI0", "H0GSCNI9"}  # their tr_key is the HTS ID


class Scrubber:
    def __init__(self) -> None:
        self.pseudonyms: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._pattern: re.Pattern[str] | None = None

    def learn(self, value: object, kind: str) -> None:
        if not isinstance(value, str):
            return
        value = value.strip()
        if value.lower().startswith("bearer "):
            value = value[7:].strip()
        if len(value) < 4 or value in self.pseudonyms or value in self.pseudonyms.values():
            return
        n = self._counts[kind] = self._counts.get(kind, 0) + 1
        stem = f"REDACTED{kind.upper().replace('-', '')}{n}"
        pseudo = (stem + "x" * len(value))[: max(len(value), len(stem))]
        self.pseudonyms[value] = pseudo
        self._pattern = None

    def observe(self, obj: Any) -> None:
        """Learn the secrets inside a decoded JSON document (any depth)."""
        if isinstance(obj, dict):
            header = obj.get("header") if isinstance(obj.get("header"), dict) else None
            inp = obj.get("body", {}).get("input") if isinstance(obj.get("body"), dict) else None
            if isinstance(inp, dict) and inp.get("tr_id") in FILL_NOTICE_TRS:
                self.learn(inp.get("tr_key"), "htsid")
            if header and header.get("tr_id") in FILL_NOTICE_TRS:
                self.learn(header.get("tr_key"), "htsid")
            for k, v in obj.items():
                kind = SECRET_FIELDS.get(str(k).lower())
                if kind:
                    self.learn(v, kind)
                else:
                    self.observe(v)
        elif isinstance(obj, list):
            for v in obj:
                self.observe(v)

    def observe_text(self, text: str) -> None:
        if text[:1] in "{[":
            try:
                self.observe(json.loads(text))
            except ValueError:
                pass

    def observe_pairs(self, pairs: Any) -> None:
        """Headers or query parameters: (name, value) pairs."""
        for k, v in pairs:
            kind = SECRET_FIELDS.get(str(k).lower())
            if kind:
                self.learn(v, kind)

    def __call__(self, text: str) -> str:
        if not self.pseudonyms:
            return text
        if self._pattern is None:
            keys = sorted(self.pseudonyms, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(k) for k in keys))
        return self._pattern.sub(lambda m: self.pseudonyms[m.group(0)], text)
