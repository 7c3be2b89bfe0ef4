"""`kis-gateway serve` (the service) and `kis-gateway decode` (raw KIS messages -> JSON lines).

Why over 300 lines: it is the one edge of the gateway's command line. Four commands (serve, decode, diagnose,
compare) share one parser whose every flag is checked into one error line, the environment help text, the
listening socket and the closed-pipe and signal handling; split, each piece would be a few lines that only
this file calls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import math
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, NoReturn, TextIO

from gateway import __version__, codec, logfmt
from gateway.config import Config, ConfigError, check_url, from_env
from gateway.redact import Redactor

ENV_HELP = """environment (the gateway's configuration):
  KIS_ENV                mock | live (default mock)
  KIS_APP_KEY            app key of that environment (required)
  KIS_APP_SECRET         app secret (required)
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


def _writable_folder(path: Path, name: str) -> None:
    """Fail at start, in one line, rather than on the first token save or after a whole comparison."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except (OSError, ValueError) as e:
        reason = getattr(e, "strerror", None) or type(e).__name__
        raise ConfigError(f"{name}={str(path)[:200]!r} is not a writable folder ({reason})") from None


def _logs(stage_level: int, fmt: str = "text") -> None:
    """Stage events at `stage_level`; library chatter only when it is a warning. `fmt`: text or json
    (gateway/logfmt.py)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logfmt.formatter(fmt))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    for noisy in ("httpx", "websockets", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("gateway.stage").setLevel(stage_level)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket for uvicorn. From the ready line on, connections wait in the backlog instead
    of being refused. The protocol must say TCP: asyncio sets TCP_NODELAY only on accepted sockets whose
    proto is IPPROTO_TCP, and without it every response written as headers + body waited ~40 ms for the
    client's delayed ACK (Nagle)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()  # a host that does not resolve or a port in use: no socket left to the finaliser
        raise
    return sock


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, int]], int]:
    """uvloop when installed (the `fast` extra), else asyncio: the same choice uvicorn makes for itself."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    run: Callable[[Coroutine[Any, Any, int]], int] = uvloop.run
    return run


def _serve(args: argparse.Namespace) -> int:
    cfg = from_env()
    _writable_folder(cfg.token_dir, "GATEWAY_TOKEN_DIR")
    fmt = args.log_format or os.environ.get("GATEWAY_LOG_FORMAT", "text")
    if fmt not in logfmt.FORMATS:
        raise ConfigError(f"GATEWAY_LOG_FORMAT={fmt[:40]!r} is not allowed (allowed: text, json)")
    _logs(logging.INFO, fmt)
    try:
        sock = listen(args.host, args.port)
    except (OSError, OverflowError, UnicodeError, ValueError) as e:  # bind, resolve, idna of --host
        reason = getattr(e, "strerror", None) or str(e)
        print(
            f"kis-gateway: error: --host/--port: cannot listen on {args.host!r}:{args.port}: {reason}",
            file=sys.stderr,
        )
        return 2
    return _event_loop_runner()(_run_server(cfg, sock))


async def _run_server(cfg: Config, sock: socket.socket) -> int:
    """uvicorn under our own SIGINT/SIGTERM handling, so a stop request ends in exit status 0."""
    import uvicorn

    from gateway import httpserver
    from gateway.app import create_app

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    url = f"http://{sock.getsockname()[0]}:{sock.getsockname()[1]}"

    def ready(gw: object) -> None:
        print(
            json.dumps({"url": url, "env": cfg.env, "ws_url": cfg.ws_url, "rest_url": cfg.rest_url}),
            flush=True,
        )

    server = Server(httpserver.config(create_app(cfg, on_ready=ready)))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    await server.serve(sockets=[sock])
    return 0


def _diagnose(args: argparse.Namespace) -> int:
    from gateway import diagnose

    cfg = from_env()
    _writable_folder(cfg.token_dir, "GATEWAY_TOKEN_DIR")
    _logs(logging.ERROR)
    print(
        f"diagnosing {cfg.env}: REST {cfg.rest_url}  WS {cfg.ws_url}  symbols {','.join(cfg.symbols)} "
        f"(up to {args.seconds:g}s)",
        file=sys.stderr,
    )
    result = asyncio.run(diagnose.run(cfg, args.seconds))
    print(result.to_json() if args.json else result.render())
    return 0 if result.ok else 1


def _compare(args: argparse.Namespace) -> int:
    from gateway import compare
    from gateway.config import DEFAULT_URLS

    cfg = from_env()
    urls = {
        "mock": (args.mock_rest_url or DEFAULT_URLS["mock"][0], args.mock_ws_url or DEFAULT_URLS["mock"][1]),
        "live": (args.live_rest_url or DEFAULT_URLS["live"][0], args.live_ws_url or DEFAULT_URLS["live"][1]),
    }
    for mode, (rest, ws) in urls.items():
        check_url(f"--{mode}-rest-url", rest, ("http", "https"), "")
        check_url(f"--{mode}-ws-url", ws, ("ws", "wss"), "")
    _writable_folder(cfg.token_dir, "GATEWAY_TOKEN_DIR")
    out = Path(args.out)
    _writable_folder(out, "--out")
    _logs(logging.ERROR)
    print(f"comparing mock and live for {args.seconds:g}s each (at once) ...", file=sys.stderr)
    runs = asyncio.run(compare.compare(cfg, urls, args.seconds))
    try:
        evidence, report = compare.write_evidence(runs, out)
    except OSError as e:  # the folder changed under us during the run
        raise ConfigError(f"--out={str(out)[:200]!r}: cannot write the evidence ({e.strerror})") from None
    for r in runs:
        print(f"{r.mode}: {r.diagnosis.render().splitlines()[-1] if r.diagnosis else '?'}", file=sys.stderr)
    print(
        json.dumps(
            {
                "evidence": str(evidence),
                "report": str(report),
                "go": all(r.diagnosis and r.diagnosis.ok for r in runs),
            }
        )
    )
    return 0


def _decode(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    keys: dict[str, tuple[str, str]] = {}
    if args.key or args.iv:
        if not (args.key and args.iv and args.tr_id):
            print("kis-gateway decode: error: --key, --iv and --tr-id go together", file=sys.stderr)
            return 2
        if len(args.key) != 32 or len(args.iv) != 16:
            print(
                "kis-gateway decode: error: --key/--iv: the AES key is 32 characters and the iv 16 "
                "(as in the subscribe ack)",
                file=sys.stderr,
            )
            return 2
        keys[args.tr_id] = (args.key, args.iv)
    try:
        _decode_lines(stdin, stdout, keys)
        stdout.flush()
    except BrokenPipeError:  # `kis-gateway decode | head -1`: the reader has all it wants
        _silence_stdout(stdout)
    except KeyboardInterrupt:
        return 130
    return 0


def _silence_stdout(stdout: TextIO) -> None:
    """Point the stdout fd at /dev/null so the interpreter's final flush does not report the broken pipe."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())


def _env_secrets() -> list[str]:
    """Secrets the user configured, masked in decode output too (decode needs no configuration, so they
    are read as they are, unchecked)."""
    env = os.environ
    account = env.get("KIS_ACCOUNT_NO", "").strip()
    cano = env.get("KIS_CANO", "").strip()
    values = [env.get("KIS_APP_KEY", ""), env.get("KIS_APP_SECRET", ""), account, account.replace("-", "")]
    return [v.strip() for v in [*values, account[:8], cano] if v.strip()]


def _decode_lines(stdin: TextIO, stdout: TextIO, keys: dict[str, tuple[str, str]]) -> None:
    redact = Redactor(_env_secrets())
    for no, line in enumerate(stdin, 1):
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        event = codec.decode(text, keys)
        if (
            isinstance(event, codec.Control)
            and event.key
            and event.iv
            and event.msg_cd in ("OPSP0000", "OPSP0002")
        ):
            keys[event.tr_id] = (event.key, event.iv)
        for obj in codec.to_json_lines(event):
            if "error" in obj:
                obj = {"line": no, **obj}
            stdout.write(redact(json.dumps(obj, ensure_ascii=False)) + "\n")


def main(argv: list[str] | None = None) -> int:
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
        description="Runs the gateway twice at once with the same KIS_APP_KEY/KIS_APP_SECRET, changing "
        "only KIS_ENV and that environment's URLs; captures metrics twice and one quote "
        "per mode and writes <out>/<date>-ws-debug-compare-mock-live.md (table, timeline "
        "pictures, diagnoses) and <out>/<date>-ws-real-final-report.md (Go/No-Go). "
        "Exit 0 once the evidence is written, whatever it says.",
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
    args = parser.parse_args(argv)
    commands = {"serve": _serve, "diagnose": _diagnose, "compare": _compare}
    if args.command not in commands:
        for stream, errors in ((sys.stdin, "replace"), (sys.stdout, "backslashreplace")):
            if isinstance(stream, io.TextIOWrapper):  # KIS text is UTF-8 whatever the locale says
                stream.reconfigure(encoding="utf-8", errors=errors)
        return _decode(args, sys.stdin, sys.stdout)
    try:
        return commands[args.command](args)
    except (
        ConfigError
    ) as e:  # from the environment, or found while starting (an unreachable GATEWAY_CLOCK_URL)
        print(f"kis-gateway: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
