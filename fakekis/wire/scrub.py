"""Secrets never written: every byte a recording keeps passes through a `Scrubber`.

The scrubber learns secret values as they go by (JSON fields, headers, query parameters, the HTS ID
used as the tr_key of fill-notice subscriptions, the fields of decrypted fill notices) and replaces each
with a stable pseudonym, so a recording stays consistent (the same approval key is the same pseudonym on
every line) and replayable, and nothing real is left. docs/security.md says what is scrubbed and how.

Two rules make it hold for inputs nobody anticipated:

- Structure first. JSON is parsed, scrubbed as values (a secret field's value is replaced whatever its
  length or escaping: `\\/`, `\\u002B`) and re-serialised; headers and query parameters by name; fill
  notices by field position. Matching raw text is never the only line of defence.
- Then every learned secret of `WIDE_MIN` characters or more is replaced in any remaining text, in any
  encoding it may take there: verbatim, JSON-escaped (any mix of `\\uXXXX`, `\\/`), percent-encoded, and
  inside base64. Shorter secrets (an account product code "01", a 3-letter HTS ID) are replaced only in
  the fields where they appear, by value, so unrelated text keeps its "01"s.

Fill notices (`1|TR|NNN|base64`) are AES-encrypted with the key/iv of their subscription ack: the
scrubber decrypts each with the real key, scrubs the customer fields, and re-encrypts under the
recording's own key/iv, which replaces the real key/iv in every ack. A recording never holds a real
notice together with the means to read it.

Why over 300 lines: every encoding a secret can take and every place it can hide (JSON, headers, query,
notices) is one rule set with one memory of what it learned; split, the pieces would have to share it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import string
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fakekis.wire import frames

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
    "acnt_name": "name",
    "cust_id": "htsid",
    "hts_id": "htsid",
    "htsid": "htsid",
    "personalseckey": "secret",
    "hashkey": "secret",
}
# Fill-notice TRs (their tr_key is the HTS ID, their payload names the customer). Any other TR with
# "CNI" in its id, any TR whose ack says encrypt "Y" and any TR that arrives encrypted is treated alike.
FILL_NOTICE_TRS = {"H0STCNI0", "H0STCNI9", "H0GSCNI0", "H0GSCNI9", "H0IFCNI0", "H0IFCNI9"}
# Fill-notice payload positions that name the customer (protocol: CUST_ID, ACNT_NO, ACNT_NAME); the same
# in the 26-field layout and the older 23-field one.
NOTICE_FIELDS = {0: "htsid", 1: "account", 17: "name"}
WIDE_MIN = 4  # secrets this long or longer are also replaced in free text, in every encoding


def is_notice_tr(tr_id: object) -> bool:
    return isinstance(tr_id, str) and (tr_id.upper() in FILL_NOTICE_TRS or "CNI" in tr_id.upper())


def _char_forms(c: str) -> str:
    """A regex matching `c` as JSON or a URL may spell it."""
    code = ord(c)
    forms = [re.escape(c)]
    if code < 0x10000:
        hexes = f"{code:04x}"
        forms.append(r"\\u" + "".join(f"[{h}{h.upper()}]" if h.isalpha() else h for h in hexes))
    if code < 0x80:
        h = f"{code:02x}"
        forms.append("%" + "".join(f"[{x}{x.upper()}]" if x.isalpha() else x for x in h))
    if c in '/"\\':
        forms.append(re.escape("\\" + c))
    if c == " ":
        forms.append(r"\+")
    return "(?:" + "|".join(forms) + ")"


def _b64_cores(value: str) -> list[str]:
    """The base64 text that encodes `value` whatever its offset inside a longer encoded string: for each
    of the 3 alignments, the characters that depend only on `value`'s bytes, in base64 and base64url."""
    raw = value.encode()
    out: list[str] = []
    for pad in range(3):
        enc = base64.b64encode(b"\0" * pad + raw).decode()
        start = (pad * 4 + 2) // 3 + (1 if pad else 0)
        end = (len(enc) - 4) if (pad + len(raw)) % 3 else len(enc)
        core = enc[start:end]
        if len(core) >= 8:
            out.append(core)
            out.append(core.replace("+", "-").replace("/", "_"))  # base64url (a JWT's claims)
    return out


def _aes(key: str, iv: str) -> Cipher[modes.CBC] | None:
    try:
        return Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode()))
    except ValueError:
        return None


def decrypt(payload: str, key: str, iv: str) -> str | None:
    """AES-256-CBC + PKCS#7 + base64 (protocol: notices); None when it does not decrypt."""
    cipher = _aes(key, iv)
    if cipher is None:
        return None
    try:
        blob = base64.b64decode(payload, validate=True)
        dec = cipher.decryptor()
        padded = dec.update(blob) + dec.finalize()
        unpad = padding.PKCS7(128).unpadder()
        return (unpad.update(padded) + unpad.finalize()).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


class Scrubber:
    def __init__(self, own_key: str | None = None, own_iv: str | None = None) -> None:
        self.pseudonyms: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._literal: re.Pattern[str] | None = None
        self._literal_map: dict[str, str] = {}
        self._encoded: list[tuple[re.Pattern[str], str]] | None = None
        # The recording's own notice key/iv (same shapes as KIS's: 32 lowercase letters, 16 hex chars).
        self.own_key = own_key or "".join(secrets.choice(string.ascii_lowercase) for _ in range(32))
        self.own_iv = own_iv or "".join(secrets.choice("0123456789abcdef") for _ in range(16))
        self._keys: dict[tuple[int, str], tuple[str, str]] = {}  # (conn, tr_id) -> real (iv, key)
        self._notice_trs: set[str] = set()
        self.notices_rewritten = 0
        self.notices_dropped = 0

    # -- learning ------------------------------------------------------------------------------
    def learn(self, value: object, kind: str) -> str | None:
        """Remember `value` as a secret of `kind`; return its pseudonym (None for a non-string/empty)."""
        if not isinstance(value, str):
            return None
        value = value.strip()
        if value.lower().startswith("bearer "):
            value = value[7:].strip()
        if not value:
            return None
        if value in self.pseudonyms:
            return self.pseudonyms[value]
        if value in self._pseudonym_set():
            return value  # already a pseudonym
        n = self._counts[kind] = self._counts.get(kind, 0) + 1
        stem = f"REDACTED{kind.upper().replace('-', '')}{n}"
        pseudo = (stem + "x" * len(value))[: max(len(value), len(stem))]
        self.pseudonyms[value] = pseudo
        self._literal = self._encoded = None
        if kind == "account":  # "50123456-01" / "5012345601": its CANO (first 8 digits) is a secret too
            digits = value.replace("-", "")
            if len(digits) > 8 and digits[:8].isdigit():
                self.learn(digits[:8], "account")
        return pseudo

    def _pseudonym_set(self) -> set[str]:
        return set(self.pseudonyms.values())

    def observe(self, obj: Any) -> None:
        """Learn the secrets inside a decoded JSON document (any depth)."""
        if isinstance(obj, dict):
            for tr_id, tr_key in _tr_pairs(obj):
                if self._secret_tr(tr_id) or tr_key in self.pseudonyms:
                    self.learn(tr_key, "htsid")
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

    def observe_pairs(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Headers or query parameters: (name, value) pairs."""
        for k, v in pairs:
            kind = SECRET_FIELDS.get(str(k).lower())
            if kind:
                self.learn(v, kind)

    def _secret_tr(self, tr_id: object) -> bool:
        return is_notice_tr(tr_id) or tr_id in self._notice_trs

    # -- scrubbing -----------------------------------------------------------------------------
    def __call__(self, text: str) -> str:
        """Free text: every learned secret of WIDE_MIN+ characters, in every encoding, replaced."""
        if not self.pseudonyms:
            return text
        if self._literal is None:
            self._compile()
        assert self._literal is not None and self._encoded is not None
        if self._literal_map:
            text = self._literal.sub(lambda m: self._literal_map[m.group(0)], text)
        if "\\" in text or "%" in text:
            for pattern, pseudo in self._encoded:
                text = pattern.sub(pseudo, text)
        return text

    def _compile(self) -> None:
        wide = sorted((v for v in self.pseudonyms if len(v) >= WIDE_MIN), key=len, reverse=True)
        literal: dict[str, str] = {}
        for value in wide:
            pseudo = self.pseudonyms[value]
            literal[value] = pseudo
            for form in (quote(value, safe=""), quote(value, safe="").lower()):
                literal.setdefault(form, pseudo)
            if len(value) >= 12:
                for core in _b64_cores(value):
                    literal.setdefault(core, "A" * len(core))
        self._literal_map = literal
        keys = sorted(literal, key=len, reverse=True)
        self._literal = re.compile("|".join(re.escape(k) for k in keys)) if keys else re.compile(r"(?!)")
        self._encoded = [(re.compile("".join(_char_forms(c) for c in v)), self.pseudonyms[v]) for v in wide]

    def value(self, value: str, kind: str | None = None) -> str:
        """A field's value: its pseudonym if it is (or, with `kind`, becomes) a known secret, else free text."""
        if kind is not None:
            pseudo = self.learn(value, kind)
            if pseudo is not None:
                prefix = value[: len(value) - len(value.lstrip())]
                bearer = value.strip()[:7] if value.strip().lower().startswith("bearer ") else ""
                return prefix + bearer + pseudo
            return value
        return self(value)  # a short secret outside its own fields stays: "01" is also a sign code

    def pairs(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Headers or query parameters scrubbed by name (secret names by value, any length)."""
        return [(k, self.value(v, SECRET_FIELDS.get(k.lower()))) for k, v in pairs]

    def query(self, uri: str) -> str:
        """A URI whose secret-named query parameters are replaced whatever their length."""
        base, sep, qs = uri.partition("?")
        if sep and any(k.lower() in SECRET_FIELDS for k, _ in parse_qsl(qs, keep_blank_values=True)):
            qs = urlencode(self.pairs(parse_qsl(qs, keep_blank_values=True)))
        return self(base + sep + qs)

    def scrub_json(self, obj: Any) -> Any:
        """A decoded JSON document with every secret replaced (fields by value, strings as free text)."""
        if isinstance(obj, dict):
            out: dict[str, Any] = {}
            for k, v in obj.items():
                kind = SECRET_FIELDS.get(str(k).lower())
                if kind and isinstance(v, str):
                    out[self(str(k))] = self.value(v, kind)
                elif (
                    k == "tr_key"
                    and isinstance(v, str)
                    and (self._secret_tr(obj.get("tr_id")) or v in self.pseudonyms)
                ):
                    out[k] = self.value(v, "htsid")
                else:
                    out[self(str(k))] = self.scrub_json(v)
            return out
        if isinstance(obj, list):
            return [self.scrub_json(v) for v in obj]
        if isinstance(obj, str):
            return self.value(obj)
        return obj

    def json_text(self, text: str) -> str:
        """Text that may be JSON: parsed, learned, scrubbed as values and re-serialised if anything
        changed; free-text scrubbing otherwise. Escaped spellings of a secret cannot survive."""
        if text[:1] not in "{[":
            return self(text)
        try:
            obj = json.loads(text)
        except ValueError:
            return self(text)
        self.observe(obj)
        if not _has_secret_fields(obj):  # the common case (a quotation answer): one pass over the text
            return self(text)
        clean = self.scrub_json(obj)
        if clean == obj:
            return self(text)
        return json.dumps(clean, ensure_ascii=False, separators=(",", ":"))

    # -- WebSocket -----------------------------------------------------------------------------
    def ws(self, text: str, direction: str, conn: int = 0) -> str:
        """One WebSocket message as the recording keeps it. `direction` is "recv" (server to client) or
        "send"; `conn` the connection index (notice keys are per connection and TR)."""
        if text[:1] == "{":
            return self._control(text, direction, conn)
        if direction == "recv" and text[:2] in ("0|", "1|"):
            parts = frames.split_frame(text)
            if parts is not None and (text[0] == "1" or self._secret_tr(parts[1])):
                return self._notice(parts, conn)
        return self(text)

    def _control(self, text: str, direction: str, conn: int) -> str:
        try:
            msg = json.loads(text)
        except ValueError:
            return self(text)
        if not isinstance(msg, dict):
            return self.json_text(text)
        header = msg.get("header") if isinstance(msg.get("header"), dict) else {}
        body = msg.get("body") if isinstance(msg.get("body"), dict) else {}
        output = body.get("output") if isinstance(body, dict) else None
        tr_id = header.get("tr_id") if isinstance(header, dict) else None
        if (
            isinstance(header, dict)
            and str(header.get("encrypt", "")).upper() == "Y"
            and isinstance(tr_id, str)
        ):
            self._notice_trs.add(tr_id)
        if direction == "recv" and isinstance(output, dict) and ("key" in output or "iv" in output):
            if isinstance(tr_id, str):
                self._keys[(conn, tr_id)] = (str(output.get("iv", "")), str(output.get("key", "")))
            output["key"], output["iv"] = self.own_key, self.own_iv  # the real key never reaches a file
            self.observe(msg)
            return json.dumps(self.scrub_json(msg), ensure_ascii=False, separators=(",", ":"))
        return self.json_text(text)

    def _notice(self, parts: list[str], conn: int) -> str:
        kind, tr_id, count, payload = parts
        if kind == "1":
            self._notice_trs.add(tr_id)
            iv, key = self._keys.get((conn, tr_id), ("", ""))
            plain = decrypt(payload, key, iv) if key else None
            if plain is None:  # cannot read it, so cannot scrub it: keep the frame's shape, drop the payload
                self.notices_dropped += 1
                return f"1|{tr_id}|{count}|"
            self.notices_rewritten += 1
            clean = "^".join(self._notice_records(plain, count))
            return f"1|{tr_id}|{count}|{encrypt(clean, self.own_key, self.own_iv)}"
        return f"0|{tr_id}|{count}|{'^'.join(self._notice_records(payload, count))}"

    def _notice_records(self, payload: str, count: str) -> list[str]:
        fields = payload.split("^")
        n = int(count) if count.isdigit() and int(count) > 0 else 1
        width = len(fields) // n if len(fields) % n == 0 else len(fields)
        for start in range(0, len(fields), width):
            for pos, kind in NOTICE_FIELDS.items():
                if start + pos < len(fields) and fields[start + pos]:
                    fields[start + pos] = self.value(fields[start + pos], kind)
        return [self(f) for f in fields]


def _has_secret_fields(obj: Any) -> bool:
    if isinstance(obj, dict):
        return any(
            str(k).lower() in SECRET_FIELDS or k == "tr_key" or _has_secret_fields(v) for k, v in obj.items()
        )
    if isinstance(obj, list):
        return any(_has_secret_fields(v) for v in obj)
    return False


def _tr_pairs(obj: dict[str, Any]) -> list[tuple[object, object]]:
    """(tr_id, tr_key) of one level of a KIS WebSocket message (a header, a body.input); `observe`
    recurses, so both the request's input and the reply's header are seen."""
    return [(obj.get("tr_id"), obj.get("tr_key"))] if "tr_key" in obj else []


def encrypt(plain: str, key: str, iv: str) -> str:
    """The inverse of `decrypt` (base64 text)."""
    cipher = _aes(key, iv)
    assert cipher is not None, "the recording's own key/iv are 32 and 16 ASCII characters"
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain.encode()) + padder.finalize()
    enc = cipher.encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()
