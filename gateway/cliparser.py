"""The `kis-gateway` argument parser: the four commands (serve, diagnose, compare, decode), their flags and
the environment help text; a usage error or a bad flag value is one line on stderr, exit 2.
`gateway.cli.main` parses with `build()` and runs the command.
"""

from __future__ import annotations

import argparse
import math
from typing import NoReturn

from gateway import __version__, logfmt

ENV_HELP = """environment (the gateway's configuration):
  KIS_ENV                mock | live (default mock)
  KIS_APP_KEY            app key of that environment (required)
  KIS_APP_SECRET         app secret (required)
  KIS_MOCK_APP_KEY/KIS_MOCK_APP_SECRET, KIS_LIVE_APP_KEY/KIS_LIVE_APP_SECRET
                         compare only: each environment's own keys (else --kis-devlp, else KIS_APP_KEY)
  KIS_DEVLP_YAML         compare only: a kis_devlp.yaml to read the keys from (as --kis-devlp)
  KIS_ACCOUNT_NO         CANO-PRDT, or KIS_CANO + KIS_ACNT_PRDT_CD_KR (default 01); masked everywhere
  KIS_SYMBOLS            comma list of 6-digit codes (default 005930)
  KIS_REST_URL/KIS_WS_URL  override the environment's KIS URLs (e.g. point at fakekis)
  GATEWAY_CLOCK_START    ISO-8601 instant with offset: the gateway clock starts there (replay a morning at night)
  GATEWAY_CLOCK_URL      follow a step-mode clock (fakekis --clock manual: http://HOST:PORT/__fakekis/clock)
  GATEWAY_FRESHNESS_MS   a WS tick younger than this is served as kis-ws (default 10000; max 86400000)
  GATEWAY_WS_IDLE_TIMEOUT  seconds without any message (PINGPONG included) before reconnecting (default 60;
                         max 86400)
  GATEWAY_ACK_TIMEOUT    seconds to wait for a subscribe ack before reconnecting (default 10; max 3600)
  GATEWAY_REST_RPS       REST calls per second the gateway allows itself (default live 18, mock 1; max 1000)
  GATEWAY_TOKEN_DIR      token cache folder (default ~/.cache/kis-gateway)
  GATEWAY_SESSION_HOURS  KRX session in KST, HH:MM-HH:MM (default 09:00-15:30)
  KIS_VENUE              krx | nxt | unified (default krx): the trade TR (H0STCNT0/H0NXCNT0/H0UNCNT0), the
                         sessions that count as open, REST's market (J/NX/UN); nxt/unified need KIS_ENV=live
A bad value stops the command with one line naming the variable and what is allowed (exit 2).
"""


class _Parser(argparse.ArgumentParser):
    """A usage error is one line on stderr and exit 2, like every other bad input (not usage + error)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 65535):
        raise argparse.ArgumentTypeError(
            f"{text[:20]!r} is not a port (allowed: 0-65535; 0 picks a free one)"
        )
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 86_400):
        raise argparse.ArgumentTypeError(
            f"{text[:20]!r} is not a duration (allowed: seconds > 0 and <= 86400)"
        )
    return value


def build() -> _Parser:
    parser = _Parser(
        prog="kis-gateway",
        description="KIS realtime quote gateway.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=ENV_HELP,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__} (kis-harness)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "serve",
        help="run the quote gateway (HTTP API + supervised WS worker)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=ENV_HELP,
        description="Serve GET /v1/quotes/{symbol} and GET /v1/metrics/quote. Prints one JSON "
        "line with the URL on stdout when ready; logs go to stderr.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument(
        "--log-format",
        choices=logfmt.FORMATS,
        default=None,
        help="text (default) or json: one JSON object per line with timestamp and level "
        "(default from GATEWAY_LOG_FORMAT)",
    )
    g = sub.add_parser(
        "diagnose",
        help="run the pipeline for a bounded time and name the first failed boundary",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=ENV_HELP,
        description="Runs the gateway's own pipeline against the configured target (real KIS, or any "
        "URLs such as a fakekis) for up to --seconds, asks for quotes, probes REST once, "
        "and prints the six boundaries with evidence and a verdict naming the first one "
        "that failed with its likely causes. Exit 0 on pass (a closed market with acks "
        "and PINGPONG passes), 1 on fail, 2 on bad configuration.",
    )
    g.add_argument("--seconds", type=_seconds, default=20.0, help="how long to observe at most (default 20)")
    g.add_argument("--json", action="store_true", help="machine-readable output")
    c = sub.add_parser(
        "compare",
        help="run mock and live side by side with the same keys; write the evidence",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=ENV_HELP,
        description="Runs the gateway twice at once, changing only KIS_ENV, that environment's URLs and "
        "its keys: KIS_MOCK_APP_KEY/KIS_MOCK_APP_SECRET and KIS_LIVE_APP_KEY/KIS_LIVE_APP_SECRET, else "
        "paper_app/paper_sec and my_app/my_sec of --kis-devlp, else KIS_APP_KEY/KIS_APP_SECRET for both. "
        "Captures metrics twice and one quote "
        "per mode and writes <out>/<date>-ws-debug-compare-mock-live.md (table, timeline "
        "pictures when matplotlib is installed, diagnoses) and <out>/<date>-ws-real-final-report.md "
        "(Go/No-Go). Exit 0 once the evidence is written, whatever it says; 2 on bad configuration.",
    )
    c.add_argument(
        "--kis-devlp",
        metavar="PATH",
        help="read the keys from the official samples' kis_devlp.yaml (my_app/my_sec live, paper_app/"
        "paper_sec mock); default: $KIS_DEVLP_YAML when set",
    )
    c.add_argument("--seconds", type=_seconds, default=20.0, help="how long each mode runs (default 20)")
    c.add_argument("--out", default="docs/evidence", help="folder for the evidence (default docs/evidence)")
    for mode in ("mock", "live"):
        c.add_argument(f"--{mode}-rest-url", help=f"{mode} REST URL (default: KIS's {mode} URL)")
        c.add_argument(f"--{mode}-ws-url", help=f"{mode} WebSocket URL (default: KIS's {mode} URL)")
    d = sub.add_parser(
        "decode",
        help="decode raw KIS WebSocket messages from stdin, one per line",
        description="Reads raw KIS WebSocket messages (data frames, acks, PINGPONG) one per line "
        "on stdin; writes one JSON object per event on stdout (one per trade record). "
        'Undecodable lines become {"error": ...} and decoding goes on; exit 0. '
        "Encrypted frames decode with the key/iv of an earlier OPSP0000 ack in the "
        "input, or with --tr-id/--key/--iv.",
    )
    d.add_argument("--tr-id", help="TR of the encrypted frames (e.g. H0STCNI0)")
    d.add_argument("--key", help="32-char AES key from the subscribe ack")
    d.add_argument("--iv", help="16-char AES iv from the subscribe ack")
    return parser
