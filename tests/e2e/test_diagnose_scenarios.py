"""`diagnose` names the right first failing boundary and cause for every fault in the catalogue
(and passes, with notes, for the faults the gateway survives)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_fault_scenarios_ws import SYMS, _tape

from conftest import eventually, kst, running
from fakekis import faults as F
from gateway.diagnose import diagnose, probe_rest
from kisclock import ManualClock

pytestmark = [pytest.mark.anyio, pytest.mark.ws]
WED, SAT = kst(2026, 11, 25, 10, 0), kst(2026, 11, 28, 10, 0)

# A clean pass: every boundary reached, no likely cause and no note at all (no reconnect, no malformed frame,
# no refusal). Asserted exactly, so a gateway that survives a fault only by reconnecting does not pass it.
CLEAN = None

# (faults, start, gateway env, ok, first failed boundary, text expected in the causes (or notes when ok))
CASES = [
    ([], WED, {}, True, None, CLEAN),
    ([F.DropAfter(after_s=5)], WED, {}, True, None, "reconnect"),
    ([F.HalfOpen(after_s=5)], WED, {"GATEWAY_WS_IDLE_TIMEOUT": "15"}, True, None, "reconnect"),
    ([F.ReconnectLockout(max_connects=0)], WED, {}, False, "connected", "HTTP 403"),
    ([F.PingpongTimeout(timeout_s=3)], WED, {}, True, None, CLEAN),  # PINGPONG echoed within 3 s
    ([F.ClientPingKills()], WED, {}, True, None, CLEAN),  # the gateway sends no ping frames of its own
    ([F.ApprovalRejected(times=99)], WED, {}, False, "subscribed", "OPSP0011"),
    ([F.SessionInUse(for_s=9_999)], WED, {}, False, "subscribed", "OPSP8996"),
    ([F.NoAck(connections=99)], WED, {"GATEWAY_ACK_TIMEOUT": "5"}, False, "subscribed", "swallowed"),
    ([F.ErrorAck()], WED, {}, False, "subscribed", "OPSP0007"),
    ([F.MaxSubscribe(limit=0)], WED, {}, False, "subscribed", "OPSP0008"),
    ([F.AlreadySubscribedAfterReconnect(), F.DropAfter(after_s=3)], WED, {}, True, None, "reconnect"),
    ([F.EncryptedBeforeKey()], WED, {}, True, None, "malformed"),
    ([F.MarketClosed()], WED, {}, False, "first_message", "session is open"),
    ([F.MarketClosed()], SAT, {}, True, None, "Saturday"),
    ([F.KrxSilentNxtTrades()], WED, {}, False, "first_message", "NXT"),
    ([F.FieldDrift()], WED, {}, True, None, CLEAN),  # appended fields: decoded, not malformed
    ([F.Malformed(every=1, mode="garbage")], WED, {}, False, "first_message", "malformed"),
    ([F.InvalidUtf8(nth=2)], WED, {}, True, None, "1007"),
    ([F.BurstBatching(size=3)], WED, {}, True, None, CLEAN),  # multi-record frames: every record decoded
    ([F.TokenThrottle(times=99)], WED, {}, True, None, "EGW00133"),
    ([F.RestTps(times=99)], WED, {}, True, None, "EGW00201"),
    ([F.TokenExpired(times=99)], WED, {}, True, None, "token"),
    ([F.EnvMismatch()], WED, {}, True, None, "EGW02004"),
    # network faults (docs/faults.md, "Network faults")
    ([F.Latency(latency_s=0.2, jitter_s=0.1, on="ws")], WED, {}, True, None, CLEAN),
    ([F.Bandwidth(bytes_per_s=100_000, on="ws")], WED, {}, True, None, CLEAN),
    # a REST answer held on the manual clock: the probe times out in real time, and diagnose says so
    ([F.SlowRest(delay_s=0.3, path="tokenP")], WED, {}, True, None, "REST fallback broken"),
    ([F.TcpReset(after_s=5)], WED, {}, True, None, "reconnect"),
    ([F.Timeout(after_s=5, on="ws")], WED, {"GATEWAY_WS_IDLE_TIMEOUT": "15"}, True, None, "reconnect"),
    ([F.Slicer(size=16)], WED, {}, True, None, CLEAN),
    # The trading path (F15) never touches a quote client: with every trading fault on, the gateway is clean.
    (
        [F.OrderReject(), F.OrderTps(), F.AcceptanceDelay(), F.NoticeDelay(), F.NoticeLost()],
        WED,
        {},
        True,
        None,
        CLEAN,
    ),
]


def _id(case: tuple) -> str:
    names = "+".join(f.name for f in case[0]) or "healthy"
    return names + ("-saturday" if case[1] == SAT else "")


def test_every_fault_is_diagnosed() -> None:
    used = {type(f) for case in CASES for f in case[0]}
    assert used == set(F.FAULTS.values())


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
async def test_diagnose_names_the_boundary_and_cause(case: tuple, tmp_path: Path) -> None:
    faults, start, env, ok, boundary, cause = case
    async with running(
        _tape(tmp_path), ManualClock(start), tmp_path, SYMS, F.Scenario(list(faults)), **env
    ) as r:
        for _ in range(40):  # 40 s of the morning, asking for quotes as it goes
            # never move time while the worker is mid-attempt: it is connected, or waiting out a backoff
            await eventually(
                lambda: r.metrics.ws_connected or r.metrics.ws_next_attempt_at is not None,
                what="the worker to settle",
            )
            await r.advance(1.0, step=0.5)
            if r.metrics.first.get("cached"):
                for s in SYMS.split(","):
                    await r.quote(s)
        d = diagnose(r.gw, await probe_rest(r.gw))
    text = "\n".join(d.causes + d.notes)
    assert (d.ok, d.first_failed) == (ok, boundary), d.render()
    if cause is CLEAN:
        assert (d.causes, d.notes) == ([], []), d.render()
        assert "VERDICT: PASS - every boundary reached" in d.render()
        evidence = {f.boundary: f.evidence for f in d.findings}
        assert "reconnects 0" in evidence["connected"] and "malformed 0" in evidence["first_message"]
        assert "PINGPONG 0," not in evidence["first_message"], "PINGPONG never reached the gateway"
    else:
        assert cause and cause in text, d.render()
    assert "VERDICT: " + ("PASS" if ok else f"FAIL at '{boundary}'") in d.render()
