"""`fakekis` command line: serve, demo, generate, validate."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from fakekis import faults, tape
from kisclock import ManualClock, parse_instant


def _speed(text: str) -> float | None:
    if text == "asap":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'asap'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _recording(text: str | None) -> tape.Recording:
    path = tape.bundled() if text is None else Path(text)
    if text is not None and not path.exists() and (tape.bundled(text) / "session.json").is_file():
        path = tape.bundled(text)  # a bundled recording by name
    return tape.load(path)


async def _serve(args: argparse.Namespace) -> int:
    from fakekis.serve.server import FakeKis

    rec = _recording(args.recording)
    envs = ("live", "mock") if args.env == "both" else (args.env,)
    if args.env == "both" and (args.rest_port or args.ws_port):
        print(
            "fakekis serve: error: --rest-port/--ws-port name one environment's ports; use them with "
            "--env live or --env mock",
            file=sys.stderr,
        )
        return 2
    ports = {envs[0]: (args.rest_port, args.ws_port)}
    scenario = faults.load(args.scenario) if args.scenario else faults.Scenario()
    clock = (
        ManualClock(parse_instant(args.clock_start) if args.clock_start else rec.start)
        if args.clock == "manual"
        else None
    )
    kis = FakeKis(
        rec,
        envs=envs,
        speed=args.speed,
        host=args.host,
        ports=ports,
        ping_interval=args.ping_interval,
        start_on=args.start_on,
        seed=args.seed,
        scenario=scenario,
        clock=clock,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await kis.start()
    except OSError as e:
        print(f"fakekis serve: error: cannot listen: {e.strerror or e}", file=sys.stderr)
        return 2
    primary = envs[-1] if args.env == "both" else envs[0]
    ready = {
        "env": primary,
        **kis.urls[primary],
        "recording": str(rec.path),
        "speed": args.speed or "asap",
        "scenario": scenario.describe(),
        "clock": args.clock,
    }
    if len(envs) > 1:
        ready["environments"] = kis.urls
    print(json.dumps(ready), flush=True)
    logging.getLogger("fakekis").info("replaying %s (%d frames)", rec.path, len(kis.player.frames))
    await stop.wait()
    await kis.stop()
    return 0


def _generate(args: argparse.Namespace) -> int:
    from fakekis.tape import synth
    from fakekis.wire import layouts

    try:
        parse_instant(args.start)  # names the value and demands an offset
        start = datetime.fromisoformat(args.start)
    except ValueError as e:
        print(f"fakekis generate: error: --start: {e}", file=sys.stderr)
        return 2
    specs = synth.DEFAULT_SYMBOLS
    if args.symbols:
        wanted = [s.strip() for s in args.symbols.split(",") if s.strip()]
        known = {s.code: s for s in synth.DEFAULT_SYMBOLS}
        specs = tuple(
            known.get(code) or synth.SymbolSpec(code, 10_000 + 1_000 * i, 0.8, 100_000_000, 1_000_000)
            for i, code in enumerate(wanted)
        )
        bad = [c for c in wanted if not (len(c) == 6 and c.isdigit())]
        if bad:
            print(f"fakekis generate: error: --symbols: {bad[0]!r} is not a 6-digit code", file=sys.stderr)
            return 2
    try:
        day = layouts.parse_choice(args.layout) if args.layout else None
    except layouts.LayoutError as e:
        print(f"fakekis generate: error: --layout: {e}", file=sys.stderr)
        return 2
    session, lines = synth.generate(
        start, args.minutes, specs, args.seed, not args.no_books, args.env, layout_day=day
    )
    tape.write(args.out, session, lines, rest=[])
    rec = tape.load(args.out)
    print(
        f"wrote {args.out}: {len(rec.data_frames())} data frames, {rec.duration:.0f}s, "
        f"{len(specs)} symbols, seed {args.seed}",
        file=sys.stderr,
    )
    return 0


async def _record(args: argparse.Namespace) -> int:
    from rich.console import Console

    from fakekis.serve.proxy import Recorder, record_until

    console = Console(stderr=True)
    rec = Recorder(
        args.out,
        env=args.env,
        rest_upstream=args.rest_upstream,
        ws_upstream=args.ws_upstream,
        rest_port=args.rest_port,
        ws_port=args.ws_port,
        allow_trading=args.allow_trading,
        notes=args.notes or "",
    )
    try:
        await rec.start()
    except (FileExistsError, OSError) as e:
        print(f"fakekis record: error: {e}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(
        json.dumps(
            {
                "env": args.env,
                "rest_url": rec.rest_url,
                "ws_url": rec.ws_url,
                "out": str(rec.out),
                "upstream": {"rest": rec.rest_upstream, "ws": rec.ws_upstream},
            }
        ),
        flush=True,
    )

    def show(p: dict) -> None:
        symbols = "  ".join(f"{k}: {v}" for k, v in p["by_symbol"].items()) or "-"
        console.print(
            f"[bold]recording[/] {p['elapsed_s']:>7.1f}s  {p['messages']} msgs  "
            f"{p['per_second']}/s  {symbols}"
            + (f"  refused: {p['refused_calls']}" if p["refused_calls"] else ""),
            highlight=False,
        )

    try:
        await record_until(rec, stop, args.duration, show if console.is_terminal or args.progress else None)
    finally:
        await rec.stop()
    summary = rec.progress()
    console.print(
        f"wrote {rec.out}: {summary['messages']} WebSocket messages in {summary['elapsed_s']}s; "
        f"validate with `fakekis validate {rec.out}`",
        highlight=False,
    )
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from fakekis.tape.inspect import inspect_recording

    print(json.dumps(inspect_recording(_recording(args.recording)), ensure_ascii=False, indent=2))
    return 0


def _validate(args: argparse.Namespace) -> int:
    rec = _recording(args.recording)
    frames = rec.data_frames()
    by_tr: dict[str, int] = {}
    for f in frames:
        by_tr[f.tr_id] = by_tr.get(f.tr_id, 0) + 1
    print(
        json.dumps(
            {
                "recording": str(rec.path),
                "env": rec.env,
                "synthetic": rec.synthetic,
                "start": rec.session["start"],
                "duration_s": rec.duration,
                "ws_lines": len(rec.lines),
                "data_frames": by_tr,
                "rest_interactions": len(rec.rest),
            },
            ensure_ascii=False,
        )
    )
    return 0


def _faults(args: argparse.Namespace) -> int:
    for item in faults.catalogue():
        if args.json:
            print(json.dumps(item, ensure_ascii=False))
            continue
        params = ", ".join(f"{k}={v}" for k, v in item["params"].items()) or "no parameters"
        print(
            f"{item['fault']:<22} {item['f']:<4} {item['summary']}\n{'':27}params: {params}\n"
            f"{'':27}a good client: {item['gateway']}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="fakekis",
        description="A faithful local fake of the KIS Open API "
        "(REST + realtime WebSocket) that replays recorded sessions.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "serve",
        help="serve a recording as fake KIS (REST + WebSocket)",
        description="Serve fake KIS on loopback. When ready, prints ONE JSON line on stdout with "
        "rest_url, ws_url and env; everything else goes to stderr. Runs until "
        "SIGINT/SIGTERM and exits 0. Replay starts at the first acked subscription "
        "unless --start-on ready.",
    )
    p.add_argument(
        "--recording", help=f"recording folder or bundled name (default: bundled {tape.DEFAULT_BUNDLED})"
    )
    p.add_argument(
        "--speed", type=_speed, default=1.0, help="replay speed: 1 (recorded pace), any factor, or asap"
    )
    p.add_argument(
        "--env",
        choices=("mock", "live", "both"),
        default="mock",
        help="environment(s) to serve; each has its own ports and key registries (default mock)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    p.add_argument("--rest-port", type=int, default=0, help="REST port (default 0: a free port)")
    p.add_argument("--ws-port", type=int, default=0, help="WebSocket port (default 0: a free port)")
    p.add_argument(
        "--ping-interval", type=float, default=10.0, help="seconds between PINGPONG heartbeats (default 10)"
    )
    p.add_argument(
        "--start-on",
        choices=("subscribe", "ready"),
        default="subscribe",
        help="when the replay clock starts (default: first acked subscription)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for tokens, approval keys and ack keys")
    p.add_argument(
        "--clock",
        choices=("wall", "manual"),
        default="wall",
        help='manual: time stands still until POST /__fakekis/clock {"advance": seconds} on the REST '
        "port (step mode: replay, PINGPONG and fault timers move only when told)",
    )
    p.add_argument(
        "--clock-start", help="with --clock manual: the starting instant (default: the recording's start)"
    )
    p.add_argument(
        "--scenario",
        help="faults to inject: a fault name (drop), a comma list (drop,malformed) or a "
        "YAML/JSON scenario file; `fakekis faults` lists them (docs/faults.md)",
    )

    fl = sub.add_parser(
        "faults",
        help="list the injectable KIS faults with their F-numbers and parameters",
        description="The fault catalogue (docs/faults.md): name, failure mode, what it does, what "
        "a good client does about it, parameters with defaults.",
    )
    fl.add_argument("--json", action="store_true", help="one JSON object per fault")

    d = sub.add_parser(
        "demo",
        help="fakekis + the gateway end to end: quotes served from kis-ws",
        description="Starts fakekis on the bundled recording, starts `kis-gateway serve` against it "
        "by environment variables alone, waits for the six stages, prints quotes and "
        "metrics, and exits 0 when every symbol is served from kis-ws.",
    )
    d.add_argument(
        "--recording", help="recording folder or bundled name (default: the bundled healthy morning)"
    )
    d.add_argument("--speed", type=_speed, default=1.0, help="replay speed (default 1)")
    d.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each stage (default 30)")

    g = sub.add_parser(
        "generate",
        help="write a seeded synthetic recording",
        description="Generate a synthetic session (H0STCNT0 trades, H0STASP0 books) whose fields keep "
        "the arithmetic invariants of real KIS frames. Marked synthetic.",
    )
    g.add_argument("out", help="output folder")
    g.add_argument("--start", default="2026-11-25T09:05:00+09:00", help="start instant with offset (KST)")
    g.add_argument("--minutes", type=float, default=10.0, help="length in minutes (default 10)")
    g.add_argument("--symbols", help="comma list of codes (default 005930,000660,035720)")
    g.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    g.add_argument("--no-books", action="store_true", help="trades only, no H0STASP0 order books")
    g.add_argument("--env", choices=("mock", "live"), default="mock")
    g.add_argument(
        "--layout",
        metavar="ERA|DAY",
        help="record layouts to write: an era (pre-nxt: 46/59 fields, 2025: 46/62, 2026-09: 47/63) or a day "
        "YYYY-MM-DD (default: the layouts KIS sent on --start's day)",
    )

    r = sub.add_parser(
        "record",
        help="record a live (or mock) KIS session through a loopback proxy, scrubbed",
        description="A recording proxy: point any client's REST and WS URLs at the URLs it prints "
        "(one JSON line on stdout). REST goes upstream inside a vcrpy cassette, WebSocket "
        "messages are relayed both ways and written as they pass; appkey, secret, tokens, "
        "approval keys, account numbers and the HTS ID are replaced by pseudonyms before "
        "anything is written. Only auth and quotation calls are forwarded unless "
        "--allow-trading. Stops after --duration or on Ctrl-C, leaving a valid recording.",
    )
    r.add_argument("out", help="new folder for the recording")
    r.add_argument(
        "--env", choices=("mock", "live"), default="mock", help="which KIS environment (default mock)"
    )
    r.add_argument("--rest-upstream", help="REST base URL (default: the environment's KIS URL)")
    r.add_argument("--ws-upstream", help="WebSocket URL (default: the environment's KIS URL)")
    r.add_argument("--rest-port", type=int, default=0, help="proxy REST port (default 0: free)")
    r.add_argument("--ws-port", type=int, default=0, help="proxy WebSocket port (default 0: free)")
    r.add_argument("--duration", type=float, help="seconds to record (default: until Ctrl-C)")
    r.add_argument(
        "--allow-trading", action="store_true", help="also forward order and account calls (DANGER)"
    )
    r.add_argument("--notes", help="free text for session.json")
    r.add_argument(
        "--progress", action="store_true", help="print progress even when stderr is not a terminal"
    )

    i = sub.add_parser(
        "inspect", help="summarise a recording: TRs, symbols, gaps, disconnects, PINGPONG, widths"
    )
    i.add_argument("recording", help="recording folder or bundled name")

    v = sub.add_parser(
        "validate", help="check a recording; exit non-zero with file:line for the first problem"
    )
    v.add_argument("recording", help="recording folder or bundled name")

    args = parser.parse_args(argv)
    try:
        return _run(args)
    except BrokenPipeError:  # `fakekis faults | head`: the reader left; nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="fakekis: %(message)s")
    for noisy in ("httpx", "websockets", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            return asyncio.run(_serve(args))
        if args.command == "demo":
            from fakekis.testing.demo import run_demo

            return asyncio.run(run_demo(_recording(args.recording), args.speed, args.timeout))
        if args.command == "generate":
            return _generate(args)
        if args.command == "faults":
            return _faults(args)
        if args.command == "record":
            return asyncio.run(_record(args))
        if args.command == "inspect":
            return _inspect(args)
        return _validate(args)
    except (tape.RecordingError, faults.ScenarioError) as e:
        print(f"fakekis {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
