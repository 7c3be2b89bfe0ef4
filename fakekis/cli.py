"""`fakekis` command line: serve, faults, demo, generate, record, inspect, validate.

Bad input never reaches the commands: every flag goes through an argparse `type=` validator below
(ports, positive finite numbers, instants with an offset, output folders, recordings), and any error is
ONE line on stderr naming the flag and the allowed values, exit code 2, no traceback, no hang.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from fakekis import __version__, faults, tape
from fakekis.tape.synth import MAX_MINUTES
from kisclock import ManualClock, parse_instant

MAX_SPEED = 1_000_000.0
MIN_SPEED = 0.001
MAX_SYMBOLS = 100


class _Parser(argparse.ArgumentParser):
    """argparse prints the usage block before an error; we print the error alone, on one line."""

    def error(self, message: str) -> NoReturn:
        # `--ping-interval -inf` reads as an option, not a value: say what the flag takes (and the `=` form).
        flag = re.fullmatch(r"argument (\S+?)(?:/\S+)?: expected one argument", message)
        if flag:
            action = next((a for a in self._actions if flag[1] in a.option_strings), None)
            if action is not None and action.help:
                message += f" ({action.help}; write {flag[1]}=VALUE for a value that starts with -)"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# -- validators shared by every command (argparse `type=`) ------------------------------------------


def port(text: str) -> int:
    """A TCP port: an integer from 0 to 65535, 0 meaning a free port chosen by the system."""
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port: give an integer from 0 to 65535 (0: a free port)"
        )
    return int(text)


def positive(maximum: float, unit: str) -> Callable[[str], float]:
    """A number > 0, finite, at most `maximum` (so nothing downstream sleeps forever or overflows)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not 0 < value <= maximum:  # False for NaN
            raise argparse.ArgumentTypeError(
                f"{text!r} is not allowed: give a number of {unit} greater than 0 and at most {maximum:g}"
            )
        return value

    return parse


def non_negative(maximum: float, unit: str) -> Callable[[str], float]:
    """A number >= 0, finite, at most `maximum` (0 usually meaning "never")."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not 0 <= value <= maximum:  # False for NaN
            raise argparse.ArgumentTypeError(
                f"{text!r} is not allowed: give a number of {unit} from 0 (never) to {maximum:g}"
            )
        return value

    return parse


def speed(text: str) -> float | None:
    """Replay speed: `asap` (None) or a factor from MIN_SPEED to MAX_SPEED."""
    if text == "asap":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number or 'asap': give a factor from {MIN_SPEED:g} to {MAX_SPEED:.0f} "
            "(1 = recorded pace) or asap"
        ) from None
    if not MIN_SPEED <= value <= MAX_SPEED:  # False for NaN
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed: give a factor from {MIN_SPEED:g} to {MAX_SPEED:.0f} "
            "(1 = recorded pace) or asap"
        )
    return value


def instant(text: str) -> datetime:
    """An ISO-8601 instant with a UTC offset, between 1990 and 2099 (where recordings live)."""
    try:
        parse_instant(text)  # names the value and demands an offset
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    when = datetime.fromisoformat(text.strip())
    lo, hi = tape.START_RANGE
    if not lo <= when.timestamp() < hi:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: give an instant between 1990 and 2099")
    return when


def out_dir(replace_recording: bool) -> Callable[[str], Path]:
    """A folder to write a recording into: new (parents are created), empty, or (for `generate`) an
    existing recording to replace; never a file, never someone's non-empty folder, and somewhere we may
    write."""

    def parse(text: str) -> Path:
        path = Path(text)
        allowed = "a new or empty folder" + (" or an existing recording" if replace_recording else "")
        if path.exists() and not path.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is a file: give {allowed}")
        if path.is_dir():
            try:
                empty = not any(path.iterdir())
            except OSError as e:
                raise argparse.ArgumentTypeError(
                    f"{text!r} cannot be read ({e.strerror}): give {allowed}"
                ) from None
            if not empty and not (replace_recording and (path / "session.json").is_file()):
                raise argparse.ArgumentTypeError(f"{text!r} is a folder that is not empty: give {allowed}")
        parent = path.absolute().parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is inside a file ({parent}): give {allowed}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(
                f"{text!r}: {parent} is not writable: give {allowed} somewhere writable"
            )
        return path

    return parse


def recording(text: str) -> Path:
    """A recording folder, or the name of a bundled recording."""
    path = Path(text)
    if not path.is_dir() and (tape.bundled(text) / "session.json").is_file():
        path = tape.bundled(text)  # a bundled recording by name
    if not path.is_dir():
        names = ", ".join(_bundled_names()) or "none"
        what = "it is a file" if path.exists() else "no such folder"
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a recording folder ({what}): give a folder with session.json and ws.jsonl, "
            f"or a bundled name ({names})"
        )
    return path


def symbols(text: str) -> tuple[str, ...]:
    """A comma list of 6-digit KRX codes, each once."""
    codes = tuple(s.strip() for s in text.split(",") if s.strip())
    allowed = f"a comma list of 1 to {MAX_SYMBOLS} distinct 6-digit codes, e.g. 005930,000660"
    if not codes or len(codes) > MAX_SYMBOLS:
        raise argparse.ArgumentTypeError(f"{len(codes)} codes: give {allowed}")
    for code in codes:
        if not (len(code) == 6 and code.isascii() and code.isdigit()):
            raise argparse.ArgumentTypeError(f"{code!r} is not a 6-digit code: give {allowed}")
    if len(set(codes)) != len(codes):
        twice = next(c for c in codes if codes.count(c) > 1)
        raise argparse.ArgumentTypeError(f"{twice!r} appears twice: give {allowed}")
    return codes


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer: give a whole number, e.g. 7") from None


def url(*schemes: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        scheme, sep, rest = text.partition("://")
        if not sep or scheme not in schemes or not rest.strip("/"):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a URL: give {' or '.join(s + '://HOST[:PORT]' for s in schemes)}"
            )
        return text

    return parse


def _bundled_names() -> list[str]:
    root = tape.bundled().parent
    try:
        return sorted(p.name for p in root.iterdir() if (p / "session.json").is_file())
    except OSError:
        return []


def _say(command: str, message: str) -> None:
    print(f"fakekis {command}: error: {message}", file=sys.stderr)


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
        lenient=args.lenient,
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
    session, lines = synth.generate(
        args.start, args.minutes, specs, args.seed, not args.no_books, args.env, layout_day=day
    )
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


# -- the parser ---------------------------------------------------------------------------------------

_PORT_HELP = "an integer from 0 to 65535; default 0: a free port"
_SPEED_HELP = f"replay speed: 1 (recorded pace), any factor from {MIN_SPEED:g} to {MAX_SPEED:.0f}, or asap"


def _parser() -> _Parser:
    parser = _Parser(
        prog="fakekis",
        description="A faithful local fake of the KIS Open API "
        "(REST + realtime WebSocket) that replays recorded sessions. A bad argument is one line on "
        "stderr and exit code 2.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__} (kis-harness)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "serve",
        help="serve a recording as fake KIS (REST + WebSocket)",
        description="Serve fake KIS on loopback. When ready, prints ONE JSON line on stdout with "
        "rest_url, ws_url and env; everything else goes to stderr. Runs until "
        "SIGINT/SIGTERM and exits 0. Replay starts at the first acked subscription "
        "unless --start-on ready.",
    )
    p.add_argument(
        "--recording",
        type=recording,
        default=tape.bundled(),
        help=f"a recording folder or a bundled name (default: bundled {tape.DEFAULT_BUNDLED})",
    )
    p.add_argument("--speed", type=speed, default=1.0, help=_SPEED_HELP + " (default 1)")
    p.add_argument(
        "--env",
        choices=("mock", "live", "both"),
        default="mock",
        help="environment(s) to serve: mock, live or both; each has its own ports and key registries "
        "(default mock)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    p.add_argument("--rest-port", type=port, default=0, help=f"REST port: {_PORT_HELP}")
    p.add_argument("--ws-port", type=port, default=0, help=f"WebSocket port: {_PORT_HELP}")
    p.add_argument(
        "--ping-interval",
        type=positive(3600, "seconds"),
        default=10.0,
        help="seconds between PINGPONG heartbeats: greater than 0 and at most 3600 (default 10)",
    )
    p.add_argument(
        "--pingpong-deadline",
        type=non_negative(86400, "seconds"),
        default=100.0,
        help="seconds a PINGPONG may go unanswered before the session is dropped (1006), as KIS does: "
        "0 (never) to 86400 (default 100)",
    )
    p.add_argument(
        "--lenient",
        action="store_true",
        help="ack every well-formed subscription (OPSP0000): no unknown-TR, tr_key, HTS ID or "
        "mock-support refusals",
    )
    p.add_argument(
        "--start-on",
        choices=("subscribe", "ready"),
        default="subscribe",
        help="when the replay clock starts: subscribe (the first acked subscription, default) or ready",
    )
    p.add_argument(
        "--seed", type=integer, default=0, help="an integer seeding tokens, approval keys and ack keys"
    )
    p.add_argument(
        "--clock",
        choices=("wall", "manual"),
        default="wall",
        help='wall (default) or manual: time stands still until POST /__fakekis/clock {"advance": seconds} '
        "on the REST port (step mode: replay, PINGPONG and fault timers move only when told)",
    )
    p.add_argument(
        "--clock-start",
        type=instant,
        help="with --clock manual only: the starting instant, ISO-8601 with a UTC offset, e.g. "
        "2026-11-25T09:05:00+09:00, between 1990 and 2099 (default: the recording's start)",
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
        "--recording",
        type=recording,
        default=tape.bundled(),
        help="a recording folder or a bundled name (default: the bundled healthy morning)",
    )
    d.add_argument("--speed", type=speed, default=1.0, help=_SPEED_HELP + " (default 1)")
    d.add_argument(
        "--timeout",
        type=positive(3600, "seconds"),
        default=30.0,
        help="seconds to wait for each stage: greater than 0 and at most 3600 (default 30)",
    )

    g = sub.add_parser(
        "generate",
        help="write a seeded synthetic recording",
        description="Generate a synthetic session (H0STCNT0 trades, H0STASP0 books) whose fields keep "
        "the arithmetic invariants of real KIS frames. Marked synthetic. Written to a temporary folder "
        "beside OUT and renamed at the end: a failed run leaves nothing behind.",
    )
    g.add_argument(
        "out",
        metavar="OUT",
        type=out_dir(replace_recording=True),
        help="output folder: new, empty, or an existing recording (replaced)",
    )
    g.add_argument(
        "--start",
        type=instant,
        default=instant("2026-11-25T09:05:00+09:00"),
        help="start instant, ISO-8601 with a UTC offset (KST is +09:00), between 1990 and 2099 "
        "(default 2026-11-25T09:05:00+09:00)",
    )
    g.add_argument(
        "--minutes",
        type=positive(MAX_MINUTES, "minutes"),
        default=10.0,
        help=f"length in minutes: greater than 0 and at most {MAX_MINUTES:g} (default 10)",
    )
    g.add_argument(
        "--symbols",
        type=symbols,
        help=f"comma list of 1 to {MAX_SYMBOLS} distinct 6-digit codes (default 005930,000660,035720)",
    )
    g.add_argument("--seed", type=integer, default=7, help="random seed, an integer (default 7)")
    g.add_argument("--no-books", action="store_true", help="trades only, no H0STASP0 order books")
    g.add_argument(
        "--env",
        choices=("mock", "live"),
        default="mock",
        help="environment written: mock or live (default mock)",
    )
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
    r.add_argument("out", metavar="OUT", type=out_dir(replace_recording=False), help="a new or empty folder")
    r.add_argument(
        "--env", choices=("mock", "live"), default="mock", help="which KIS environment (default mock)"
    )
    r.add_argument(
        "--rest-upstream",
        type=url("http", "https"),
        help="REST base URL, http(s)://HOST[:PORT] (default: the environment's KIS URL)",
    )
    r.add_argument(
        "--ws-upstream",
        type=url("ws", "wss"),
        help="WebSocket URL, ws(s)://HOST[:PORT] (default: the environment's KIS URL)",
    )
    r.add_argument("--rest-port", type=port, default=0, help=f"proxy REST port: {_PORT_HELP}")
    r.add_argument("--ws-port", type=port, default=0, help=f"proxy WebSocket port: {_PORT_HELP}")
    r.add_argument(
        "--duration",
        type=positive(tape.MAX_T, "seconds"),
        help=f"seconds to record: greater than 0 and at most {tape.MAX_T:g} (a week; default: until Ctrl-C)",
    )
    r.add_argument(
        "--allow-trading", action="store_true", help="also forward order and account calls (DANGER)"
    )
    r.add_argument("--notes", help="free text for session.json")
    r.add_argument(
        "--progress", action="store_true", help="print progress even when stderr is not a terminal"
    )

    i = sub.add_parser(
        "inspect",
        help="summarise a recording: TRs, symbols, gaps, disconnects, PINGPONG, widths",
        description="Print a JSON summary of a recording. A broken recording prints one line per problem "
        "(file:line: field ...) on stderr and exits 2.",
    )
    i.add_argument("recording", type=recording, help="a recording folder or a bundled name")

    v = sub.add_parser(
        "validate",
        help="check a recording; exit 2 with one file:line line per problem",
        description="Check a recording against docs/recordings.md. Valid: one JSON summary line on stdout, "
        "exit 0. Broken: one line per problem (file:line: field ...) on stderr, exit 2.",
    )
    v.add_argument("recording", type=recording, help="a recording folder or a bundled name")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "serve":
            if args.env == "both" and (args.rest_port or args.ws_port):
                parser.exit(
                    2,
                    "fakekis serve: error: --rest-port/--ws-port name one environment's ports; use them with "
                    "--env live or --env mock\n",
                )
            if args.clock_start is not None and args.clock != "manual":
                parser.exit(2, "fakekis serve: error: --clock-start needs --clock manual\n")
        code = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not at interpreter exit
        return code
    except BrokenPipeError:  # `fakekis inspect ... | head -1`: the reader left; nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("fakekis: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="fakekis: %(message)s")
    for noisy in ("httpx", "websockets", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    command: str = args.command
    try:
        if command == "serve":
            return asyncio.run(_serve(args))
        if command == "demo":
            from fakekis.testing.demo import run_demo

            rec = tape.load(args.recording)
            if not any(tr == "H0STCNT0" for tr, _ in rec.subscriptions):
                _say(command, f"--recording: {rec.path} subscribes to no H0STCNT0 symbol; the demo needs one")
                return 2
            return asyncio.run(run_demo(rec, args.speed, args.timeout))
        if command == "generate":
            return _generate(args)
        if command == "faults":
            return _faults(args)
        if command == "record":
            return asyncio.run(_record(args, existed=args.out.exists()))
        if command == "inspect":
            return _inspect(args)
        return _validate(args)
    except tape.RecordingError as e:
        _say(command, f"--recording: {e}" if command in ("serve", "demo") else str(e))
        return 2
    except faults.ScenarioError as e:
        _say(command, str(e))
        return 2


if __name__ == "__main__":
    sys.exit(main())
