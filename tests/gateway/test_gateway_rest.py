"""The gateway's REST client against fakekis's REST app (in-process ASGI), one manual clock:
token cached on disk per environment, never more than one issuance per minute per appkey, even
across restarts; expired tokens re-issued within that limit; calls paced to the budget."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conftest import APPKEY, SECRET, kst, trade
from fakekis.exchange.auth import Registry
from fakekis.exchange.market import MarketState
from fakekis.serve.rest import create_app
from fakekis.wire import frames
from gateway.config import from_env
from gateway.diagnose import _rest_finding
from gateway.metrics import Metrics
from gateway.redact import Redactor, StageLog
from gateway.rest import HOLD_OFF, RestClient, RestError
from kisclock import ManualClock

pytestmark = pytest.mark.anyio
T0 = kst(2026, 11, 25, 9, 0)


class World:
    def __init__(self, tmp: Path, rps: str = "50") -> None:
        self.clock, self.registry, self.market = (
            ManualClock(T0),
            Registry("mock", rest_rps=100),
            MarketState(),
        )
        self.market.apply(
            "H0STCNT0",
            frames.data_frame("H0STCNT0", [trade("005930", "090000", 71_500, 71_000, 9)]),
            1,
            "005930",
        )
        self.app = create_app(self.registry, self.market, self.clock)
        self.cfg = from_env(
            {
                "KIS_ENV": "mock",
                "KIS_APP_KEY": APPKEY,
                "KIS_APP_SECRET": SECRET,
                "KIS_REST_URL": "http://kis",
                "KIS_WS_URL": "ws://kis",
                "GATEWAY_TOKEN_DIR": str(tmp),
                "GATEWAY_REST_RPS": rps,
            }
        )

    def client(self) -> RestClient:
        """A fresh gateway process: new memory, same disk."""
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://kis")
        return RestClient(self.cfg, self.clock, Metrics(), StageLog(Redactor(self.cfg.secrets)), http)

    @property
    def issued(self) -> int:
        return len(self.registry.tokens)


async def test_token_is_cached_on_disk_and_reused_by_the_next_process(tmp_path: Path) -> None:
    w = World(tmp_path)
    a = w.client()
    assert (await a.inquire_price("005930"))["stck_prpr"] == "71500"
    await a.inquire_price("005930")
    assert a.metrics.token_issuances == 1
    b = w.client()  # a restart
    await b.inquire_price("005930")
    assert b.metrics.token_issuances == 0 and w.registry.last_issue_call and w.issued == 1
    files = [f for f in tmp_path.iterdir() if not f.name.endswith(".lock")]  # the flock file stays
    assert (
        len(files) == 1
        and files[0].name.startswith("token-mock-")
        and files[0].stat().st_mode & 0o777 == 0o600
    )


async def test_never_more_than_one_issuance_per_minute_even_across_restarts(tmp_path: Path) -> None:
    w = World(tmp_path)
    a = w.client()
    await a.access_token()
    w.registry.tokens.clear()  # the server forgets every token (e.g. a KIS restart)
    w.registry.latest.clear()
    b = w.client()
    b._token = None
    with pytest.raises(RestError) as err:  # EGW00121 -> drop -> re-issue refused locally: < 60 s
        await b.inquire_price("005930")
    # The gateway's own hold-off, not KIS's EGW00133: KIS was never asked for the second token.
    assert err.value.code == HOLD_OFF and "KIS was not asked" in err.value.reason and w.issued == 0
    finding = _rest_finding({"ok": False, "code": err.value.code, "reason": err.value.reason})
    assert "gateway's own token hold-off" in finding["cause"] and "EGW00133" not in finding["cause"]
    assert w.registry.last_issue_call[APPKEY] == T0  # the server saw exactly one tokenP call
    w.clock.advance(61)
    assert (await b.inquire_price("005930"))["stck_prpr"] == "71500"
    assert b.metrics.token_issuances == 1


async def test_expired_token_is_reissued_and_the_call_retried(tmp_path: Path) -> None:
    w = World(tmp_path)
    a = w.client()
    await a.inquire_price("005930")
    w.clock.advance(86_400 - 300)  # inside the refresh margin: renewed before use
    await a.inquire_price("005930")
    assert a.metrics.token_issuances == 2 and a.metrics.rest_errors == {}


async def test_pacing_holds_calls_to_the_budget(tmp_path: Path) -> None:
    w = World(tmp_path, rps="1")
    a = w.client()
    await a.inquire_price("005930")
    with pytest.raises(RestError) as err:  # the next slot is 1 s away; allowed wait is 2 s ...
        a.pacer.max_wait = 0.5  # ... made shorter here to see the refusal
        await a.inquire_price("005930")
    assert err.value.code == "budget"


async def test_approval_key_uses_secretkey_and_is_masked(tmp_path: Path) -> None:
    w = World(tmp_path)
    a = w.client()
    key = await a.approval_key()
    assert w.registry.appkey_for_approval(key) == APPKEY
    assert key not in a.log.redact(f"approval {key}")


async def test_pacer_lets_n_per_window_through_and_never_more() -> None:
    import asyncio

    from gateway.rest import Pacer

    clock = ManualClock(T0)
    pacer = Pacer(3, clock, max_wait=0.5)
    for _ in range(3):
        await pacer.acquire()  # the whole budget goes at once
    with pytest.raises(RestError):  # the 4th would wait 1 s > max_wait
        await pacer.acquire()
    pacer.max_wait = 5.0
    grants: list[float] = []

    async def call() -> None:
        await pacer.acquire()
        grants.append(clock.now())

    tasks = [asyncio.create_task(call()) for _ in range(4)]
    await asyncio.sleep(0)
    assert grants == []  # all four wait for the window to slide
    for _ in range(4):
        clock.advance(0.5)
        for _ in range(5):
            await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert grants == [T0 + 1, T0 + 1, T0 + 1, T0 + 2]
    times = [T0] * 3 + grants
    assert all(times[i + 3] - times[i] >= 1.0 for i in range(len(times) - 3))  # <= 3 in any 1 s window
