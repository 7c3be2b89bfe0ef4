"""mojito2 (PyPI `mojito2`, import name `mojito`), unmodified, against fakekis: only its hosts are pointed here.

mojito is the long-standing community wrapper (REST class `KoreaInvestment`, realtime class
`KoreaInvestmentWS`). Its hosts are literals inside methods, so pointing it at fakekis means: its
`set_base_url` (the one place that picks the REST host) answers fakekis's URL, `KoreaInvestmentWS.base_url`
(a public attribute, used for Approval) is set, and the `websockets` name inside its module hands
`connect` fakekis's URL when, and only when, mojito asks for the real live host (anything else fails the
test). Its realtime class is a `multiprocessing.Process`; the test runs its `run()` on a thread of this
process instead of forking, so the redirect cannot be lost in a child (which would then dial real KIS).

What each test catches:
- a token or inquire-price answer it cannot read (it reads `access_token` and `expires_in`, then the
  `output` of inquire-price with lower-case query names);
- realtime: its subscribe (approval key, custtype P, an extra `personalseckey`), its text echo of
  PINGPONG (the legacy samples' answer, which KIS accepts), and its records: mojito cuts H0STCNT0 by
  the count at a hard-coded 46 fields, so every trade must arrive as one dict with the tape's price,
  volume and time. From 2026-09-14 KIS sends 47, and the second record of a batched frame starts one
  field early: on a 47-field recording that is a strict expected failure (real KIS shows it too).
  Its realtime class has no mock option (the live port only), so realtime runs on fakekis's live env.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

import pytest
import websockets
from compat_clients import CLOSED_REST, Era, emitted, era_params, frames_of, records, require

mojito = require("mojito", "mojito2")
mojito_module = require("mojito.koreainvestment", "mojito2")  # where its `websockets` name lives

pytestmark = pytest.mark.ws

ACCOUNT = "50123456-01"
SYMBOL = "005930"
KIS_LIVE_WS = "ws://ops.koreainvestment.com:21000"  # the literal inside KoreaInvestmentWS.ws_client


def _mojito_reads(era: Era) -> str | None:
    if era.trade_fields == 46:
        return None
    return (
        f"mojito2 0.1.6 cuts H0STCNT0 records every 46 fields (parse_execution); at {era.trade_fields} "
        f"the second record of a batched frame is shifted, as it is against real KIS since 2026-09-14"
    )


def _point_rest(fake_kis: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`KoreaInvestment.set_base_url(mock)` picks the REST host: live or mock, each the fakekis environment
    of that name or a closed port. Its token file `token.dat` is written to the working directory."""
    urls = {env: fake_kis.urls.get(env, {}).get("rest_url", CLOSED_REST) for env in ("live", "mock")}
    monkeypatch.setattr(
        mojito.KoreaInvestment,
        "set_base_url",
        lambda self, mock=True: setattr(self, "base_url", urls["mock" if mock else "live"]),
    )
    monkeypatch.chdir(tmp_path)


class _Websockets:
    """Stands in for the `websockets` name in mojito's module: connects to fakekis instead of the live host."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.asked: list[str] = []

    def connect(self, uri: str, **kwargs: Any) -> Any:
        self.asked.append(uri)
        if uri != KIS_LIVE_WS:
            raise AssertionError(f"mojito asked for {uri!r}, not the live host it is known to use")
        return websockets.connect(self.url, **kwargs)


@pytest.mark.parametrize(("era", "env"), era_params(("live", "mock")))
def test_token_then_inquire_price(
    fake_kis: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, era: Era, env: str
) -> None:
    _point_rest(fake_kis, monkeypatch, tmp_path)
    broker = mojito.KoreaInvestment(fake_kis.appkey, fake_kis.appsecret, ACCOUNT, mock=env == "mock")
    resp = broker.fetch_price(SYMBOL)  # inquire-price FHKST01010100 with the token from the constructor
    first = records("H0STCNT0", SYMBOL, frames_of(era.recording))[0]
    assert resp["rt_cd"] == "0"
    assert (resp["output"]["stck_prpr"], resp["output"]["acml_vol"]) == (first[2], first[13])
    assert (tmp_path / "token.dat").is_file()


def _take(q: Any, n: int, what: str, timeout: float = 10.0) -> list[Any]:
    """n items from mojito's queue, each within `timeout`."""
    out = []
    for _ in range(n):
        try:
            out.append(q.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"mojito2: {what}: {len(out)} of {n} within {timeout}s") from None
    return out


@pytest.mark.parametrize(("era", "env"), era_params(("live",), _mojito_reads))
def test_trades_and_books_record_for_record(
    fake_kis: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, era: Era, env: str
) -> None:
    redirect = _Websockets(fake_kis.ws_url)
    monkeypatch.setattr(mojito_module, "websockets", redirect)
    ws = mojito.KoreaInvestmentWS(fake_kis.appkey, fake_kis.appsecret, ["H0STCNT0", "H0STASP0"], [SYMBOL])
    ws.base_url = fake_kis.rest_url  # Approval
    failures: list[BaseException] = []

    def run() -> None:
        try:
            ws.run()  # what Process.start() would run in a child: here, on a thread of this process
        except websockets.ConnectionClosed:
            pass  # the teardown's drop
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            failures.append(exc)

    thread = threading.Thread(target=run, name="mojito-ws", daemon=True)
    thread.start()
    try:
        fake_kis.wait_until(lambda s: s["acks"].get("OPSP0000") == 2 or not thread.is_alive())
        assert not failures and redirect.asked == [KIS_LIVE_WS]
        fake_kis.advance(30.0)  # three PINGPONGs too: mojito echoes each as text
        sent = emitted(fake_kis, era.recording)
        want_trades, want_books = records("H0STCNT0", SYMBOL, sent), records("H0STASP0", SYMBOL, sent)
        assert want_trades and want_books
        got = _take(ws.queue, len(want_trades) + len(want_books), "every trade and book record")
        trades = [d for kind, d in got if kind == "체결"]
        books = [d for kind, d in got if kind == "호가"]
        assert [
            (t["유가증권단축종목코드"], t["주식현재가"], t["체결거래량"], t["누적거래량"], t["주식체결시간"])
            for t in trades
        ] == [(r[0], r[2], r[12], r[13], r[1]) for r in want_trades]
        assert [(b["영업시간"], b["매도호가01"], b["매수호가01"], b["매도호가잔량01"]) for b in books] == [
            (r[1], r[3], r[13], r[23]) for r in want_books
        ]
        stats = fake_kis.wait_until(lambda s: s["ping_echoes"] == 3)  # every PINGPONG answered
        assert stats["drops"] == {} and stats["sessions_opened"] == 1
    finally:
        fake_kis.drop()  # mojito has no stop: its recv loop ends when the socket dies
        thread.join(10)
        ws.queue.close()
        ws.queue.join_thread()
        assert not thread.is_alive(), "mojito2's realtime thread did not end after the socket was dropped"
    assert not failures, failures
