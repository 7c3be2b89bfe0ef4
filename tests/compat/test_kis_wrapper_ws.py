"""kis-wrapper (PyPI `kis-wrapper`, import name `kis`), unmodified, against fakekis: only its REST host table,
its WebSocket URL property and its in-process token cache are pointed here.

A small asyncio-first client (httpx for REST, `websockets` for realtime). What each test catches:
- a token or inquire-price answer it cannot use: it reads `expires_in` from tokenP, requires
  `rt_cd == "0"` and returns inquire-price's `output` (checked against the tape's opening state);
- its realtime path, record for record against the tape, on every bundled layout era. kis-wrapper
  0.3.0 sends its subscribe messages without `header.approval_key` and without `header.custtype` (the
  approval key goes only into a first message whose `input` is empty), so KIS rejects every one and no
  data frame ever arrives: a strict expected failure, as it would be against real KIS. fakekis answers
  OPSP9997 "JSON PARSING ERROR : custtype not found" (rt_cd 9, connection kept); the test checks that
  those are the answers before it looks for records, so the expected failure cannot hide another cause.
  (Were it subscribed, its parser would still take only the first record of a multi-record frame and
  read H0STASP0's ask from the hour-class field.)
"""

from __future__ import annotations

from typing import Any

import pytest
from compat_clients import CLOSED_REST, CLOSED_WS, Era, Inbox, era_params, frames_of, records, require

kis = require("kis", "kis-wrapper")
kis_auth = require("kis.auth", "kis-wrapper")
kis_ws = require("kis.ws", "kis-wrapper")

pytestmark = [pytest.mark.ws, pytest.mark.anyio]

ACCOUNT = "50123456-01"
ENVIRONMENT = {"live": "prod", "mock": "paper"}  # fakekis's environments, kis-wrapper's names
SYMBOL = "005930"
NO_APPROVAL_NOR_CUSTTYPE = (
    "kis-wrapper 0.3.0 subscribes without header.approval_key and header.custtype; KIS rejects such "
    "messages (fakekis: OPSP9997 'custtype not found', rt_cd 9), so no data frame ever reaches it"
)


def _point_at(fake_kis: Any, monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    """Hosts for the whole test: the served environment is fakekis, the other a closed port. Its token cache
    is a module global keyed by (env, appkey): a fresh one, so no token of another fakekis is reused."""
    assert hasattr(kis, "WSClient"), f"`kis` is not kis-wrapper: {kis.__file__}"
    for fake_env, name in ENVIRONMENT.items():
        monkeypatch.setitem(kis_auth._URLS, name, fake_kis.rest_url if fake_env == env else CLOSED_REST)
    monkeypatch.setattr(kis_auth, "_tokens", {})
    ws_url = fake_kis.ws_url
    monkeypatch.setattr(
        kis_ws.WSClient,
        "_ws_url",
        property(lambda self: ws_url if self.kis.env == ENVIRONMENT[env] else CLOSED_WS),
    )


@pytest.mark.parametrize(("era", "env"), era_params(("live", "mock")))
def test_token_then_inquire_price(fake_kis: Any, monkeypatch: pytest.MonkeyPatch, era: Era, env: str) -> None:
    _point_at(fake_kis, monkeypatch, env)
    with kis.KIS(fake_kis.appkey, fake_kis.appsecret, ACCOUNT, env=ENVIRONMENT[env]) as client:
        out = kis.domestic.price(client, SYMBOL)  # tokenP, then inquire-price FHKST01010100
    first = records("H0STCNT0", SYMBOL, frames_of(era.recording))[0]
    assert (out["stck_prpr"], out["acml_vol"]) == (first[2], first[13])  # the day state at the open
    assert fake_kis.stats()["sessions_opened"] == 0  # REST only


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=NO_APPROVAL_NOR_CUSTTYPE)
@pytest.mark.parametrize(("era", "env"), era_params(("live",)))  # the same messages on either port
async def test_trades_record_for_record(
    fake_kis: Any, monkeypatch: pytest.MonkeyPatch, era: Era, env: str
) -> None:
    import asyncio

    from conftest import eventually

    _point_at(fake_kis, monkeypatch, env)
    client = kis.KIS(fake_kis.appkey, fake_kis.appsecret, ACCOUNT, env=ENVIRONMENT[env])
    ws = kis_ws.WSClient(client, max_retries=0)
    trades: Inbox[dict[str, Any]] = Inbox("kis-wrapper")
    runner = None
    try:
        await ws.connect()  # Approval, then the socket and its first message
        await ws.subscribe("H0STCNT0", [SYMBOL], trades.put)
        runner = asyncio.create_task(ws.run())
        # What fakekis answered, before looking for records: the expected failure must be this one and no
        # other, so a different answer fails the test outright (pytest.fail is not an AssertionError).
        try:
            stats = await asyncio.to_thread(fake_kis.wait_until, lambda s: s["parse_errors"] >= 2)
        except AssertionError as exc:
            pytest.fail(f"fakekis did not reject kis-wrapper's messages: {exc}")
        if stats["acks"] or stats["open_sessions"][0]["subscriptions"]:
            pytest.fail(f"fakekis accepted a kis-wrapper subscription: {stats['acks']}")
        await asyncio.to_thread(fake_kis.advance, 30.0)
        await asyncio.to_thread(fake_kis.wait_until, lambda s: fake_kis.caught_up())
        # The trades of the tape's first 30 s: what a subscribed client would have had by now.
        frames = frames_of(era.recording)
        want = records("H0STCNT0", SYMBOL, [f for f in frames if f.t <= frames[0].t + 30.0])
        await eventually(lambda: len(trades.items) >= len(want), timeout=10, what="kis-wrapper: every trade")
        assert [(t["symbol"], t["price"], t["volume"], t["time"]) for t in trades.items[: len(want)]] == [
            (SYMBOL, int(r[2]), int(r[12]), r[1]) for r in want
        ]
    finally:
        await ws.close()  # ends run()'s loop
        if runner is not None:
            done, _ = await asyncio.wait([runner], timeout=10)
            assert done, "kis-wrapper's run() did not end after close()"
            runner.exception()  # its own end (e.g. its reconnect giving up) is not what this test checks
        client.close()
