"""Errors are values (issue #12): no client text makes the request parser or the exchange raise, with or
without faults, and no replayed frame text makes the data pipeline raise.

A few seconds in the normal suite; `KIS_HARNESS_FUZZ_EXAMPLES=1000000 pytest -m fuzz` (or `tox -e fuzz`)
runs the long version. A bad request is KIS's parse-error reply (rt_cd 9) and a count in
`stats.parse_errors`, and every reply can be encoded and sent as UTF-8.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakekis import faults
from fakekis.exchange.actions import Data, Raw, Reply, encode
from fakekis.exchange.auth import Registry
from fakekis.exchange.sessions import Exchange
from fakekis.wire import frames

EXAMPLES = int(os.environ.get("KIS_HARNESS_FUZZ_EXAMPLES", "200"))
# the long run is bounded by its example count, not by the suite's per-test timeout
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(0 if EXAMPLES > 200 else 120)]
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

# the values a wrong client puts where strings belong
odd = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["P", "B", "1", "2", "H0STCNT0", "005930", "PINGPONG", "<KEY>", "\ud800", "²", "٣"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
# strings that look right until they are used: echoed back (lone surrogates cannot be encoded), counted
# (digits that int() refuses), too long
WEIRD = ["\ud800", "005930\udfff", "²", "٣", "", "x" * 17, "<KEY>", "H0STCNT0"]
PATHS = [
    ("header",),
    ("body",),
    ("header", "approval_key"),
    ("header", "custtype"),
    ("header", "tr_type"),
    ("header", "tr_id"),
    ("body", "input"),
    ("body", "input", "tr_id"),
    ("body", "input", "tr_key"),
]


@st.composite
def near_valid(draw: st.DrawFn) -> object:
    """A good subscribe request with one to three fields replaced by odd values or removed: the shapes
    that get past the first checks and reach the exchange's rules ("<KEY>" becomes a real approval key)."""
    doc: dict[str, object] = {
        "header": {"approval_key": "<KEY>", "custtype": "P", "tr_type": "1", "content-type": "utf-8"},
        "body": {"input": {"tr_id": "H0STCNT0", "tr_key": "005930"}},
    }
    for path in draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3, unique=True)):
        parent: object = doc
        for step in path[:-1]:
            parent = parent.get(step) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            if draw(st.booleans()):
                parent[path[-1]] = draw(st.one_of(st.sampled_from(WEIRD), odd))
            else:
                parent.pop(path[-1], None)
    return doc


request = st.one_of(
    odd,
    near_valid(),
    st.fixed_dictionaries({}, optional={"header": odd, "body": odd}),
)


def _nested(depth: int, opener: str) -> str:
    """`[[[...1...]]]` or `{"a":{"a":...1}}`, `depth` levels deep."""
    if opener == "[":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


client_text = st.one_of(
    st.text(max_size=300),
    request.map(lambda doc: json.dumps(doc, ensure_ascii=False)),
    near_valid().map(lambda doc: json.dumps(doc, ensure_ascii=False)),
    near_valid().map(lambda doc: json.dumps(doc)),  # \\uXXXX escapes: lone surrogates come back from json
    st.builds(_nested, st.integers(1, 3000), st.sampled_from("[{")),  # RecursionError at ~1,000
    st.text(alphabet='{}[]":,\\ a1', max_size=400),
    st.integers(4000, 9000).map(lambda n: '{"header":{"x":"' + "y" * n + '"}}'),
)


def _exchange(scenario: faults.Scenario) -> tuple[Exchange, str]:
    reg = Registry("mock")
    key = str(
        reg.issue_approval({"grant_type": "client_credentials", "appkey": "A" * 36, "secretkey": "s" * 180})[
            1
        ]["approval_key"]
    )
    return Exchange(reg, scenario=scenario), key


ALL_REQUEST_FAULTS = faults.Scenario(
    [
        faults.MaxSubscribe(limit=1),
        faults.AlreadySubscribedAfterReconnect(),
        faults.EncryptedBeforeKey(),
        faults.ErrorAck(tr_key="000660"),
    ]
)


@FUZZ
@given(texts=st.lists(client_text, min_size=1, max_size=4), faulted=st.booleans())
def test_no_client_text_makes_the_exchange_raise(texts: list[str], faulted: bool) -> None:
    ex, key = _exchange(ALL_REQUEST_FAULTS if faulted else faults.Scenario())
    session = ex.open(0.0)
    for text in texts:
        text = text.replace("<KEY>", key)
        parsed = frames.parse_request(text)
        assert isinstance(parsed, (frames.Request, frames.Reject, frames.PingEcho))
        rejected = ex.stats.parse_errors
        actions = ex.receive(session, text, 1.0)
        if isinstance(parsed, frames.Reject):
            assert ex.stats.parse_errors == rejected + 1
            assert actions == [Reply("", "", "9", parsed.msg_cd, parsed.msg1)]
        for action in actions:
            if isinstance(action, (Reply, Raw)):
                out = encode(action)
                if isinstance(out, str):
                    out.encode("utf-8")  # what the socket does: a lone surrogate would raise here
    # and a good request still works afterwards
    good = json.dumps(
        {
            "header": {"approval_key": key, "custtype": "P", "tr_type": "1", "content-type": "utf-8"},
            "body": {"input": {"tr_id": "H0STCNT0", "tr_key": "005930"}},
        }
    )
    assert isinstance(frames.parse_request(good), frames.Request)


frame_text = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda flag, tr, n, fields: f"{flag}|{tr}|{n}|{'^'.join(fields)}",
        st.sampled_from(["0", "1", "2", ""]),
        st.sampled_from(["H0STCNT0", "H0STASP0", ""]),
        st.one_of(st.sampled_from(["001", "002", "000", "²", "٣", "abc", "-1", ""]), st.text(max_size=4)),
        st.lists(st.text(alphabet="0123456789^|", max_size=6), max_size=100),
    ),
)

DATA_FAULTS: list[faults.Fault[Any]] = [
    faults.FieldDrift(),
    faults.BurstBatching(size=2),
    faults.Malformed(every=2, mode="count"),
    faults.Malformed(every=3, mode="truncate"),
    faults.InvalidUtf8(nth=2),
    faults.Malformed(every=5, mode="garbage"),
]


@FUZZ
@given(texts=st.lists(frame_text, min_size=1, max_size=6), counts=st.integers(0, 3))
def test_no_frame_text_makes_the_data_pipeline_raise(texts: list[str], counts: int) -> None:
    ex, key = _exchange(faults.Scenario(DATA_FAULTS))
    session = ex.open(0.0)
    ex.receive(
        session,
        json.dumps(
            {
                "header": {"approval_key": key, "custtype": "P", "tr_type": "1"},
                "body": {"input": {"tr_id": "H0STCNT0", "tr_key": "005930"}},
            }
        ),
    )
    for text in texts:
        parsed = frames.parse_data_frame(text)
        if parsed is not None:
            parsed.records()
        for _, action in ex.deliver(Data("H0STCNT0", counts, text), "005930", 0.0):
            assert isinstance(action, (Data, Raw))
            encode(action)


def test_size_and_depth_are_refused_before_json_loads() -> None:
    deep = '{"header":' * 17 + "{}" + "}" * 17  # valid JSON, one level past MAX_REQUEST_DEPTH
    assert frames.parse_request(deep) == frames.Reject("OPSP9999", "JSON PARSING ERROR : invalid json format")
    shallow = '{"header":' * 15 + "{}" + "}" * 15
    assert frames.parse_request(shallow) == frames.Reject("OPSP9992", "JSON PARSING ERROR : body not found")
    brackets_in_strings = json.dumps({"header": {"x": "{[" * 50}})  # counted, then scanned: not nesting
    assert frames.parse_request(brackets_in_strings).msg_cd == "OPSP9992"  # type: ignore[union-attr]
    big = '{"header":{"x":"' + "y" * frames.MAX_REQUEST_CHARS + '"}}'
    assert frames.parse_request(big).msg_cd == "OPSP9999"  # type: ignore[union-attr]
