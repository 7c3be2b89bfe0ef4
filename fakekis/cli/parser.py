"""The `fakekis` argument parser: every command and flag with its help text.

Each flag's value goes through an argparse `type=` validator from `args`, so bad input is one line naming
the flag and the allowed values, exit 2; `fakekis.cli.main` parses with `build()` and dispatches.

Why over 300 lines: it is every command's flags with their help text, which read best as one list.
"""

from __future__ import annotations

import argparse

from fakekis import __version__, tape
from fakekis.cli import logfmt
from fakekis.cli.args import (
    MAX_SPEED,
    MAX_START_CASH,
    MAX_SYMBOLS,
    MIN_SPEED,
    _Parser,
    hts_id,
    instant,
    integer,
    non_negative,
    out_dir,
    port,
    positive,
    recording,
    speed,
    symbols,
    url,
    venue_list,
    won,
)
from fakekis.cli.tapecmds import when
from fakekis.exchange.accounts import DEFAULT_START_CASH
from fakekis.tape.synth import MAX_MINUTES

_PORT_HELP = "an integer from 0 to 65535; default 0: a free port"
_SPEED_HELP = f"replay speed: 1 (recorded pace), any factor from {MIN_SPEED:g} to {MAX_SPEED:.0f}, or asap"


def build() -> _Parser:
    parser = _Parser(
        prog="fakekis",
        description="A faithful local fake of the KIS Open API "
        "(REST + realtime WebSocket) that replays recorded sessions. A bad argument is one line on "
        "stderr and exit code 2.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__} (kis-harness)")
    parser.add_argument(
        "--log-format",
        choices=logfmt.FORMATS,
        default="text",
        help="text (default) or json: one JSON object per line on stderr with timestamp and level",
    )
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
        "--session-release-delay",
        type=non_negative(86400, "seconds"),
        default=0.0,
        help="seconds an appkey stays taken after its owner's socket goes (a zombie at KIS: newcomers get "
        "OPSP8996): 0 (at once, default) to 86400",
    )
    p.add_argument(
        "--ledger",
        action="store_true",
        help="keep the ledger of sessions, acks, data records, token calls and REST calls "
        "(GET /__fakekis/history), for scale-out checkers",
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
        "--start-cash",
        type=won,
        default=DEFAULT_START_CASH,
        help="the deposit of each paper-trading account on first use, whole won from 0 to "
        f"{MAX_START_CASH:,} (default {DEFAULT_START_CASH:,}; docs/paper-trading.md)",
    )
    p.add_argument(
        "--hts-id",
        type=hts_id,
        help="the HTS ID fill notices (H0STCNI0/H0STCNI9) accept as tr_key; another is refused with "
        "OPSP0017 and a drop, as KIS does (default: any non-empty one)",
    )
    p.add_argument(
        "--scenario",
        help="faults to inject: a fault name (drop), a comma list (drop,malformed) or a "
        "YAML/JSON scenario file; `fakekis faults` lists them (docs/faults.md)",
    )
    _window_flags(p, "replay")

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
        help="environment written: mock or live (default mock; live with --venues, as mock serves none of "
        "the NXT, unified, expected-trade or market-operation TRs)",
    )
    g.add_argument(
        "--venues",
        type=venue_list,
        metavar="LIST",
        help="play the market day session by session on these venues' TRs: a comma list of krx "
        "(H0STCNT0, H0STASP0, H0STANC0 in the auctions, H0STMKO0), nxt (H0NXCNT0, H0NXASP0, 08:00-20:00), "
        "unified (H0UNCNT0, H0UNASP0), or all (default: regular-session KRX trades at every instant)",
    )
    g.add_argument(
        "--trade-rate",
        type=positive(1000, "trades per second"),
        help="mean trade frames per second of each symbol not among the three defaults (default 0.8)",
    )
    _compress_flag(g)
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
    _compress_flag(r)
    r.add_argument(
        "--rotate-mb",
        type=positive(1_000_000, "MB"),
        help="start the ws file's next part (ws.2.jsonl.zst, ...) once a part reaches this many MB; "
        "readers take the parts as one tape (default: one file)",
    )
    r.add_argument(
        "--progress", action="store_true", help="print progress even when stderr is not a terminal"
    )

    sub.add_parser(
        "coverage",
        help="print the KIS coverage table (docs/coverage.md): each REST call and realtime TR, served or not",
        description="Print, as Markdown, what fakekis does with every KIS domestic-stock REST path + tr_id and "
        "every realtime TR, live and mock, and the test that covers it. docs/coverage.md is this output "
        "(regenerate: fakekis coverage > docs/coverage.md).",
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
    for cmd in (i, v):
        cmd.add_argument(
            "--progress", action="store_true", help="progress on stderr even when it is not a terminal"
        )
        cmd.add_argument("--json", action="store_true", help="progress as JSON lines on stderr")

    x = sub.add_parser(
        "index",
        help="(re)build a recording's seek index, ws.index.json",
        description="Read the whole tape once, checking every line, and write ws.index.json beside it "
        "(written at record and generate time; rebuild it for a hand-made or edited tape).",
    )
    x.add_argument("recording", type=recording, help="a recording folder or a bundled name")

    sl = sub.add_parser(
        "slice",
        help="cut a window of a recording into a small valid recording",
        description="Copy the lines of --from..--until (and --symbols) into OUT, t shifted to 0, with the "
        "connection opens, subscriptions and acks from before the window and the REST auth calls it needs.",
    )
    sl.add_argument("recording", metavar="IN", type=recording, help="a recording folder or a bundled name")
    sl.add_argument("out", metavar="OUT", type=out_dir(replace_recording=True), help="output folder")
    _window_flags(sl, "cut")
    _compress_flag(sl)

    m = sub.add_parser(
        "merge",
        help="join recordings of one day (several appkeys or connections) into one",
        description="Lines of every input on one timeline (the earliest start), connection numbers kept "
        "apart, subscriptions and REST interactions joined.",
    )
    m.add_argument("out", metavar="OUT", type=out_dir(replace_recording=True), help="output folder")
    m.add_argument("recordings", metavar="IN", nargs="+", type=recording, help="recording folders")
    _compress_flag(m)
    return parser


def _window_flags(p: argparse.ArgumentParser, verb: str) -> None:
    p.add_argument(
        "--from",
        dest="start",
        type=when,
        help=f"{verb} from this KST time of day HH:MM[:SS] on the recording's day, or +SECONDS into it",
    )
    p.add_argument("--until", type=when, help=f"{verb} up to this time (same forms as --from)")
    p.add_argument("--symbols", type=symbols, help=f"{verb} only these codes (a comma list of 6-digit codes)")


def _compress_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--compress",
        choices=("zst", "gz", "none"),
        default="none",
        help="the ws file written: zst (ws.jsonl.zst), gz (ws.jsonl.gz) or none (ws.jsonl, default)",
    )
