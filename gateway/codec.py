"""Decoding what KIS sends over the realtime WebSocket (docs/kis/protocol.md §4.3–§4.6), sans-I/O.

`decode(text, keys)` returns one `Frame`, `Control`, `PingPong` or `DecodeError`. A data frame
keeps its split field list and a record width; records are read by offset, so the hot path (the
worker's cache update) allocates one list per frame, not one per record.

Width is never hard-coded: it is `fields / count` (KIS has shipped 46- and 47-field H0STCNT0 and
59/62/63-field H0STASP0). When the count and the field total disagree (truncated copies, hand-edited
headers) the known widths of the TR are used to recover the whole records, and what is left over
is reported in `Frame.error`; the well-formed records around a bad one are never lost.

Nothing here raises on bad input: every text, however hostile, becomes one of the four events. JSON is
parsed only after a cheap scan has checked its length and nesting (`MAX_CONTROL_CHARS`,
`MAX_JSON_DEPTH`), so a deeply nested message cannot reach the recursive parser.

Why over 300 lines: the data-frame hot path and the control-message checks are one decoder; the type check
of every control field is what makes "never raises" true, and it is measured with the hot path.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gateway import layouts

# The newest era's names (gateway/layouts.py holds every era; older, narrower records are a prefix of these).
H0STCNT0_FIELDS = list(layouts.ERAS["H0STCNT0"][-1].names)
H0STASP0_FIELDS = list(layouts.ERAS["H0STASP0"][-1].names)
H0STCNI_FIELDS = (
    "CUST_ID ACNT_NO ODER_NO OODER_NO SELN_BYOV_CLS RCTF_CLS ODER_KIND ODER_COND STCK_SHRN_ISCD CNTG_QTY "
    "CNTG_UNPR STCK_CNTG_HOUR RFUS_YN CNTG_YN ACPT_YN BRNC_NO ODER_QTY ACNT_NAME ORD_COND_PRC ORD_EXG_GB "
    "POPUP_YN FILLER CRDT_CLS CRDT_LOAN_DATE CNTG_ISNM40 ODER_PRC"
).split()

# Field names per TR (a prefix is enough: extra trailing fields are named FIELD_<n>), and the record
# widths KIS is known to have used, for recovering records when a header's count is wrong.
LAYOUTS: dict[str, tuple[str, ...]] = {
    "H0STCNT0": tuple(H0STCNT0_FIELDS),
    "H0NXCNT0": layouts.ERAS["H0NXCNT0"][-1].names,
    "H0UNCNT0": layouts.ERAS["H0UNCNT0"][-1].names,
    "H0STASP0": tuple(H0STASP0_FIELDS),
    "H0STCNI0": tuple(H0STCNI_FIELDS),
    "H0STCNI9": tuple(H0STCNI_FIELDS),
}
KNOWN_WIDTHS: dict[str, tuple[int, ...]] = {
    **{tr: tuple(e.width for e in eras) for tr, eras in layouts.ERAS.items()},
    "H0STCNI0": (26, 23),
    "H0STCNI9": (26, 23),
    "HDFSCNT0": (26,),
}
# The trade TRs, whose records share H0STCNT0's positions (price #2, change #4, volume #13), and the venue
# each one's trades are from (docs/kis/endpoints.md §C4): the cache takes all three.
TRADE_VENUES = {"H0STCNT0": "krx", "H0NXCNT0": "nxt", "H0UNCNT0": "unified"}
# Credentials never printed in a decoded fill notice.
PRIVATE_FIELDS = frozenset({"CUST_ID", "ACNT_NO", "ACNT_NAME"})
# Every KIS notice layout (domestic H0STCNI0/9, overseas H0GSCNI0/9, futures H0IFCNI0/9) opens with the
# HTS ID and the account number, so for a notice TR whose layout we do not know these positions are masked.
PRIVATE_POSITIONS = (0, 1)

# A KIS control message (ack, error, PINGPONG) is a few hundred characters, three objects deep
# ({"header": ..., "body": {"output": ...}}). Anything longer or deeper is not KIS and is refused
# before `json.loads` sees it (the C parser recurses once per level: ~1,000 levels is a RecursionError).
MAX_CONTROL_CHARS = 16_384
MAX_JSON_DEPTH = 16
# The NNN record count: KIS sends three digits; more than this many is not a count.
MAX_COUNT_DIGITS = 9
_COUNTS = {**{str(i): i for i in range(1000)}, **{f"{i:03d}": i for i in range(1000)}}
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


@dataclass(slots=True)
class Frame:
    """A realtime data frame `E|TR_ID|NNN|payload`; records are `fields[i*width:(i+1)*width]`."""

    tr_id: str
    encrypted: bool
    declared: int  # the NNN count as sent
    fields: list[str]
    width: int
    count: int  # whole records recovered
    error: str | None = None

    def record(self, i: int) -> list[str]:
        return self.fields[i * self.width : (i + 1) * self.width]

    def records(self) -> Iterator[list[str]]:
        for i in range(self.count):
            yield self.record(i)

    def named(self, i: int) -> dict[str, str]:
        names = layouts.names(self.tr_id, self.width) or LAYOUTS.get(self.tr_id, ())
        rec = self.record(i)
        return {(names[j] if j < len(names) else f"FIELD_{j}"): v for j, v in enumerate(rec)}


@dataclass(slots=True)
class Control:
    """A JSON ack or error. `tr_id` is "(null)" or "" for session-level and parse errors."""

    tr_id: str
    tr_key: str
    encrypt: str
    rt_cd: str
    msg_cd: str
    msg1: str
    iv: str | None = None
    key: str | None = None


@dataclass(slots=True)
class PingPong:
    text: str
    datetime: str


@dataclass(slots=True)
class DecodeError:
    reason: str
    text: str


Event = Frame | Control | PingPong | DecodeError


def decode(text: str, keys: Mapping[str, tuple[str, str]] | None = None) -> Event:
    """Decode one message. `keys` maps tr_id -> (key, iv) from acks, for encrypted frames."""
    if not text:
        return DecodeError("empty message", text)
    first = text[0]
    if first == "0" or first == "1":
        return _data(text, keys)
    if first == "{":
        return _control(text)
    return DecodeError("neither a data frame (0|/1|) nor JSON", text)


def _data(text: str, keys: Mapping[str, tuple[str, str]] | None) -> Frame | DecodeError:
    parts = text.split("|", 3)
    if len(parts) != 4:
        return DecodeError(f"data frame has {len(parts)} of 4 '|' parts", text)
    flag, tr_id, count_text, payload = parts
    encrypted = flag == "1"
    if not encrypted and flag != "0":
        return DecodeError(f"encryption flag {flag[:20]!r} is not 0 or 1", text)
    known = KNOWN_WIDTHS.get(tr_id)
    if known is None and not (tr_id.isascii() and tr_id.isalnum()):
        return DecodeError(f"TR id {tr_id[:20]!r} is not ASCII letters and digits", text)
    declared = _COUNTS.get(count_text)  # "001": one lookup instead of a digit check and int()
    if declared is None:
        # ASCII digits only: str.isdigit() also accepts "²" and "٣", which int() refuses or misreads.
        if not (count_text.isascii() and count_text.isdigit() and len(count_text) <= MAX_COUNT_DIGITS):
            return DecodeError(f"record count {count_text[:20]!r} is not 1-9 ASCII digits", text)
        declared = int(count_text)
    if encrypted:
        pair = (keys or {}).get(tr_id)
        if pair is None:
            return DecodeError(f"encrypted {tr_id} frame before its key (no OPSP0000 ack seen)", text)
        plain = _decrypt(payload, *pair)
        if plain is None:
            return DecodeError(f"encrypted {tr_id} frame does not decrypt with the acked key/iv", text)
        payload = plain
    fields = payload.split("^")
    total = len(fields)
    if declared > 0 and total % declared == 0:
        width = total // declared
        if not known or width in known:
            return Frame(tr_id, encrypted, declared, fields, width, declared)
        for w in known:  # e.g. "001" holding three 46-field records
            if total % w == 0:
                return Frame(
                    tr_id,
                    encrypted,
                    declared,
                    fields,
                    w,
                    total // w,
                    f"header says {declared} record(s) but {total} fields hold {total // w} of width {w}",
                )
        return Frame(tr_id, encrypted, declared, fields, width, declared)
    if known:
        # Every record starts with its key (field 0), so a width is right when the next record starts
        # with the same key; otherwise fall back to the documented (first) width.
        width = next((w for w in known if total > w and fields[w] == fields[0]), known[0])
        whole = min(total // width, declared) if declared else total // width
        if whole:
            left = total - whole * width
            return Frame(
                tr_id,
                encrypted,
                declared,
                fields,
                width,
                whole,
                f"header says {declared} record(s) but {total} fields: {whole} whole record(s) of "
                f"width {width}, {left} trailing field(s) dropped (truncated?)",
            )
    return DecodeError(f"{total} fields do not split into {declared} record(s)", text)


def _decrypt(payload: str, key: object, iv: object) -> str | None:
    if not isinstance(key, str) or not isinstance(iv, str):
        return None
    try:
        blob = base64.b64decode(payload, validate=True)
        dec = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).decryptor()
        padded = dec.update(blob) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _too_deep(text: str) -> bool:
    """Nesting beyond MAX_JSON_DEPTH, counted without parsing. Brackets inside strings do not count;
    a real ack has three `{` in all, so the scan is skipped for it."""
    if text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for b in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)):
        if b == "{" or b == "[":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        else:
            depth -= 1
    return False


def _scalar(obj: dict[str, object], name: str) -> str | None:
    """A header/body field as text; None when it is an object or a list (not a KIS field)."""
    v = obj.get(name)
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, int, float)):
        return str(v)
    return None


def _control(text: str) -> Control | PingPong | DecodeError:
    if len(text) > MAX_CONTROL_CHARS:
        return DecodeError(
            f"JSON message of {len(text)} chars (control messages are at most {MAX_CONTROL_CHARS})", text
        )
    if _too_deep(text):
        return DecodeError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", text)
    try:
        msg = json.loads(text)
    except ValueError as e:  # includes UnicodeDecodeError and over-long integers
        return DecodeError(f"invalid JSON: {e}", text)
    if not isinstance(msg, dict):
        return DecodeError("JSON message is not an object", text)
    raw_header = msg.get("header")
    header: dict[str, object] = raw_header if isinstance(raw_header, dict) else {}
    tr_id = _scalar(header, "tr_id")
    if tr_id is None:
        return DecodeError("header.tr_id is not a string", text)
    if tr_id == "PINGPONG":
        when = _scalar(header, "datetime")
        return PingPong(text, when if when is not None else "")
    body = msg.get("body")
    if not isinstance(body, dict):
        return DecodeError("control message without a body", text)
    values: list[str] = []
    for where, obj, name in (
        ("header", header, "tr_key"),
        ("header", header, "encrypt"),
        ("body", body, "rt_cd"),
        ("body", body, "msg_cd"),
        ("body", body, "msg1"),
    ):
        v = _scalar(obj, name)
        if v is None:
            return DecodeError(f"{where}.{name} is not a string", text)
        values.append(v)
    raw_out = body.get("output")
    out: dict[str, object] = raw_out if isinstance(raw_out, dict) else {}
    iv, key = out.get("iv"), out.get("key")
    if not isinstance(iv, (str, type(None))) or not isinstance(key, (str, type(None))):
        return DecodeError("body.output iv/key are not strings (the AES iv/key of the ack)", text)
    tr_key, encrypt, rt_cd, msg_cd, msg1 = values
    return Control(tr_id, tr_key, encrypt, rt_cd, msg_cd, msg1, iv, key)


def to_json_lines(event: Event) -> list[dict[str, object]]:
    """The `kis-gateway decode` view of one event: one object per trade record, ack, ping or error."""
    if isinstance(event, Frame):
        notice = is_notice(event.tr_id)
        lines: list[dict[str, object]] = []
        for i in range(event.count):
            named = event.named(i)
            if notice:
                named = mask_notice(named)
            lines.append(
                {
                    "type": "record",
                    "tr_id": event.tr_id,
                    "encrypted": event.encrypted,
                    "record": i + 1,
                    "of": event.count,
                    "declared": event.declared,
                    "width": event.width,
                    **layouts.describe(event.tr_id, event.width),
                    "fields": named,
                }
            )
        if event.error:
            lines.append({"error": event.error, "tr_id": event.tr_id, "recovered_records": event.count})
        return lines
    if isinstance(event, Control):
        msg1, hts_id = event.msg1, event.tr_key if is_notice(event.tr_id) else ""
        if hts_id:  # a notice's tr_key is the HTS ID; the server may quote it back in msg1
            msg1 = msg1.replace(hts_id, "***")
        out: dict[str, object] = {
            "type": "control",
            "tr_id": event.tr_id,
            "tr_key": "***" if hts_id else event.tr_key,
            "encrypt": event.encrypt,
            "rt_cd": event.rt_cd,
            "msg_cd": event.msg_cd,
            "msg1": msg1,
        }
        if event.iv is not None:
            out["iv"], out["key"] = event.iv, event.key
        return [out]
    if isinstance(event, PingPong):
        return [{"type": "pingpong", "datetime": event.datetime}]
    if is_notice(event.text):  # a notice we could not split may hold an account number anywhere
        return [{"error": event.reason, "text": "(not shown: a fill notice may hold account numbers)"}]
    return [{"error": event.reason, "text": event.text[:200]}]


def is_notice(text: str) -> bool:
    """Fill/order notices (`...CNI...` TRs: H0STCNI0/9, H0GSCNI0/9, H0IFCNI0/9 and any new one) carry the
    HTS ID and the account number."""
    return "CNI" in text


def mask_notice(named: dict[str, str]) -> dict[str, str]:
    """The decode view of one notice record: the HTS ID, account number and account name become `***`,
    wherever else they are repeated in the record too."""
    private = {k for j, k in enumerate(named) if k in PRIVATE_FIELDS or j in PRIVATE_POSITIONS}
    secrets = {named[k] for k in private if len(named[k]) >= 4}
    secrets |= {v[:8] for v in secrets if len(v) >= 10 and v[:8].isdigit()}  # CANO inside CANO+PRDT
    ordered = sorted(secrets, key=len, reverse=True)
    out: dict[str, str] = {}
    for k, v in named.items():
        if k in private:
            out[k] = "***" if v else v
            continue
        for secret in ordered:
            if secret in v:
                v = v.replace(secret, "***")
        out[k] = v
    return out
