"""`kis-gateway compare`: the gateway run in two modes side by side, only KIS_ENV, that environment's URLs
and that environment's keys (gateway/credentials.py) changing, with the evidence written down for a person.

For each mode it runs the diagnosis pipeline for a bounded time, samples the metrics four times a
second (stage transitions, connection, reconnects, messages per second), captures /v1/metrics/quote
twice and one quote, and then writes:
  docs/evidence/<date>-ws-debug-compare-mock-live.md   table mode -> connected, messages, source, stages, verdict
  docs/evidence/<date>-ws-timeline-<mode>.png          the timeline picture linked from it (needs
                                                       matplotlib, the `evidence` extra; without it the
                                                       markdown is written all the same and says so)
  docs/evidence/<date>-ws-real-final-report.md         Go / No-Go from what was observed
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from gateway.config import Config
from gateway.diagnose import Diagnosis, diagnose, probe_rest
from gateway.metrics import STAGES
from kisclock import KST


@dataclass
class Sample:
    t: float
    connected: bool
    messages: int
    reconnects: int
    stage: int  # how many of the six boundaries have been reached


@dataclass
class ModeRun:
    mode: str
    cfg: Config
    samples: list[Sample] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    quote: dict[str, Any] = field(default_factory=dict)
    diagnosis: Diagnosis | None = None
    source: str = ""  # where this mode's appkey/secret came from (never the values)


async def run_mode(mode: str, cfg: Config, seconds: float) -> ModeRun:
    from gateway.app import create_app

    run = ModeRun(mode, cfg)
    app = create_app(cfg)
    gw = app.state.gateway
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as http:
            while (t := loop.time() - start) < seconds:
                m = gw.metrics
                run.samples.append(
                    Sample(
                        round(t, 3),
                        m.ws_connected,
                        m.ws_messages,
                        m.ws_reconnects,
                        sum(s in m.first for s in STAGES),
                    )
                )
                if m.first.get("cached") and "served_ws" not in m.first:
                    for symbol in cfg.symbols:
                        await http.get(f"/v1/quotes/{symbol}")
                if not run.metrics and t >= seconds / 2:
                    run.metrics.append((await http.get("/v1/metrics/quote")).json())
                await asyncio.sleep(0.25)  # sampling a live pipeline, bounded by `seconds`
            run.quote = (await http.get(f"/v1/quotes/{cfg.symbols[0]}")).json()
            run.metrics.append((await http.get("/v1/metrics/quote")).json())
            run.diagnosis = diagnose(gw, await probe_rest(gw))
    return run


async def compare(
    configs: dict[str, Config], seconds: float, sources: dict[str, str] | None = None
) -> list[ModeRun]:
    """Every mode at once, each with its own configuration (KIS_ENV, URLs, keys) and token folder."""
    runs = [
        run_mode(mode, replace(cfg, env=mode, token_dir=Path(cfg.token_dir) / mode), seconds)
        for mode, cfg in configs.items()
    ]
    done = list(await asyncio.gather(*runs))
    for run in done:
        run.source = (sources or {}).get(run.mode, "")
    return done


PICTURES_HINT = (
    "timeline pictures need matplotlib: install the `evidence` extra "
    "(`.venv/bin/pip install -e '.[evidence]'` in a clone, or `pip install 'kis-harness[evidence]'`) "
    "and run compare again"
)


def can_plot() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot(run: ModeRun, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s.t for s in run.samples]
    rate, j = [], 0
    for s in run.samples:  # data frames per second over the last second
        while run.samples[j].t < s.t - 1.0:
            j += 1
        span = s.t - run.samples[j].t
        rate.append((s.messages - run.samples[j].messages) / span if span > 0 else 0.0)
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(9, 6), sharex=True, constrained_layout=True)
    d = run.diagnosis
    verdict = next((ln for ln in d.render().splitlines() if ln.startswith("VERDICT")), "") if d else ""
    cause = textwrap.fill(d.causes[0], 105, max_lines=2, placeholder=" ...") if d and d.causes else ""
    fig.suptitle(f"{run.mode}: {verdict}" + (f"\n{cause}" if cause else ""), fontsize=9)
    ax1.step(t, [s.stage for s in run.samples], where="post", color="tab:blue")
    ax1.set_yticks(range(7), ["none", *STAGES], fontsize=7)
    ax1.set_ylim(-0.3, 6.3)
    ax1.set_ylabel("stages reached")
    ax2.step(t, [int(s.connected) for s in run.samples], where="post", color="tab:green")
    for a, b in zip(run.samples, run.samples[1:], strict=False):
        if b.reconnects > a.reconnects:
            ax2.axvline(b.t, color="tab:red", linestyle="--", linewidth=1)
    ax2.set_yticks([0, 1], ["down", "up"])
    ax2.set_ylabel("WebSocket\n(red: reconnect)")
    ax3.plot(t, rate, color="tab:orange")
    ax3.set_ylabel("data frames/s")
    ax3.set_xlabel("seconds since start")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _row(run: ModeRun) -> str:
    m = run.metrics[-1]
    reached = sum(m["stages"][s]["reached"] for s in STAGES)
    d = run.diagnosis
    verdict = "PASS" if d and d.ok else f"FAIL at {d.first_failed}" if d else "?"
    return (
        f"| {run.mode} | {m['ws_connected']} | {m['ws_messages']} | {run.quote.get('source', run.quote.get('error'))}"
        f" | {reached}/6 | {verdict} |"
    )


def write_evidence(runs: list[ModeRun], out: Path, when: datetime | None = None) -> tuple[Path, Path]:
    when = when or datetime.now(KST)
    day = when.strftime("%Y-%m-%d")
    out.mkdir(parents=True, exist_ok=True)
    keys = {r.mode: r.cfg.app_key for r in runs}
    same = len(runs) > 1 and len(set(keys.values())) == 1
    sources = ", ".join(f"{r.mode} from {r.source or 'KIS_APP_KEY/KIS_APP_SECRET'}" for r in runs)
    lines = [
        f"# WebSocket debug: {' vs '.join(r.mode for r in runs)}, {day}",
        "",
        f"Generated by `kis-gateway compare` at {when.isoformat(timespec='seconds')}. Only `KIS_ENV`, that "
        f"environment's URLs and its keys changed between modes. Keys: {sources}.",
        "",
    ]
    if same:
        lines += [
            "Every mode used the same appkey. KIS issues separate keys per environment (a mock key on the "
            "live domain gets `EGW02004`), so against real KIS one mode fails by construction: set "
            "`KIS_MOCK_APP_KEY`/`KIS_MOCK_APP_SECRET` and `KIS_LIVE_APP_KEY`/`KIS_LIVE_APP_SECRET`, or "
            "`--kis-devlp`.",
            "",
        ]
    plots = can_plot()
    if not plots:
        lines += [f"No timeline pictures: {PICTURES_HINT}.", ""]
    lines += [
        "| mode | ws_connected | ws_messages | source | stages | verdict |",
        "|---|---|---|---|---|---|",
    ]
    lines += [_row(r) for r in runs]
    for r in runs:
        png = out / f"{day}-ws-timeline-{r.mode}.png"
        if plots:
            plot(r, png)
        d = r.diagnosis
        lines += [
            "",
            f"## {r.mode}",
            "",
            f"REST `{r.cfg.rest_url}`, WS `{r.cfg.ws_url}`, symbols {', '.join(r.cfg.symbols)}.",
            "",
            f"![{r.mode} timeline]({png.name})" if plots else "(timeline picture not drawn: no matplotlib)",
            "",
            "```",
            d.render() if d else "(no diagnosis)",
            "```",
            "",
            "Metrics, captured twice:",
            "",
            "```json",
        ]
        lines += [
            json.dumps(
                {
                    k: m[k]
                    for k in (
                        "ws_connected",
                        "ws_messages",
                        "ws_subscriptions",
                        "ws_reconnects",
                        "ws_refusals",
                        "last_error",
                        "source_counts",
                    )
                },
                ensure_ascii=False,
            )
            for m in r.metrics
        ]
        lines += ["```", "", "One quote:", "", "```json", json.dumps(r.quote, ensure_ascii=False), "```"]
    compare_md = out / f"{day}-ws-debug-compare-mock-live.md"
    compare_md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = out / f"{day}-ws-real-final-report.md"
    report.write_text(go_no_go(runs, compare_md.name, when), encoding="utf-8")
    return compare_md, report


def go_no_go(runs: list[ModeRun], evidence: str, when: datetime) -> str:
    go = all(r.diagnosis and r.diagnosis.ok for r in runs)
    lines = [
        f"# Go / No-Go: KIS realtime quotes, {when:%Y-%m-%d}",
        "",
        f"**{'GO' if go else 'NO-GO'}**: "
        + (
            "every mode reached all six boundaries (or was quiet only because the market is closed)."
            if go
            else "at least one mode failed a boundary; see below."
        ),
        "",
        f"Evidence: [{evidence}]({evidence}).",
        "",
        "| mode | decision | first failed boundary | why |",
        "|---|---|---|---|",
    ]
    for r in runs:
        d = r.diagnosis
        why = "; ".join((d.causes or ["every boundary reached"]) if d else ["no diagnosis"])
        lines.append(
            f"| {r.mode} | {'GO' if d and d.ok else 'NO-GO'} | {d.first_failed if d else '?'} | {why} |"
        )
    notes = [f"- {r.mode}: {n}" for r in runs if r.diagnosis for n in r.diagnosis.notes]
    if len(runs) > 1 and len({r.cfg.app_key for r in runs}) == 1:
        notes.append(
            "- every mode used the same appkey: against real KIS one environment refuses it (EGW02004); "
            "give each environment its own keys (KIS_MOCK_APP_KEY/..., KIS_LIVE_APP_KEY/..., or --kis-devlp)"
        )
    if notes:
        lines += ["", "Also observed:", "", *notes]
    return "\n".join(lines) + "\n"
