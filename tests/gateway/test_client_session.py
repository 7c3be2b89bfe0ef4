"""The client session keeps the AES key and iv from the notice subscription's ack and decrypts the notices
with them (docs/kis/protocol.md §4.6: AES-256-CBC, the 32-character key and 16-character iv used as raw ASCII).
The encryption here is written with `cryptography` directly, not with fakekis's encoder, so an encoder and
decoder that agree with each other but not with KIS cannot both pass."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from conftest import real_frames
from gateway import codec
from gateway.session import Acked, ClientSession, Malformed

pytestmark = pytest.mark.ws
FRAMES = {f["id"]: f for f in real_frames()}


def _encrypt(plain: str, key: str, iv: str) -> str:
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain.encode("utf-8")) + padder.finalize()
    enc = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()


def test_a_notice_decrypts_with_the_key_and_iv_of_the_real_ack() -> None:
    ack = FRAMES["kisreal-088"]["text"]  # a real H0STCNI9 OPSP0000 ack carrying iv and key
    output = json.loads(ack)["body"]["output"]
    assert (len(output["key"]), len(output["iv"])) == (32, 16)
    session = ClientSession([("H0STCNI9", "dalcon")])
    assert session.receive(ack) == [Acked("H0STCNI9", "dalcon", "OPSP0000")]
    record = ["dalcon", "50123456", "0000012345", "", "02", "0", "00", "01", "005930", "0000000010"]
    record += ["0000071000", "093001", "N", "2", "1", "", "", "", "", "", "삼성전자", "", "", "", "", ""]
    notice = "1|H0STCNI9|001|" + _encrypt("^".join(record), output["key"], output["iv"])
    [frame] = session.receive(notice)
    assert isinstance(frame, codec.Frame) and frame.error is None, frame
    assert frame.encrypted and frame.fields == record


def test_the_real_encrypted_notice_decrypts_through_the_session() -> None:
    """kisreal-027 was captured with this key and iv (tests/gateway/test_ws_codec_real_frames.py)."""
    key, iv = "ymmahjojvrgbvmgfnmiuqhvnavgygpzg", "71430b89402b6e40"
    body = {"rt_cd": "0", "msg_cd": "OPSP0000", "msg1": "SUBSCRIBE SUCCESS", "output": {"iv": iv, "key": key}}
    ack = json.dumps({"header": {"tr_id": "H0STCNI0", "tr_key": "hts-id", "encrypt": "N"}, "body": body})
    session = ClientSession([("H0STCNI0", "hts-id")])
    session.receive(ack)
    [frame] = session.receive(FRAMES["kisreal-027"]["text"])
    assert isinstance(frame, codec.Frame) and frame.error is None, frame
    named = frame.named(0)
    assert (named["STCK_SHRN_ISCD"], named["CNTG_ISNM40"]) == ("004090", "한국석유")


def test_a_notice_before_its_ack_is_malformed_not_a_crash() -> None:
    session = ClientSession([("H0STCNI9", "dalcon")])
    out = session.receive(FRAMES["kisreal-027"]["text"].replace("H0STCNI0", "H0STCNI9", 1))
    assert len(out) == 1 and isinstance(out[0], Malformed) and "before its key" in out[0].reason
