"""What the exchange side writes on the wire, and how it reads client requests (docs/kis/protocol.md §4).

Output is compact JSON (no spaces), as real KIS sends it. All parse failures are values, never
exceptions: `parse_request` returns a `Request`, a `PingEcho` or a `Reject` naming the KIS error reply;
`parse_data_frame` returns a `DataFrame` or None. `split_frame` and `frame_count` are the one way fakekis
cuts `F|TR|NNN|payload` text apart.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def _dump(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def data_frame(tr_id: str, records: Sequence[Sequence[str]]) -> str:
    """`0|TR|NNN|f^f^...`: several records are simply concatenated with `^`."""
    body = "^".join("^".join(r) for r in records)
    return f"0|{tr_id}|{len(records):03d}|{body}"


def encrypted_frame(tr_id: str, records: Sequence[Sequence[str]], key: str, iv: str) -> str:
    """`1|TR|NNN|base64(AES-256-CBC(PKCS#7(utf-8 payload)))`, key/iv used as raw ASCII (§4.6)."""
    plain = "^".join("^".join(r) for r in records).encode()
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain) + padder.finalize()
    enc = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).encryptor()
    blob = base64.b64encode(enc.update(data) + enc.finalize()).decode()
    return f"1|{tr_id}|{len(records):03d}|{blob}"


def control(
    tr_id: str,
    tr_key: str,
    rt_cd: str,
    msg_cd: str,
    msg1: str,
    output: dict[str, str] | None = None,
    encrypt: str = "N",
) -> str:
    body: dict[str, object] = {"rt_cd": rt_cd, "msg_cd": msg_cd, "msg1": msg1}
    if output is not None:
        body["output"] = output
    return _dump({"header": {"tr_id": tr_id, "tr_key": tr_key, "encrypt": encrypt}, "body": body})


def pingpong(kst_yyyymmddhhmmss: str) -> str:
    return _dump({"header": {"tr_id": "PINGPONG", "datetime": kst_yyyymmddhhmmss}})


def session_error(msg_cd: str, msg1: str) -> str:
    """Session-level errors the server cannot attribute: header tr_id is the literal "(null)"."""
    return control("(null)", "", "9", msg_cd, msg1)


def parse_error(msg_cd: str, msg1: str) -> str:
    """JSON PARSING ERROR replies carry empty header ids and rt_cd "9"; the connection is kept."""
    return control("", "", "9", msg_cd, msg1)


# -- data frames -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataFrame:
    """A realtime frame `F|TR|NNN|payload` (F: 0 plain, 1 AES-encrypted), as read off the wire."""

    encrypted: bool
    tr_id: str
    count: int
    payload: str

    def records(self) -> list[list[str]] | None:
        """The `count` records of a plain frame, each `len(fields) // count` wide; None when the fields do
        not divide evenly (a damaged frame) or the payload is encrypted."""
        if self.encrypted or not self.count:
            return None
        fields = self.payload.split("^")
        width, rest = divmod(len(fields), self.count)
        if rest or not width:
            return None
        return [fields[i * width : (i + 1) * width] for i in range(self.count)]


def split_frame(text: str) -> list[str] | None:
    """The four `|`-separated parts of a realtime frame's text (flag, tr_id, count, payload), unchecked;
    None when there are fewer than four. The one place fakekis cuts a frame at its `|`s."""
    parts = text.split("|", 3)
    return parts if len(parts) == 4 else None


def frame_count(field: str) -> int | None:
    """A frame header's record count: ASCII digits only (`"²".isdigit()` is true, `int("²")` raises)."""
    return int(field) if field.isascii() and field.isdigit() else None


def parse_data_frame(text: str) -> DataFrame | None:
    """`0|TR|NNN|payload` or `1|TR|NNN|payload` -> DataFrame; None for anything else (JSON, a broken header,
    a count of 0). Never raises."""
    parts = split_frame(text)
    if parts is None or parts[0] not in ("0", "1"):
        return None
    count = frame_count(parts[2])
    if not count:
        return None
    return DataFrame(parts[0] == "1", parts[1], count, parts[3])


# -- client requests -------------------------------------------------------------------------

# A real subscribe request is about 300 characters, three objects deep. Anything much bigger or deeper is
# refused before json.loads sees it: deep nesting made json.loads raise RecursionError (~1,000 levels).
MAX_REQUEST_CHARS = 4096
MAX_REQUEST_DEPTH = 16


@dataclass(frozen=True, slots=True)
class Request:
    approval_key: str
    custtype: str
    tr_type: str  # "1" register, "2" unregister
    tr_id: str
    tr_key: str


@dataclass(frozen=True, slots=True)
class Reject:
    """A request KIS refuses with a JSON PARSING ERROR reply (rt_cd 9); the connection is kept."""

    msg_cd: str
    msg1: str

    @property
    def reply(self) -> str:
        return parse_error(self.msg_cd, self.msg1)


@dataclass(frozen=True, slots=True)
class PingEcho:
    """The client's text echo of a PINGPONG heartbeat."""


_INVALID_JSON = Reject("OPSP9999", "JSON PARSING ERROR : invalid json format")


def _too_deep(text: str) -> bool:
    """Nesting deeper than MAX_REQUEST_DEPTH, outside strings. Cheap first: fewer brackets than the limit
    cannot nest deeper than it, which is every real request."""
    if text.count("{") + text.count("[") <= MAX_REQUEST_DEPTH:
        return False
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
            if depth > MAX_REQUEST_DEPTH:
                return True
        elif ch in "}]":
            depth -= 1
    return False


def _text(value: object) -> str | None:
    """A string field that can go back out on the wire: str, and encodable (no lone surrogates)."""
    if not isinstance(value, str):
        return None
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return value


def parse_request(text: str) -> Request | Reject | PingEcho:
    """A client's text -> Request, PingEcho, or the Reject KIS answers with. Never raises: the sizes and
    nesting are bounded before json.loads, and every field is type-checked before use."""
    if not isinstance(text, str) or len(text) > MAX_REQUEST_CHARS or _too_deep(text):
        return _INVALID_JSON
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):
        return _INVALID_JSON
    if not isinstance(msg, dict) or not isinstance(msg.get("header"), dict):
        return Reject("OPSP9998", "JSON PARSING ERROR : header not found")
    header = msg["header"]
    if header.get("tr_id") == "PINGPONG":
        return PingEcho()
    body = msg.get("body")
    if not isinstance(body, dict):
        return Reject("OPSP9992", "JSON PARSING ERROR : body not found")
    inp = body.get("input")
    if not isinstance(inp, dict):
        return Reject("OPSP9991", "JSON PARSING ERROR : input not found")
    custtype = header.get("custtype")
    if custtype is None:
        return Reject("OPSP9997", "JSON PARSING ERROR : custtype not found")
    if custtype not in ("P", "B"):
        return Reject("OPSP8998", "JSON PARSING ERROR : invalid custtype")
    tr_type = header.get("tr_type")
    if tr_type not in ("1", "2"):
        return Reject("OPSP8997", "JSON PARSING ERROR : invalid tr_type")
    tr_id, tr_key = _text(inp.get("tr_id")), _text(inp.get("tr_key"))
    if not tr_id:
        return Reject("OPSP8991", "SUBSCRIBE ERROR : invalid tr_id")
    if not tr_key or len(tr_key) > 16:
        return Reject("OPSP8993", "JSON PARSING ERROR : invalid tr_key")
    return Request(_text(header.get("approval_key")) or "", custtype, tr_type, tr_id, tr_key)
