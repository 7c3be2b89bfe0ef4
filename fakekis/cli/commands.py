"""What each `fakekis` command does once its flags are checked: serve, generate, record, inspect,
validate, faults. `fakekis/cli/__init__.py` builds the parser and dispatches here.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import shutil
import signal
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fakekis import faults, tape
from fakekis.cli.args import _say
from fakekis.cli.progress import ProgressLine
from fakekis.tape.format import WsLine
from kisclock import ManualClock

# -- commands ----------------------------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> int:
    from fakekis.cli.tapecmds import window
    from fakekis.serve.server import FakeKis

    rec = tape.open_tape(args.recording)  # streamed: memory does not grow with the tape
    win = window(args, rec)
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
        window=win,
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
    logging.getLogger("fakekis").info("replaying %s (%s frames)", rec.path, kis.player.total)
    with ProgressLine(kis.replay_status):
        await stop.wait()
    await kis.stop()
    return 0


def _generate(args: argparse.Namespace) -> int:
    from fakekis.exchange.warm import IndexFold
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
    if args.trade_rate:
        known_codes = {s.code for s in synth.DEFAULT_SYMBOLS}
        specs = tuple(
            s if s.code in known_codes else dataclasses.replace(s, trades_per_second=args.trade_rate)
            for s in specs
        )
    env = args.env or ("live" if args.venues else "mock")
    names = {"zst": "ws.jsonl.zst", "gz": "ws.jsonl.gz", "none": "ws.jsonl"}
    phase = [f"generating {args.minutes:g} minutes of {len(specs)} symbols"]
    lines: Iterable[WsLine]
    with ProgressLine(lambda: phase[0]):
        if args.venues:  # the market day, session by session on each venue's TRs (a list, then written)
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
        else:  # streamed to disk: a full day of 41 symbols is millions of lines, never held in a list
            from fakekis.tape import synthday

            session, lines = synthday.generate(
                args.start, args.minutes, specs, args.seed, not args.no_books, env, layout_day=day
            )
        phase[0] = f"generating and writing to {args.out}"
        out = args.out.absolute()  # now: replacing the recording in "." replaces the current directory
        try:
            tape.write(out, session, lines, rest=[], ws_name=names[args.compress], fold=IndexFold())
        except OSError as e:
            _say("generate", f"OUT: cannot write {args.out}: {e.strerror or e}")
            return 2
    rec = tape.open_tape(out)
    print(
        f"wrote {args.out}: {rec.frame_count()} data frames, {rec.duration or 0:.0f}s, "
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

    from fakekis.serve import upstream
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
        ws_name={"zst": "ws.jsonl.zst", "gz": "ws.jsonl.gz", "none": "ws.jsonl"}[args.compress],
        rotate_bytes=int(args.rotate_mb * 1_000_000) if args.rotate_mb else None,
    )
    try:
        await rec.start()
    except OSError as e:  # FileExistsError included
        _undo_partial(args.out, existed)
        _say("record", f"OUT/--rest-port/--ws-port: {e.strerror or e}")
        return 2
    unreachable = await upstream.check(rec.rest_upstream, rec.ws_upstream)  # the ports are ours: now ask
    if unreachable:
        await rec.stop()
        _undo_partial(args.out, existed)  # a failed start leaves no folder to block the retry
        _say("record", "upstream unreachable: " + "; ".join(unreachable) + " (nothing was written)")
        return 1
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
    problems = rec.problems()
    if problems:  # session.json says "complete": false with these problems; validate warns on it
        print(f"fakekis record: warning: {rec.out} is not complete: {'; '.join(problems)}", file=sys.stderr)
        return 1
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
    from fakekis.cli.tapecmds import Progress
    from fakekis.tape.inspect import inspect_recording

    try:
        rec = tape.open_tape(args.recording)
        show = Progress(sys.stderr, rec.index.lines if rec.index else None, args.json)
        show.on = show.on and (args.progress or args.json or sys.stderr.isatty())
        summary = inspect_recording(rec, progress=show)
    except tape.RecordingError as e:
        if (Path(args.recording) / "ws.jsonl").is_file():
            _checked("inspect", args.recording)
        else:
            _say("inspect", str(e))
        return 2
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from fakekis.cli.tapecmds import scan

    try:
        got = scan("validate", args.recording, args.progress or args.json or sys.stderr.isatty(), args.json)
    except tape.RecordingError as e:
        if (Path(args.recording) / "ws.jsonl").is_file():
            _checked("validate", args.recording)  # lists every problem of a hand-made tape
        else:
            _say("validate", str(e))
        return 2
    assert got is not None
    rec, summary = got
    print(json.dumps(summary, ensure_ascii=False))
    warnings = _incomplete(rec.session, summary)
    for warning in warnings:
        print(f"fakekis validate: warning: {rec.path}: {warning}", file=sys.stderr)
    return 1 if warnings else 0


def _incomplete(session: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """Why a well-formed recording is still not one to rely on: a recorder that did not finish cleanly or
    recorded nothing, or nothing to replay at all."""
    out = []
    recorder = session.get("recorder")
    if isinstance(recorder, dict) and recorder.get("complete") is not True:
        problems = recorder.get("problems")
        why = (
            "; ".join(str(p) for p in problems)
            if isinstance(problems, list) and problems
            else ("still recording, or the recorder did not stop cleanly")
        )
        out.append(f"session.json: recorder.complete is not true ({why})")
    if not summary["data_frames"] and not summary["rest_interactions"]:
        out.append("no data frame and no REST interaction: nothing to replay")
    return out


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
