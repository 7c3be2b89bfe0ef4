"""REST replay from rest.yaml (docs/recordings.md): vcrpy-style matchers, the tape's timeline, misses counted,
auth never replayed. The core (`exchange.cassette`) is driven directly; then through the REST app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from conftest import APPKEY, SECRET, kst, trade
from fakekis import tape
from fakekis.exchange.auth import Registry
from fakekis.exchange.cassette import DEFAULT_MATCH_ON, MATCHERS, Asked, Miss, Replay
from fakekis.exchange.market import MarketState
from fakekis.serve.replay import CassetteReplay
from fakekis.serve.rest import INQUIRE_PRICE, create_app
from fakekis.tape import cassette, reader
from fakekis.tape.cassette import Interaction
from fakekis.wire import frames
from kisclock import ManualClock

T0 = kst(2026, 11, 25, 9, 0)
DAILY = "/uapi/domestic-stock/v1/quotations/inquire-daily-price"
PRICE_QUERY = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}


def interaction(
    path: str = INQUIRE_PRICE,
    query: str = "FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930",
    tr_id: str = "FHKST01010100",
    t: float | None = None,
    answer: dict[str, Any] | None = None,
    method: str = "GET",
    body: str | None = None,
    status: int = 200,
) -> dict[str, Any]:
    """One interaction as vcrpy writes it (header values are lists), plus the optional `t`."""
    out: dict[str, Any] = {} if t is None else {"t": t}
    out["request"] = {
        "method": method,
        "uri": f"https://openapivts.koreainvestment.com:29443{path}" + (f"?{query}" if query else ""),
        "body": body,
        "headers": {"tr_id": [tr_id], "appkey": ["REDACTEDAPPKEY1xxxx"], "custtype": ["P"]},
    }
    out["response"] = {
        "status": {"code": status, "message": "OK"},
        "headers": {
            "Content-Type": ["application/json; charset=utf-8"],
            "tr_id": [tr_id],
            "tr_cont": ["M"],
            "gt_uid": ["0" * 32],
            "Date": ["Wed, 25 Nov 2026 00:00:10 GMT"],
        },
        "body": {"string": json.dumps(answer or {"rt_cd": "0", "msg_cd": "MCA00000", "output": {}})},
    }
    return out


def replay(*raw: dict[str, Any], match_on: tuple[str, ...] = DEFAULT_MATCH_ON) -> Replay:
    return Replay(cassette.parse(raw), match_on)


def asked(path: str = INQUIRE_PRICE, tr_id: str = "FHKST01010100", **kw: Any) -> Asked:
    query = kw.pop("query", PRICE_QUERY)
    return Asked.of(kw.pop("method", "GET"), path, query.items(), {"tr_id": tr_id}, kw.pop("body", b""))


def price(answer: Interaction | Miss | None) -> str:
    assert isinstance(answer, Interaction), answer
    return str(json.loads(answer.response_body)["output"]["stck_prpr"])


def _answer(p: str) -> dict[str, Any]:
    return {"output": {"stck_prpr": p}, "rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다."}


# -- the core ---------------------------------------------------------------------------------


def test_hit_and_counted_miss() -> None:
    r = replay(interaction(t=1.0, answer=_answer("71500")))
    assert price(r.answer(asked(), now=2.0)) == "71500"
    first = r.answer(asked(DAILY, "FHKST01010400"), now=2.0)
    again = r.answer(asked(DAILY, "FHKST01010400"), now=3.0)
    assert first == Miss(f"GET {DAILY} tr_id=FHKST01010400", first=True, too_early=False)
    assert isinstance(again, Miss) and not again.first
    stats = r.stats()
    assert (stats["hits"], stats["misses"], stats["too_early"]) == (1, 2, 0)
    assert stats["missed"] == {f"GET {DAILY} tr_id=FHKST01010400": 2}
    assert stats["interactions"] == 1 and stats["match_on"] == list(DEFAULT_MATCH_ON)


def test_timeline_answer_recorded_nearest_before_now() -> None:
    r = replay(interaction(t=100.0, answer=_answer("72000")), interaction(t=10.0, answer=_answer("71000")))
    assert price(r.answer(asked(), now=50.0)) == "71000"
    assert price(r.answer(asked(), now=150.0)) == "72000"
    assert price(r.answer(asked(), now=100.0)) == "72000"  # recorded at exactly now counts
    early = r.answer(asked(), now=5.0)
    assert isinstance(early, Miss) and early.too_early  # the caller falls back to its own answer
    assert r.stats()["too_early"] == 1


def test_untimed_interactions_count_as_t0_and_ties_go_to_the_first_in_the_file() -> None:
    r = replay(interaction(answer=_answer("1")), interaction(answer=_answer("2")))
    assert price(r.answer(asked(), now=0.0)) == "1"
    assert price(r.answer(asked(), now=9999.0)) == "1"  # no time: never the later state leaking early


def test_matchers_on_tr_id_and_query() -> None:
    r = replay(interaction(t=0.0, answer=_answer("71500")))
    assert isinstance(r.answer(asked(tr_id="FHKST01010400"), now=1.0), Miss)
    assert isinstance(r.answer(asked(query={**PRICE_QUERY, "FID_INPUT_ISCD": "000660"}), now=1.0), Miss)
    assert isinstance(r.answer(asked(query={"FID_INPUT_ISCD": "005930"}), now=1.0), Miss)
    assert isinstance(r.answer(asked(method="POST"), now=1.0), Miss)
    # query names are case-insensitive at KIS (docs/kis/protocol.md §3.1), and their order does not matter
    lower = {"fid_input_iscd": "005930", "fid_cond_mrkt_div_code": "J"}
    assert price(r.answer(asked(query=lower), now=1.0)) == "71500"
    # the matchers are named and chosen, as vcrpy's match_on
    loose = replay(interaction(t=0.0, answer=_answer("71500")), match_on=("method", "path"))
    assert price(loose.answer(asked(tr_id="FHKST01010400", query={}), now=1.0)) == "71500"
    assert set(MATCHERS) == {"method", "path", "tr_id", "query", "body"}
    with pytest.raises(ValueError, match="unknown REST matcher headers; the matchers are method, path"):
        replay(match_on=("method", "headers"))


def test_body_matcher_compares_json_documents() -> None:
    path = "/uapi/hashkey"
    r = replay(interaction(path, "", "", 0.0, _answer("1"), "POST", '{"a": 1, "b": "x"}'))
    assert price(r.answer(asked(path, "", query={}, method="POST", body=b'{"b":"x","a":1}'), 1.0)) == "1"
    assert isinstance(r.answer(asked(path, "", query={}, method="POST", body=b'{"a":2,"b":"x"}'), 1.0), Miss)


def test_auth_is_never_replayed_nor_counted() -> None:
    token = interaction("/oauth2/tokenP", "", "", 0.0, {"access_token": "recorded"}, "POST", "{}")
    r = replay(token)
    assert r.stats()["interactions"] == 0
    assert r.answer(asked("/oauth2/tokenP", "", query={}, method="POST", body=b"{}"), 1.0) is None
    assert r.answer(asked("/oauth2/Approval", "", query={}, method="POST"), 1.0) is None
    assert r.answer(asked("/__fakekis/stats", "", query={}), 1.0) is None
    assert r.stats()["misses"] == 0


# -- the format: `t` on interactions ----------------------------------------------------------


def test_stamp_gives_each_interaction_its_time_and_vcrpy_still_reads_it(tmp_path: Path) -> None:
    import vcr.serialize
    import vcr.serializers.yamlserializer

    path = tmp_path / "rest.yaml"
    path.write_text(json.dumps({"interactions": [interaction(), interaction(DAILY)], "version": 1}))
    assert not cassette.stamp(path, [1.0])  # counts disagree: untouched
    assert cassette.stamp(path, [1.25, 7.5])
    parsed = cassette.parse(reader._load_rest(path, reader._Problems(collect=False)))
    assert [(i.t, i.path) for i in parsed] == [(1.25, INQUIRE_PRICE), (7.5, DAILY)]
    requests, responses = vcr.serialize.deserialize(path.read_text(), vcr.serializers.yamlserializer)
    assert [r.path for r in requests] == [INQUIRE_PRICE, DAILY] and len(responses) == 2


@pytest.mark.parametrize("bad", [-1, "10", True])
def test_loader_names_a_bad_t(tmp_path: Path, bad: object) -> None:
    path = tmp_path / "rest.yaml"
    path.write_text(json.dumps({"interactions": [{**interaction(), "t": bad}]}))
    with pytest.raises(tape.RecordingError, match=r'rest.yaml: interaction #0: "t" must be seconds >= 0'):
        reader._load_rest(path, reader._Problems(collect=False))


# -- through the REST app ---------------------------------------------------------------------


class Tape:
    """The tape's "now" as a test sets it."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


@pytest.fixture
def app() -> tuple[TestClient, Tape, Replay]:
    clock, market, reg = ManualClock(T0), MarketState(), Registry("live", rest_rps=100)
    market.apply(
        "H0STCNT0",
        frames.data_frame("H0STCNT0", [trade("005930", "090000", 70_100, 71_000, 900)]),
        1,
        "005930",
    )
    r = replay(
        interaction(t=10.0, answer=_answer("71000")),
        interaction(t=100.0, answer=_answer("72000")),
        interaction(DAILY, "FID_INPUT_ISCD=005930", "FHKST01010400", 10.0, {"rt_cd": "0", "output": []}),
    )
    tape_time = Tape()
    client = TestClient(create_app(reg, market, clock, cassette=CassetteReplay(r, tape_time.now)))
    return client, tape_time, r


def _token(client: TestClient) -> dict[str, str]:
    body = {"grant_type": "client_credentials", "appkey": APPKEY, "appsecret": SECRET}
    token = client.post("/oauth2/tokenP", json=body).json()["access_token"]
    return {"authorization": f"Bearer {token}", "appkey": APPKEY, "appsecret": SECRET, "custtype": "P"}


def test_recorded_inquire_price_wins_over_the_synthesised_one(app: tuple[TestClient, Tape, Replay]) -> None:
    client, tape_time, r = app
    headers = {**_token(client), "tr_id": "FHKST01010100"}
    tape_time.t = 5.0  # nothing recorded yet: the exchange answers from the WS tape
    assert (
        client.get(INQUIRE_PRICE, params=PRICE_QUERY, headers=headers).json()["output"]["stck_prpr"]
        == "70100"
    )
    tape_time.t = 50.0
    got = client.get(INQUIRE_PRICE, params=PRICE_QUERY, headers=headers)
    assert got.json() == _answer("71000") and got.headers["tr_cont"] == "M"  # the recorded headers too
    tape_time.t = 150.0
    assert client.get(INQUIRE_PRICE, params=PRICE_QUERY, headers=headers).json() == _answer("72000")
    # the token is still the exchange's: a recorded answer never bypasses it
    bad = client.get(INQUIRE_PRICE, params=PRICE_QUERY, headers={**headers, "authorization": "Bearer x"})
    assert bad.status_code == 500 and bad.json()["msg_cd"] == "EGW00121"
    assert (r.hits, r.misses, r.too_early) == (2, 1, 1)


def test_recorded_path_without_rules_is_replayed_and_a_missing_one_counted(
    app: tuple[TestClient, Tape, Replay],
) -> None:
    client, tape_time, r = app
    tape_time.t = 20.0
    daily = {**_token(client), "tr_id": "FHKST01010400"}
    no_token = client.get(DAILY, params={"FID_INPUT_ISCD": "005930"}, headers={"tr_id": "FHKST01010400"})
    assert no_token.status_code == 500 and no_token.json()["msg_cd"] == "EGW00122"
    got = client.get(DAILY, params={"FID_INPUT_ISCD": "005930"}, headers=daily)
    assert got.status_code == 200 and got.json() == {"rt_cd": "0", "output": []}
    missing = client.get("/uapi/domestic-stock/v1/quotations/inquire-investor", headers=daily)
    assert missing.status_code == 404 and missing.json()["msg_cd"] == "EGW00003"
    assert r.stats()["missed"] == {
        "GET /uapi/domestic-stock/v1/quotations/inquire-investor tr_id=FHKST01010400": 1
    }


# -- the index is only a speed-up: it answers exactly as a scan of every interaction would ------------

_PATHS = (INQUIRE_PRICE, DAILY, "/oauth2/tokenP")
_QUERIES = ((), (("FID_INPUT_ISCD", "005930"),), (("FID_INPUT_ISCD", "000660"),))
_BODIES = ("", '{"a":1}', '{"a": 1}', '{"a":2}', "x")


def _reference(interactions: list[Interaction], match_on: tuple[str, ...], a: Asked, now: float) -> object:
    """The definition in docs/recordings.md, by brute force."""
    if a.path.startswith(("/oauth2/", "/__fakekis/")):
        return None
    matching = [
        i
        for i in interactions
        if not i.path.startswith("/oauth2/") and all(MATCHERS[name](a, i) for name in match_on)
    ]
    due = [i for i in matching if (i.t or 0.0) <= now]
    if due:
        return max(due, key=lambda i: (i.t or 0.0, -i.index))
    return ("miss", bool(matching))


_request = st.tuples(
    st.sampled_from(("GET", "POST")),
    st.sampled_from(_PATHS),
    st.sampled_from(("FHKST01010100", "FHKST01010400")),
    st.sampled_from(_QUERIES),
    st.sampled_from(_BODIES),
)


@settings(max_examples=300, deadline=None)
@given(
    recorded=st.lists(st.tuples(_request, st.sampled_from((None, 0.0, 10.0, 10.0, 100.0))), max_size=12),
    asks=st.lists(
        st.tuples(_request, st.sampled_from((-1.0, 0.0, 5.0, 10.0, 50.0, 100.0, 150.0))), max_size=6
    ),
    match_on=st.lists(st.sampled_from(sorted(MATCHERS)), unique=True).map(tuple),
)
def test_indexed_answer_equals_a_scan(
    recorded: list[tuple[tuple[str, str, str, tuple[tuple[str, str], ...], str], float | None]],
    asks: list[tuple[tuple[str, str, str, tuple[tuple[str, str], ...], str], float]],
    match_on: tuple[str, ...],
) -> None:
    interactions = [
        Interaction(n, t, method, path, query, {"tr_id": tr_id}, body, 200, (), b"{}")
        for n, ((method, path, tr_id, query, body), t) in enumerate(recorded)
    ]
    r = Replay(interactions, match_on)
    for (method, path, tr_id, query, body), now in asks:
        a = Asked.of(method, path, query, {"tr_id": tr_id}, body)
        got = r.answer(a, now)
        want = _reference(interactions, match_on, a, now)
        if isinstance(got, Miss):
            assert want == ("miss", got.too_early)
        else:
            assert got is want
