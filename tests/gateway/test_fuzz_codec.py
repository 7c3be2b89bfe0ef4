"""Nothing the server sends makes the gateway's WS cores raise (issue #12).

`codec.decode`, `codec.to_json_lines` (the `kis-gateway decode` view) and `ClientSession.receive` are
driven with structured hostile input: real frames mutated, JSON nested thousands deep, counts written in
non-ASCII digits, acks whose fields have the wrong JSON types, encrypted frames under bad keys. Every
input must come back as values, and every undecodable one as a `Malformed` the worker counts.

The normal suite runs a few hundred examples per test (seconds). `KIS_HARNESS_FUZZ_EXAMPLES=200000
tox -e fuzz` runs the same tests for minutes.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import real_frames, trade
from gateway import codec
from gateway import session as s

pytestmark = [pytest.mark.fuzz, pytest.mark.ws]

EXAMPLES = int(os.environ.get("KIS_HARNESS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

WS_TEXTS = [f["text"] for f in real_frames() if f["kind"].startswith("ws")]
DATA_TEXTS = [t for t in WS_TEXTS if t[:1] in "01"]
JSON_TEXTS = [t for t in WS_TEXTS if t.startswith("{")]
ACK_OBJECTS = [json.loads(t) for t in JSON_TEXTS if '"output"' in t]
CNI_KEY, CNI_IV = "ymmahjojvrgbvmgfnmiuqhvnavgygpzg", "71430b89402b6e40"
# Characters for which str.isdigit() is true but that are not ASCII digits.
UNICODE_DIGITS = "²³¹٣۴०১௫๓０９𝟘"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A real message with a few edits: characters replaced, inserted, deleted; a truncation."""
    text = draw(base)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "dup"]))
        i = draw(st.integers(0, len(text)))
        ch = draw(st.sampled_from(list('|^{}[]"\\0123456789') + list(UNICODE_DIGITS)) | st.characters())
        if op == "replace":
            text = text[:i] + ch + text[i + 1 :]
        elif op == "insert":
            text = text[:i] + ch + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + 1 :]
        elif op == "truncate":
            text = text[:i]
        else:
            text = text[:i] + text
    return text


@st.composite
def odd_counts(draw: st.DrawFn) -> str:
    """A data frame whose NNN is unicode digits, huge, signed, spaced or empty."""
    flag = draw(st.sampled_from(["0", "1"]))
    tr = draw(st.sampled_from(["H0STCNT0", "H0STASP0", "H0STCNI0", "HDFSCNT0", "XXXX"]))
    count = draw(
        st.text(alphabet=UNICODE_DIGITS + "0123456789 +-_.", min_size=0, max_size=6)
        | st.integers(1, 6000).map(lambda n: "9" * n)
        | st.sampled_from(["", "0", "000", "-1", " 1", "1_0", "1e3", "²", "001²"])
    )
    records = draw(st.integers(0, 3))
    payload = "^".join("^".join(trade("005930", "090000", 70_000, 69_000, 5)) for _ in range(records))
    return f"{flag}|{tr}|{count}|{payload}"


@st.composite
def deep_json(draw: st.DrawFn) -> str:
    n = draw(st.integers(1, 5000))
    shape = draw(st.sampled_from(["list", "dict", "ack-wrapped", "in-string"]))
    if shape == "list":
        return "[" * n + "]" * n
    if shape == "dict":
        return '{"a":' * n + "1" + "}" * n
    if shape == "in-string":  # brackets inside a string are not nesting: a valid message stays valid
        return json.dumps({"header": {"tr_id": "PINGPONG", "datetime": "[" * n + "{" * n}})
    return json.dumps({"header": {"tr_id": "H0STCNT0"}, "body": {"output": {}}})[:-2] + (
        ',"x":' + "[" * n + "]" * n + "}}"
    )


@st.composite
def wrong_typed_ack(draw: st.DrawFn) -> str:
    """A real ack with one or more fields replaced by an arbitrary JSON value (key/iv as numbers, lists...)."""
    msg: dict[str, Any] = json.loads(json.dumps(draw(st.sampled_from(ACK_OBJECTS))))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(
            st.sampled_from(
                [
                    ("body", "output", "key"),
                    ("body", "output", "iv"),
                    ("body", "output"),
                    ("body", "msg_cd"),
                    ("body", "rt_cd"),
                    ("body", "msg1"),
                    ("body",),
                    ("header", "tr_id"),
                    ("header", "tr_key"),
                    ("header", "encrypt"),
                    ("header",),
                ]
            )
        )
        node: Any = msg
        for k in where[:-1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(k, {})
        if isinstance(node, dict):
            node[where[-1]] = draw(json_values)
    return json.dumps(msg, ensure_ascii=draw(st.booleans()))


@st.composite
def encrypted_frames(draw: st.DrawFn) -> str:
    blob = draw(st.binary(max_size=96))
    payload = draw(st.sampled_from([base64.b64encode(blob).decode(), blob.hex(), "not base64!", ""]))
    return f"1|H0STCNI0|{draw(st.sampled_from(['001', '1', '002']))}|{payload}"


messages = st.one_of(
    st.text(max_size=300),
    mutated(st.sampled_from(WS_TEXTS)),
    odd_counts(),
    deep_json(),
    wrong_typed_ack(),
    encrypted_frames(),
)

KEY_SETS: list[dict[str, tuple[str, str]]] = [
    {},
    {"H0STCNI0": (CNI_KEY, CNI_IV)},
    {"H0STCNI0": ("short", "iv")},
    {"H0STCNI0": ("ключ" * 8, "вектор-вектор-вв")},
]


def _check_event(text: str, event: object) -> None:
    assert isinstance(event, (codec.Frame, codec.Control, codec.PingPong, codec.DecodeError)), event
    if isinstance(event, codec.Control):
        assert event.key is None or isinstance(event.key, str)
        assert event.iv is None or isinstance(event.iv, str)
    for obj in codec.to_json_lines(event):
        json.dumps(obj, ensure_ascii=False)


@FUZZ
@given(text=messages, keys=st.sampled_from(KEY_SETS))
def test_decode_returns_a_value_for_any_text(text: str, keys: dict[str, tuple[str, str]]) -> None:
    _check_event(text, codec.decode(text, keys))


@FUZZ
@given(texts=st.lists(messages, min_size=1, max_size=8), real_ack_first=st.booleans())
def test_session_turns_every_message_into_outcomes(texts: list[str], real_ack_first: bool) -> None:
    sess = s.ClientSession.for_symbols(["005930"], ("H0STCNT0", "H0STCNI0"))
    if real_ack_first:
        ack = {
            "header": {"tr_id": "H0STCNI0", "tr_key": "hts", "encrypt": "Y"},
            "body": {
                "rt_cd": "0",
                "msg_cd": "OPSP0000",
                "msg1": "OK",
                "output": {"iv": CNI_IV, "key": CNI_KEY},
            },
        }
        texts = [json.dumps(ack)] + texts
    outcome_types = (s.Reply, s.Acked, s.Refused, s.SessionError, codec.Frame, s.Heartbeat, s.Malformed)
    for text in texts:
        before = dict(sess.keys)
        outcomes = sess.receive(text)
        assert outcomes and all(isinstance(o, outcome_types) for o in outcomes), outcomes
        event = codec.decode(text, before)
        bad = isinstance(event, codec.DecodeError) or (
            isinstance(event, codec.Frame) and event.error is not None
        )
        assert bad == any(isinstance(o, s.Malformed) for o in outcomes), (text[:200], outcomes)
        for tr, (key, iv) in sess.keys.items():
            assert isinstance(tr, str) and isinstance(key, str) and isinstance(iv, str)


# -- the named attacks, one example each (they also run when the fuzz budget is tiny) -------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * 1_000 + "]" * 1_000,
        '{"header":' * 5_000 + "{}" + "}" * 5_000,
        "0|H0STCNT0|²|" + "^".join(trade("005930", "090000", 1, 1, 1)),
        "0|H0STCNT0|" + "9" * 5_000 + "|x",
        '{"header":{"tr_id":"H0STCNT0","tr_key":"005930"},"body":{"rt_cd":"0","msg_cd":"OPSP0000",'
        '"msg1":"x","output":{"iv":1234567890123456,"key":["k"]}}}',
        '{"header":{"tr_id":"H0STCNT0","tr_key":"005930"},"body":{"rt_cd":"0","msg_cd":"OPSP0000",'
        '"msg1":"x","output":{"iv":"886b95bc1e1aa344","key":{"k":1}}}}',
        '{"header":{"tr_id":["H0STCNT0"]},"body":{}}',
        '{"header":{"tr_id":"PINGPONG","datetime":' + "9" * 5_000 + "}}",
        "{" + " " * (codec.MAX_CONTROL_CHARS + 1) + "}",
    ],
    ids=[
        "deep-list",
        "deep-dict",
        "superscript-count",
        "5000-digit-count",
        "ack-key-iv-not-strings",
        "ack-key-object",
        "tr-id-list",
        "5000-digit-int",
        "oversized-json",
    ],
)
def test_known_attacks_are_malformed_not_exceptions(text: str) -> None:
    sess = s.ClientSession.for_symbols(["005930"])
    outcomes = sess.receive(text)
    assert [type(o) for o in outcomes] == [s.Malformed], outcomes
    assert sess.keys == {} and sess.acked == {}


def test_a_real_ack_nested_in_strings_is_still_an_ack() -> None:
    """The depth scan must not count brackets inside strings: msg1 full of '[' is still a real ack."""
    ack = json.loads(next(t for t in JSON_TEXTS if "OPSP0000" in t))
    ack["body"]["msg1"] = "[{" * 200
    outcomes = s.ClientSession.for_symbols(["005930"]).receive(json.dumps(ack))
    assert [type(o) for o in outcomes] == [s.Acked]


def test_a_real_data_frame_still_decodes_whole() -> None:
    ev = codec.decode(DATA_TEXTS[0])
    assert isinstance(ev, codec.Frame) and ev.error is None and ev.count == 1 and ev.width == 46
