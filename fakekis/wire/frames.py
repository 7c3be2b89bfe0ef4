"""What the exchange side writes on the wire, and how it reads client requests (protocol.md §4).

Output is compact JSON (no spaces), as real KIS sends it. All parse failures are values, never
exceptions: `parse_request` returns either a `Request` or a `Reject` carrying the KIS error reply.
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


@dataclass(frozen=True, slots=True)
class Request:
    approval_key: str
    custtype: str
    tr_type: str  # "1" register, "2" unregister
    tr_id: str
    tr_key: str


@dataclass(frozen=True, slots=True)
class Reject:
    reply: str


@dataclass(frozen=True, slots=True)
class PingEcho:
    """The client's text echo of a PINGPONG heartbeat."""


def parse_request(text: str) -> Request | Reject | PingEcho:
    try:
        msg = json.loads(text)
    except ValueError:
        return Reject(parse_error("OPSP9999", "JSON PARSING ERROR : invalid json format"))
    if not isinstance(msg, dict) or not isinstance(msg.get("header"), dict):
        return Reject(parse_error("OPSP9998", "JSON PARSING ERROR : header not found"))
    header = msg["header"]
    if header.get("tr_id") == "PINGPONG":
        return PingEcho()
    body = msg.get("body")
    if not isinstance(body, dict):
        return Reject(parse_error("OPSP9992", "JSON PARSING ERROR : body not found"))
    inp = body.get("input")
    if not isinstance(inp, dict):
        return Reject(parse_error("OPSP9991", "JSON PARSING ERROR : input not found"))
    custtype = header.get("custtype")
    if custtype is None:
        return Reject(parse_error("OPSP9997", "JSON PARSING ERROR : custtype not found"))
    if custtype not in ("P", "B"):
        return Reject(parse_error("OPSP8998", "JSON PARSING ERROR : invalid custtype"))
    tr_type = header.get("tr_type")
    if tr_type not in ("1", "2"):
        return Reject(parse_error("OPSP8997", "JSON PARSING ERROR : invalid tr_type"))
    tr_id, tr_key = inp.get("tr_id"), inp.get("tr_key")
    if not isinstance(tr_id, str) or not tr_id:
        return Reject(parse_error("OPSP8991", "SUBSCRIBE ERROR : invalid tr_id"))
    if not isinstance(tr_key, str) or not tr_key or len(tr_key) > 16:
        return Reject(parse_error("OPSP8993", "JSON PARSING ERROR : invalid tr_key"))
    approval = header.get("approval_key")
    return Request(approval if isinstance(approval, str) else "", custtype, tr_type, tr_id, tr_key)
