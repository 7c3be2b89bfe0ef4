"""Decoding what KIS sends over the realtime WebSocket (protocol.md §4.3–§4.6), sans-I/O.

`decode(text, keys)` returns one `Frame`, `Control`, `PingPong` or `DecodeError`. A data frame
keeps its split field list and a record width; records are read by offset, so the hot path (the
worker's cache update) allocates one list per frame, not one per record.

Width is never hard-coded: it is `fields / count` (KIS has shipped 46- and 47-field H0STCNT0 and
59/62/63-field H0STASP0). When the count and the field total disagree (truncated copies, hand-edited
headers) the known widths of the TR are used to recover the whole records, and what is left over
is reported in `Frame.error`; the well-formed records around a bad one are never lost.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gateway import layouts

H0STCNT0_FIELDS = (
    "MKSC_SHRN_ISCD STCK_CNTG_HOUR STCK_PRPR PRDY_VRSS_SIGN PRDY_VRSS PRDY_CTRT WGHN_AVRG_STCK_PRC STCK_OPRC "
    "STCK_HGPR STCK_LWPR ASKP1 BIDP1 CNTG_VOL ACML_VOL ACML_TR_PBMN SELN_CNTG_CSNU SHNU_CNTG_CSNU NTBY_CNTG_CSNU "
    "CTTR SELN_CNTG_SMTN SHNU_CNTG_SMTN CCLD_DVSN SHNU_RATE PRDY_VOL_VRSS_ACML_VOL_RATE OPRC_HOUR "
    "OPRC_VRSS_PRPR_SIGN OPRC_VRSS_PRPR HGPR_HOUR HGPR_VRSS_PRPR_SIGN HGPR_VRSS_PRPR LWPR_HOUR LWPR_VRSS_PRPR_SIGN "
    "LWPR_VRSS_PRPR BSOP_DATE NEW_MKOP_CLS_CODE TRHT_YN ASKP_RSQN1 BIDP_RSQN1 TOTAL_ASKP_RSQN TOTAL_BIDP_RSQN "
    "VOL_TNRT PRDY_SMNS_HOUR_ACML_VOL PRDY_SMNS_HOUR_ACML_VOL_RATE HOUR_CLS_CODE MRKT_TRTM_CLS_CODE VI_STND_PRC "
    "MARKET_CLS_CODE"
).split()

H0STASP0_FIELDS = (
    ["MKSC_SHRN_ISCD", "BSOP_HOUR", "HOUR_CLS_CODE"]
    + [f"ASKP{i}" for i in range(1, 11)]
    + [f"BIDP{i}" for i in range(1, 11)]
    + [f"ASKP_RSQN{i}" for i in range(1, 11)]
    + [f"BIDP_RSQN{i}" for i in range(1, 11)]
    + (
        "TOTAL_ASKP_RSQN TOTAL_BIDP_RSQN OVTM_TOTAL_ASKP_RSQN OVTM_TOTAL_BIDP_RSQN ANTC_CNPR ANTC_CNQN ANTC_VOL "
        "ANTC_CNTG_VRSS ANTC_CNTG_VRSS_SIGN ANTC_CNTG_PRDY_CTRT ACML_VOL TOTAL_ASKP_RSQN_ICDC TOTAL_BIDP_RSQN_ICDC "
        "OVTM_TOTAL_ASKP_ICDC OVTM_TOTAL_BIDP_ICDC STCK_DEAL_CLS_CODE KMID_PRC KMID_TOTAL_RSQN KMID_CLS_CODE "
        "MARKET_CLS_CODE"
    ).split()
)

H0STCNI_FIELDS = (
    "CUST_ID ACNT_NO ODER_NO OODER_NO SELN_BYOV_CLS RCTF_CLS ODER_KIND ODER_COND STCK_SHRN_ISCD CNTG_QTY "
    "CNTG_UNPR STCK_CNTG_HOUR RFUS_YN CNTG_YN ACPT_YN BRNC_NO ODER_QTY ACNT_NAME ORD_COND_PRC ORD_EXG_GB "
    "POPUP_YN FILLER CRDT_CLS CRDT_LOAN_DATE CNTG_ISNM40 ODER_PRC"
).split()

# Field names per TR (a prefix is enough: extra trailing fields are named FIELD_<n>), and the record
# widths KIS is known to have used, for recovering records when a header's count is wrong.
LAYOUTS: dict[str, tuple[str, ...]] = {
    "H0STCNT0": tuple(H0STCNT0_FIELDS),
    "H0NXCNT0": tuple(H0STCNT0_FIELDS),
    "H0UNCNT0": tuple(H0STCNT0_FIELDS),
    "H0STASP0": tuple(H0STASP0_FIELDS),
    "H0STCNI0": tuple(H0STCNI_FIELDS),
    "H0STCNI9": tuple(H0STCNI_FIELDS),
}
KNOWN_WIDTHS: dict[str, tuple[int, ...]] = {
    "H0STCNT0": (46, 47),
    "H0NXCNT0": (46, 47),
    "H0UNCNT0": (46, 47),
    "H0STASP0": (59, 62, 63),
    "H0STCNI0": (26, 23),
    "H0STCNI9": (26, 23),
    "HDFSCNT0": (26,),
}
# Credentials never printed in a decoded fill notice.
PRIVATE_FIELDS = frozenset({"CUST_ID", "ACNT_NO", "ACNT_NAME"})


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
    if not count_text.isdigit():
        return DecodeError(f"record count {count_text!r} is not a number", text)
    declared = int(count_text)
    encrypted = flag == "1"
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
        known = KNOWN_WIDTHS.get(tr_id)
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
    known = KNOWN_WIDTHS.get(tr_id)
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


def _decrypt(payload: str, key: str, iv: str) -> str | None:
    try:
        blob = base64.b64decode(payload, validate=True)
        dec = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).decryptor()
        padded = dec.update(blob) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _control(text: str) -> Control | PingPong | DecodeError:
    try:
        msg = json.loads(text)
    except ValueError as e:
        return DecodeError(f"invalid JSON: {e}", text)
    if not isinstance(msg, dict):
        return DecodeError("JSON message is not an object", text)
    header = msg.get("header") if isinstance(msg.get("header"), dict) else {}
    tr_id = str(header.get("tr_id", ""))
    if tr_id == "PINGPONG":
        return PingPong(text, str(header.get("datetime", "")))
    body = msg.get("body")
    if not isinstance(body, dict):
        return DecodeError("control message without a body", text)
    out = body.get("output") if isinstance(body.get("output"), dict) else {}
    return Control(
        tr_id,
        str(header.get("tr_key", "")),
        str(header.get("encrypt", "")),
        str(body.get("rt_cd", "")),
        str(body.get("msg_cd", "")),
        str(body.get("msg1", "")),
        out.get("iv"),
        out.get("key"),
    )


def to_json_lines(event: Event) -> list[dict[str, object]]:
    """The `kis-gateway decode` view of one event: one object per trade record, ack, ping or error."""
    if isinstance(event, Frame):
        lines: list[dict[str, object]] = []
        for i in range(event.count):
            named = event.named(i)
            if event.tr_id in ("H0STCNI0", "H0STCNI9"):
                named = {k: ("***" if k in PRIVATE_FIELDS and v else v) for k, v in named.items()}
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
        out: dict[str, object] = {
            "type": "control",
            "tr_id": event.tr_id,
            "tr_key": event.tr_key,
            "encrypt": event.encrypt,
            "rt_cd": event.rt_cd,
            "msg_cd": event.msg_cd,
            "msg1": event.msg1,
        }
        if event.iv is not None:
            out["iv"], out["key"] = event.iv, event.key
        return [out]
    if isinstance(event, PingPong):
        return [{"type": "pingpong", "datetime": event.datetime}]
    return [{"error": event.reason, "text": event.text[:200]}]
