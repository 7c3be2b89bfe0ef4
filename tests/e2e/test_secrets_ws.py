"""Canary secrets never reach logs, metrics, HTTP answers or the token-cache name: the gateway runs
the whole path (approval, WS session, REST fallback, errors) with canary credentials and every byte
it emits is scanned."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from conftest import eventually, kst, running, trade, write_recording
from fakekis import tape
from fakekis.wire import frames
from kisclock import ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]
CANARY_KEY = "PSCANARYKEY" + "k" * 25
CANARY_SECRET = "CANARYSECRET" + "s" * 168
CANARY_ACCOUNT = "50123456-01"


async def test_no_secret_in_any_output(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    start = kst(2026, 11, 28, 9, 5)  # Saturday: forces the REST path (token, inquire-price)
    rec = tape.load(
        write_recording(
            tmp_path / "rec",
            start,
            [(0.5, frames.data_frame("H0STCNT0", [trade("005930", "090500", 71_100, 71_000, 10)]))],
        )
    )
    clock = ManualClock(start)
    async with running(rec, clock, tmp_path, KIS_ACCOUNT_NO=CANARY_ACCOUNT) as r:
        assert (r.gw.cfg.app_key, r.gw.cfg.app_secret) == (CANARY_KEY, CANARY_SECRET)
        await eventually(lambda: r.metrics.ws_subscriptions == 1, what="ack")
        await r.advance(1.0)
        outputs = [
            json.dumps((await r.http.get("/v1/metrics/quote")).json()),
            (await r.http.get("/v1/quotes/005930")).text,
            (await r.http.get("/v1/quotes/000660")).text,
        ]
        r.kis.drop_connections("mock")
        await eventually(lambda: not r.metrics.ws_connected, what="drop")
        token = r.gw.rest._token
        approval = r.gw.rest._approval
        r.gw.worker._error(
            f"boom with {approval} and {token} and {r.gw.cfg.app_key}"
        )  # an error quoting them
        outputs.append(json.dumps((await r.http.get("/v1/metrics/quote")).json()))
        outputs.extend(r.gw.log.lines)
        outputs.extend(rec_.getMessage() for rec_ in caplog.records)
        outputs.extend(p.name for p in tmp_path.iterdir())
        blob = "\n".join(outputs)
        secrets = [r.gw.cfg.app_key, r.gw.cfg.app_secret, CANARY_ACCOUNT, CANARY_ACCOUNT[:8], token, approval]
        assert all(secrets) and len(r.gw.log.lines) > 3
        for secret in secrets:
            assert secret not in blob, secret[:6]
        assert "***" in blob  # and the masking visibly happened


@pytest.fixture(autouse=True)
def _canary_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import conftest

    monkeypatch.setattr(conftest, "APPKEY", CANARY_KEY)
    monkeypatch.setattr(conftest, "SECRET", CANARY_SECRET)
