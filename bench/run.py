"""Run every benchmark and write BENCHMARKS.md (tox -e bench; never part of the unit tests).

python -m bench.run [--out BENCHMARKS.md] [--only decode,wire,api,fresh,quotes,paper] [--render-only]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bench.common import ROOT, machine
from kisclock import KST


def _r(x: dict[str, float]) -> str:
    return f"{x['median']:,.0f} ({x['min']:,.0f}-{x['max']:,.0f}, {x['runs']} runs)"


def _ok(flag: bool) -> str:
    return "met" if flag else "**missed**"


RATE_NOTE = "5,000 frames/s; gateway = `kis-gateway serve`, poller and load in their own processes"


def render(results: dict[str, Any], took: float, measured: str, m: dict[str, str]) -> str:
    """`m` is the machine the figures were measured on (saved with them), not the one rendering."""
    lines = [
        "# Benchmarks",
        "",
        f"Measured {measured} KST by `tox -e bench` (= `python -m bench.run`), "
        f"{took:.0f} s in all. Median (min-max) over the runs shown; all load on 127.0.0.1.",
        "",
        f"Machine: {m['cores']} cores, {m['platform']}, Python {m['python']}; websockets {m['websockets']}, "
        f"uvicorn {m['uvicorn']}, starlette {m['starlette']}, python-kis {m['python-kis']}.",
        "",
        "| Figure | Ours | Compared against | Ratio | Target | |",
        "|---|---|---|---|---|---|",
    ]
    for row in results.get("decode", []):
        r = row["results"]
        ours = r["gateway codec"]
        pk = r.get("python-kis parse")
        ratio = ours["median"] / pk["median"] if pk else None
        lines.append(
            f"| Decode {row['frames']} H0STCNT0 (frames/s) | {_r(ours)} | python-kis "
            f"{_r(pk) if pk else 'not installed'}; plain str.split {_r(r['plain str.split'])} | "
            f"{ratio:.1f}x python-kis, {ours['median'] / r['plain str.split']['median']:.2f}x split | "
            f">= 10x python-kis | {_ok(bool(ratio and ratio >= 10))} |"
            if pk
            else f"| Decode {row['frames']} (frames/s) | {_r(ours)} | python-kis not installed | - | >= 10x | - |"
        )
    wire = results.get("wire")
    if wire:
        ing = wire["ingest"]
        ratio = ing["gateway worker"]["median"] / ing["bare websockets loop"]["median"]
        lines.append(
            f"| Gateway WS ingest over loopback (frames/s; sender in its own process) | "
            f"{_r(ing['gateway worker'])} | bare websockets "
            f"receive loop {_r(ing['bare websockets loop'])} | {ratio:.2f}x | >= 0.8x bare | {_ok(ratio >= 0.8)} |"
        )
        rep = wire["replay"]
        ratio = rep["fakekis replay asap"]["median"] / rep["bare websockets server"]["median"]
        lines.append(
            f"| fakekis replay asap (frames/s) | {_r(rep['fakekis replay asap'])} | bare websockets server, "
            f"same frames {_r(rep['bare websockets server'])} | {ratio:.2f}x | >= 0.8x bare | {_ok(ratio >= 0.8)} |"
        )
        p = wire["pacing"]
        f, b = p["fakekis"], p["bare paced server"]
        lines.append(
            f"| fakekis replay --speed 1 pacing error ({f['frames']} frames, {p['seconds']:.0f} s, "
            f"{p['runs']} runs; client in its own process) | p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms "
            f"({f['p99_ms_range'][0]:.2f}-{f['p99_ms_range'][1]:.2f}), max {f['max_ms']:.1f} ms | the machine's "
            f"floor: a bare websockets server sending the same frames with the same precise sleep: p50 "
            f"{b['p50_ms']:.2f} ms, p99 {b['p99_ms']:.2f} ms ({b['p99_ms_range'][0]:.2f}-"
            f"{b['p99_ms_range'][1]:.2f}), max {b['max_ms']:.1f} ms | p99 {f['p99_ms'] / b['p99_ms']:.2f}x "
            f"the floor | p99 <= 2 ms | {_ok(f['p99_ms'] <= 2)} |"
        )
    api = results.get("api")
    if api:
        g, b = api["gateway"], api["bare"]
        ratio = g["rps"]["median"] / b["rps"]["median"]
        lines.append(
            f"| Quote API at concurrency 32, closed loop ({api['generator']}) (req/s; p50/p99) | "
            f"{_r(g['rps'])}; {g['p50_ms']:.1f}/{g['p99_ms']:.1f} ms "
            f"| bare Starlette endpoint {_r(b['rps'])}; {b['p50_ms']:.1f}/{b['p99_ms']:.1f} ms | "
            f"{ratio:.2f}x rps, p99 {g['p99_ms'] / b['p99_ms']:.2f}x | >= 0.85x rps, p99 <= 1.25x | "
            f"{_ok(ratio >= 0.85 and g['p99_ms'] <= 1.25 * b['p99_ms'])} |"
        )
    fresh = results.get("fresh")
    if fresh:
        for label, f in fresh["freshness"].items():
            ok = f["p99_ms"] is not None and f["p99_ms"] <= 10
            load = f", API load achieved {f['load_rps']:,} req/s" if f["load_rps"] else ""
            verdict = "info" if label == "idle" else _ok(ok) if "paced" in label else f"{_ok(ok)} (saturated)"
            lines.append(
                f"| Freshness: fakekis send -> visible to a GET /v1/quotes client, {label} ({RATE_NOTE}; "
                f"achieved {f['achieved_frames_per_s']:,} frames/s{load}) | p50 {f['p50_ms']:.1f} ms, "
                f"p99 {f['p99_ms']:.1f} ms ({f['samples']:,} samples) | - | - | p99 <= 10 ms under load | "
                f"{verdict} |"
            )
        d = fresh["full_day"]
        lines.append(
            f"| Synthetic full trading day, {d['symbols']} symbols, asap through the gateway | "
            f"{d['frames']:,} frames in {d['replay_s']} s ({d['frames_per_s']:,}/s); peak RSS "
            f"{d['peak_rss_mb']} MB (generating it: {d['generate_s']} s) | - | - | report | info |"
        )
    quotes = results.get("quotes")
    if quotes:
        base = quotes["inquire-price (baseline)"]
        for name, row in quotes.items():
            if not isinstance(row, dict) or "rps" not in row or row is base:
                continue
            lines.append(
                f"| fakekis REST {name}, full-day tape ({quotes['tape']}; req/s, p99) | {_r(row['rps'])}, "
                f"p99 {row['p99_ms']:.0f} ms | inquire-price on the same server, runs alternated: "
                f"{_r(base['rps'])}, p99 {base['p99_ms']:.0f} ms | {row['vs_inquire_price']:.2f}x | report | info |"
            )
        short, full = quotes["minute_chart_us"].items()
        lines.append(
            f"| Minute chart (30 bars) in-process, {short[0]} vs {full[0]} (µs a call) | {full[1]} | "
            f"{short[1]} | {full[1] / short[1]:.2f}x | ~1x: no tape scan | {_ok(full[1] / short[1] < 1.5)} |"
        )
    paper = results.get("paper")
    if paper:
        f, b = paper["fakekis"], paper["bare"]
        lines.append(
            f"| Paper trading: limit orders through REST, each acceptance notice delivered on the WebSocket "
            f"(concurrency {paper['concurrency']}, {paper['orders']:,} orders a run; client in its own process) "
            f"(orders/s; p50/p99 order -> notice) | {_r(f['rate'])}; {f['p50_ms']:.1f}/{f['p99_ms']:.1f} ms | "
            f"bare floor (uvicorn + Starlette + websockets: parse, AES-encrypt one notice, send, answer) "
            f"{_r(b['rate'])}; {b['p50_ms']:.1f}/{b['p99_ms']:.1f} ms | "
            f"{f['rate']['median'] / b['rate']['median']:.2f}x orders/s, p99 {f['p99_ms'] / b['p99_ms']:.2f}x | "
            f"report | info |"
        )
    analysis = Path(__file__).with_name("analysis.md")  # hand-written: what the numbers mean, with profiles
    if analysis.is_file():
        lines += ["", analysis.read_text(encoding="utf-8").rstrip()]
    lines += ["", "Raw results:", "", "```json", json.dumps(results, indent=1, default=str), "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--only", default="decode,wire,api,fresh,quotes,paper")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite --out from the last run's bench/results.json (after editing bench/analysis.md)",
    )
    args = parser.parse_args()
    saved = ROOT / "bench" / "results.json"
    if args.render_only:
        data = json.loads(saved.read_text(encoding="utf-8"))
        if "machine" not in data:
            raise SystemExit(f"bench: {saved} does not say which machine measured it; run the benchmarks")
        text = render(data["results"], data["took"], data["measured"], data["machine"])
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"bench: wrote {args.out} from {saved}", file=sys.stderr)
        return 0
    wanted = [
        n for n in ("decode", "wire", "api", "fresh", "quotes", "paper") if n in set(args.only.split(","))
    ]
    results: dict[str, Any] = {}
    start = time.perf_counter()
    # One updating line on a terminal (rich); nothing when piped, then the one "wrote" line at the end.
    console = Console(stderr=True)
    with Progress(
        TextColumn("bench"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("", total=len(wanted))
        for name in wanted:
            progress.update(task, description=name)
            module = __import__(f"bench.{name}", fromlist=["run"])
            results[name] = module.run()
            progress.advance(task)
    took, measured = time.perf_counter() - start, f"{datetime.now(KST):%Y-%m-%d %H:%M}"
    m = machine()
    saved.write_text(
        json.dumps({"results": results, "took": took, "measured": measured, "machine": m}, indent=1),
        encoding="utf-8",
    )
    Path(args.out).write_text(render(results, took, measured, m), encoding="utf-8")
    print(f"bench: wrote {args.out} (raw: {saved})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
