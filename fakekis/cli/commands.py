"""What each `fakekis` command does once its flags are checked: serve, generate, record, inspect,
validate, faults. `fakekis/cli/__init__.py` builds the parser and dispatches here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from fakekis import faults, tape
from fakekis.cli.args import _say
from fakekis.cli.progress import ProgressLine
from kisclock import ManualClock

# -- commands ----------------------------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> int:
    from fakekis.serve.server import FakeKis

    rec = tape.load(args.recording)
    envs = ("live", "mock") if args.env == "both" else (args.env,)
    ports = {envs[0]: (args.rest_port, args.ws_port)}
    scenario = faults.load(args.scenario) if args.scenario else faults.Scenario()
    clock = (
        ManualClock(args.clock_start.timestamp() if args.clock_start else rec.start)
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
        pingpong_deadline=args.pingpong_deadline,
        session_release_delay=args.session_release_delay,
        ledger=args.ledger,
        lenient=args.lenient,
        start_on=args.start_on,
        seed=args.seed,
        scenario=scenario,
        clock=clock,
        start_cash=args.start_cash,
        hts_id=args.hts_id,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await kis.start()
    except OSError as e:
        _say("serve", f"--host/--rest-port/--ws-port: cannot listen: {e.strerror or e}")
        return 2
    primary = envs[-1] if args.env == "both" else envs[0]
    ready: dict[str, object] = {
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
    with ProgressLine(kis.replay_status):
        await stop.wait()
    await kis.stop()
    return 0


def _generate(args: argparse.Namespace) -> int:
    from fakekis.tape import synth
    from fakekis.wire import layouts

    specs: tuple[synth.SymbolSpec, ...] = synth.DEFAULT_SYMBOLS
    if args.symbols:
        known = {s.code: s for s in synth.DEFAULT_SYMBOLS}
        specs = tuple(
            known.get(code) or synth.SymbolSpec(code, 10_000 + 1_000 * i, 0.8, 100_000_000, 1_000_000)
            for i, code in enumerate(args.symbols)
        )
    try:
        day = layouts.parse_choice(args.layout) if args.layout else None
    except layouts.LayoutError as e:
        _say("generate", f"--layout: {e}")
        return 2
    env = args.env or ("live" if args.venues else "mock")
    phase = [f"generating {args.minutes:g} minutes of {len(specs)} symbols"]
    with ProgressLine(lambda: phase[0]):
        session, lines = synth.generate(
            args.start,
            args.minutes,
            specs,
            args.seed,
            not args.no_books,
            env,
            layout_day=day,
            venues=args.venues,
        )
        phase[0] = f"writing {len(lines):,} lines to {args.out}"
        out = args.out.absolute()  # now: replacing the recording in "." replaces the current directory
        try:
            tape.write(out, session, lines, rest=[])
        except OSError as e:
            _say("generate", f"OUT: cannot write {args.out}: {e.strerror or e}")
            return 2
    rec = tape.load(out)
    print(
        f"wrote {args.out}: {len(rec.data_frames())} data frames, {rec.duration:.0f}s, "
        f"{len(specs)} symbols, seed {args.seed}",
        file=sys.stderr,
    )
    return 0


def _undo_partial(out: Path, existed: bool) -> None:
    """The recorder writes session.json before it listens: leave no half-made folder to block a retry."""
    if not existed:
        shutil.rmtree(out, ignore_errors=True)
    elif out.is_dir():  # it was empty (the OUT validator saw to that)
        for child in out.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


async def _record(args: argparse.Namespace, existed: bool) -> int:
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
    except OSError as e:  # FileExistsError included
        _undo_partial(args.out, existed)
        _say("record", f"OUT/--rest-port/--ws-port: {e.strerror or e}")
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

    def show(p: dict[str, Any]) -> None:
        by_symbol = "  ".join(f"{k}: {v}" for k, v in p["by_symbol"].items()) or "-"
        console.print(
            f"[bold]recording[/] {p['elapsed_s']:>7.1f}s  {p['messages']} msgs  "
            f"{p['per_second']}/s  {by_symbol}"
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


def _checked(command: str, path: Path) -> tape.Recording | None:
    """The recording, or None after printing one line per problem."""
    rec, problems = tape.check(path)
    for problem in problems:
        _say(command, str(problem))
    if len(problems) >= tape.MAX_PROBLEMS:
        _say(command, f"{path}: stopped after {len(problems)} problems")
    return rec


def _inspect(args: argparse.Namespace) -> int:
    from fakekis.tape.inspect import inspect_recording

    rec = _checked("inspect", args.recording)
    if rec is None:
        return 2
    print(json.dumps(inspect_recording(rec), ensure_ascii=False, indent=2))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from fakekis.tape.inspect import inspect_recording

    rec = _checked("validate", args.recording)
    if rec is None:
        return 2
    by_tr: dict[str, int] = {}
    for f in rec.data_frames():  # replayable frames only (inspect also counts encrypted ones)
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
                "malformed_frames": inspect_recording(rec)["malformed_frames"],
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
