"""Which boundary failed, with the evidence, and the likely causes (docs/kis/failure-modes.md).

The six boundaries of a quote from KIS realtime to an API answer: worker_started -> connected ->
subscribed -> first_message -> cached -> served_ws. `diagnose(gw)` reads what the gateway itself saw
(metrics, stage log, the KRX calendar, one REST probe) and names the first boundary never reached,
or says that nothing failed (a quiet market with acks and PINGPONG is not a fault).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from gateway.metrics import STAGES

# msg_cd / error text -> likely cause (F-numbers of docs/kis/failure-modes.md)
REFUSAL_CAUSES = {
    "OPSP0011": "approval key rejected (OPSP0011): a key issued in the other environment (mock vs live), an expired "
    "key, or an appkey/secret that does not match KIS_ENV (F8, F6)",
    "OPSP8996": "another process holds this appkey's single WebSocket session (OPSP8996 ALREADY IN USE appkey): "
    "uvicorn --workers N, a second deployment, a second WS client in the app, or a zombie session (F2)",
    "OPSP0008": "registration cap reached (OPSP0008 MAX SUBSCRIBE OVER: 41 per session across all TRs) (F4)",
    "OPSP0007": "the server failed the subscription (OPSP0007 SUBSCRIBE INTERNAL ERROR)",
    "OPSP0017": "wrong HTS ID as the tr_key of a fill-notice subscription (OPSP0017)",
}


@dataclass
class Finding:
    boundary: str
    reached: bool
    at: str | None
    evidence: str


@dataclass
class Diagnosis:
    ok: bool
    first_failed: str | None
    causes: list[str]
    notes: list[str]
    findings: list[Finding]
    rest: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    def render(self) -> str:
        width = max(len(f.boundary) for f in self.findings)
        lines = [f"{'boundary':<{width}}  reached  {'at':<29}  evidence"]
        for f in self.findings:
            lines.append(
                f"{f.boundary:<{width}}  {'yes' if f.reached else 'NO ':<7}  {f.at or '-':<29}  {f.evidence}"
            )
        rest = self.rest
        if rest:
            lines.append(
                f"{'rest':<{width}}  {'yes' if rest.get('ok') else 'NO ':<7}  {'-':<29}  {rest.get('evidence')}"
            )
        lines.append("")
        if self.ok:
            lines.append(
                "VERDICT: PASS" + (f" - {self.causes[0]}" if self.causes else " - every boundary reached")
            )
        else:
            lines.append(f"VERDICT: FAIL at '{self.first_failed}'")
            lines += [f"  likely cause: {c}" for c in self.causes]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _events(lines: list[str], name: str) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        if f'"event": "{name}"' in line:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def diagnose(gw: Any, rest_probe: dict[str, Any] | None = None) -> Diagnosis:
    m = gw.metrics.as_dict()
    lines: list[str] = gw.log.lines
    stages = m["stages"]
    closes = [e.get("code") for e in _events(lines, "ws_close")]
    errors = [e.get("error", "") for e in _events(lines, "ws_error")]
    acks = sorted({str(c) for e in _events(lines, "ws_subscribe") if (c := e.get("msg_cd")) is not None})
    refusals: dict[str, int] = m["ws_refusals"]
    closed_reason = gw.calendar.why_closed(gw.clock.now())
    shards = getattr(gw, "shards", None)  # KIS_CREDENTIALS_FILE: several appkey sessions, maybe a REST tier
    tier: tuple[str, ...] = shards.rest_tier if shards is not None else ()
    on_ws = len(gw.cfg.symbols) - len(tier)

    evidence = {
        "worker_started": f"restarts {m['worker_restarts']}"
        + (f"; {m['last_error']}" if m["worker_restarts"] else ""),
        "connected": f"connects {m['ws_connects']}, reconnects {m['ws_reconnects']}, close codes {closes or '-'}"
        + (f"; connect errors: {errors[-1]}" if any("connect " in e for e in errors) else ""),
        "subscribed": f"acked {m['ws_subscriptions']}/{on_ws * len(gw.cfg.trade_trs)}; ack codes {acks or '-'}; "
        f"refusals {refusals or '-'}",
        "first_message": f"data frames {m['ws_messages']}, PINGPONG {m['ws_pingpongs']}, malformed {m['ws_malformed']}",
        "cached": f"symbols cached {len(gw.cache)}/{len(gw.cfg.symbols)}",
        "served_ws": f"sources {m['source_counts']}",
    }
    findings = [Finding(s, stages[s]["reached"], stages[s]["first_at"], evidence[s]) for s in STAGES]
    first_failed = next((f.boundary for f in findings if not f.reached), None)
    causes: list[str] = []
    notes: list[str] = []
    ok = first_failed is None

    if first_failed == "worker_started":
        causes.append(
            "the WebSocket worker never started: the lifespan did not run it or it died at once "
            "(hypothesis 1 of the original investigation)"
        )
    elif first_failed == "connected":
        text = " ".join(errors[-3:])
        if "HTTP 403" in text:
            causes.append(
                "the WebSocket handshake is refused (HTTP 403): too many connects in a short time got "
                "the appkey/IP locked out (reconnect storm, F13)"
            )
        elif "approval key" in text:
            causes.append(
                f"the approval key could not be issued over REST ({_last(errors, 'approval key')}): check "
                "KIS_REST_URL and that the appkey/secret belong to KIS_ENV (F6)"
            )
        elif re.search(r"Connect|refused|OSError|getaddrinfo|Name or service", text):
            causes.append(
                f"nothing answers at KIS_WS_URL={gw.cfg.ws_url}: wrong host or port (live 21000, mock "
                "31000) or wss:// where KIS serves plain ws:// (F6)"
            )
        else:
            causes.append(f"the WebSocket never opened: {errors[-1] if errors else 'no error recorded'}")
    elif first_failed == "subscribed":
        for code in sorted(refusals, key=lambda c: -refusals[c]):
            causes.append(REFUSAL_CAUSES.get(code, f"subscriptions refused with {code}"))
        if not causes and any("no subscribe ack" in e for e in errors):
            causes.append("subscribe requests are swallowed: connected, but no ack ever came (F1)")
        if not causes:
            causes.append(f"no subscription acked; last error: {m['last_error'] or 'none'}")
    elif first_failed == "first_message":
        if closed_reason:
            ok = True
            causes.append(
                f"market closed ({closed_reason}): acks and PINGPONG only, which is not a fault (F5)"
            )
        elif m["ws_malformed"]:
            causes.append(
                f"frames arrive but none decodes ({m['ws_malformed']} malformed): layout drift or damaged "
                "frames (F9)"
            )
        elif m["ws_pingpongs"]:
            tr = gw.cfg.trade_trs[0]
            if gw.cfg.venue == "krx":
                causes.append(
                    "subscribed and alive (PINGPONG) but silent while the KRX session is open: the KRX TR "
                    "H0STCNT0 is quiet while trades happen on NXT (H0NXCNT0/H0UNCNT0; KIS_VENUE=unified "
                    "takes both), or the symbols are halted or illiquid (F5)"
                )
            else:
                causes.append(
                    f"subscribed and alive (PINGPONG) but silent while the {gw.cfg.venue} sessions are open: "
                    f"{tr} carries no trade for these symbols (halted, illiquid, or not traded on this venue) (F5)"
                )
        else:
            causes.append("subscribed but nothing at all arrives, not even PINGPONG: a half-open socket (F1)")
    elif first_failed == "cached":
        causes.append(
            f"data frames arrive but no {gw.cfg.trade_trs[0]} trade reached the cache "
            f"(malformed {m['ws_malformed']}): "
            "other TRs only, or damaged records (F9)"
        )
    elif first_failed == "served_ws":
        if closed_reason:
            ok = True
            causes.append(f"market closed ({closed_reason}): quotes come from REST by design")
        else:
            causes.append(
                f"ticks are cached but quotes are not served from them: older than the freshness window "
                f"({gw.cfg.freshness_s:g}s), or selection excludes fresh data (hypothesis 3)"
            )

    if m["ws_reconnects"]:
        notes.append(f"{m['ws_reconnects']} reconnect(s); close codes {closes}")
    if m["worker_restarts"]:
        notes.append(f"worker restarted {m['worker_restarts']} time(s)")
    if m["ws_malformed"] and first_failed != "first_message":
        notes.append(f"{m['ws_malformed']} malformed message(s) counted and skipped")
    for code, n in refusals.items():
        if ok or first_failed != "subscribed":
            notes.append(f"{n} x {code}: {REFUSAL_CAUSES.get(code, code)}")
    if shards is not None:
        sessions = {i: b["ws_subscriptions"] for i, b in m["appkeys"].items()}
        notes.append(f"{len(shards.shards)} appkeys (KIS_CREDENTIALS_FILE); acked per appkey id: {sessions}")
    if tier:
        notes.append(
            f"{len(tier)} symbol(s) in the REST tier (rest-tier), never on a WebSocket: every appkey's 41 "
            f"registrations are taken by symbols listed earlier in KIS_SYMBOLS ({', '.join(tier[:5])}"
            f"{', ...' if len(tier) > 5 else ''}); add an appkey to carry them"
        )
    rest = _rest_finding(rest_probe) if rest_probe is not None else {}
    if rest and not rest["ok"]:
        notes.append(f"REST fallback broken ({rest['code']}): {rest['cause']}")
    # A quiet market passes: no boundary *failed*, though the table still shows what was not reached.
    return Diagnosis(ok, None if ok else first_failed, causes, notes, findings, rest)


def _last(items: list[str], needle: str) -> str:
    return next((i for i in reversed(items) if needle in i), "")


REST_CAUSES = {
    "EGW00133": "KIS throttled token issuance (EGW00133): at most one per minute per appkey (F7)",
    "token-hold-off": "the gateway's own token hold-off held the call back and KIS was not asked: a tokenP "
    "call was made less than a minute ago for this appkey (by this run, an earlier one, or another process "
    "sharing GATEWAY_TOKEN_DIR); it retries once the minute is over (F7)",
    "EGW02004": "a mock appkey on the live REST domain (EGW02004): KIS_ENV and the keys disagree (F6)",
    "EGW00201": "per-second REST limit exceeded (EGW00201): mock allows ~1-2/s (F7)",
    "EGW00123": "expired token (EGW00123) (F7)",
    "EGW00121": "invalid token (EGW00121): a token from another environment or a revoked one (F6, F7)",
    "unreachable": "nothing answers at KIS_REST_URL (F6)",
}


def _rest_finding(probe: dict[str, Any]) -> dict[str, Any]:
    if probe.get("ok"):
        return {"ok": True, "evidence": f"inquire-price {probe.get('symbol')}: {probe.get('price')}"}
    code = str(probe.get("code", ""))
    cause = REST_CAUSES.get(code, f"{code}: {probe.get('reason')}")
    earlier = re.search(r"KIS's last answer to tokenP: (\S+)", str(probe.get("reason", "")))
    if code == "token-hold-off" and earlier:  # KIS did refuse a token earlier in this run: say which way
        cause += f"; earlier in this run KIS refused tokenP with {earlier[1]}: " + REST_CAUSES.get(
            earlier[1], earlier[1]
        )
    return {
        "ok": False,
        "code": code,
        "evidence": f"inquire-price failed: {probe.get('reason')}",
        "cause": cause,
    }


async def probe_rest(gw: Any) -> dict[str, Any]:
    from gateway.rest import RestError

    symbol = gw.cfg.symbols[0]
    try:
        out = await gw.rest.inquire_price(symbol)
    except RestError as e:
        return {"ok": False, "symbol": symbol, "code": e.code, "reason": gw.log.redact(e.reason)}
    return {"ok": True, "symbol": symbol, "price": out.get("stck_prpr")}


async def run(cfg: Any, seconds: float) -> Diagnosis:
    """The CLI path: run the gateway for up to `seconds` (wall clock), asking for quotes as it goes."""
    import httpx

    from gateway.app import create_app

    app = create_app(cfg)
    gw = app.state.gateway
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as http:
            while loop.time() < deadline:
                if gw.metrics.first.get("cached"):
                    for symbol in cfg.symbols:
                        await http.get(f"/v1/quotes/{symbol}")
                    if "served_ws" in gw.metrics.first:
                        break
                await asyncio.sleep(0.5)  # sampling a live pipeline, bounded by --seconds
            rest = await probe_rest(gw)
        return diagnose(gw, rest)
