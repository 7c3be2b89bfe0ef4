"""`kis-gateway serve` (the service) and `kis-gateway decode` (raw KIS messages -> JSON lines)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TextIO

from gateway import codec
from gateway.config import Config, ConfigError, from_env

ENV_HELP = """environment (the gateway's configuration):
  KIS_ENV                mock | live (default mock)
  KIS_APP_KEY            app key of that environment (required)
  KIS_APP_SECRET         app secret (required)
  KIS_ACCOUNT_NO         CANO-PRDT, or KIS_CANO + KIS_ACNT_PRDT_CD_KR (default 01); masked everywhere
  KIS_SYMBOLS            comma list of 6-digit codes (default 005930)
  KIS_REST_URL/KIS_WS_URL  override the environment's KIS URLs (e.g. point at fakekis)
  GATEWAY_CLOCK_START    ISO-8601 instant with offset: the gateway clock starts there (replay a morning at night)
  GATEWAY_CLOCK_URL      follow a step-mode clock (fakekis --clock manual: http://HOST:PORT/__fakekis/clock)
  GATEWAY_FRESHNESS_MS   a WS tick younger than this is served as kis-ws (default 10000)
  GATEWAY_WS_IDLE_TIMEOUT  seconds without any message (PINGPONG included) before reconnecting (default 60)
  GATEWAY_ACK_TIMEOUT    seconds to wait for a subscribe ack before reconnecting (default 10)
  GATEWAY_REST_RPS       REST calls per second the gateway allows itself (default live 18, mock 1)
  GATEWAY_TOKEN_DIR      token cache folder (default ~/.cache/kis-gateway)
  GATEWAY_SESSION_HOURS  KRX session in KST, HH:MM-HH:MM (default 09:00-15:30)
"""


def _logs(stage_level: int) -> None:
    """Stage events at `stage_level`; library chatter only when it is a warning."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    for noisy in ("httpx", "websockets", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("gateway.stage").setLevel(stage_level)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket for uvicorn. From the ready line on, connections wait in the backlog instead
    of being refused. The protocol must say TCP: asyncio sets TCP_NODELAY only on accepted sockets whose
    proto is IPPROTO_TCP, and without it every response written as headers + body waited ~40 ms for the
    client's delayed ACK (Nagle)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, int]], int]:
    """uvloop when installed (the `fast` extra), else asyncio: the same choice uvicorn makes for itself."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def _serve(args: argparse.Namespace) -> int:
    cfg = from_env()
    _logs(logging.INFO)
    try:
        sock = listen(args.host, args.port)
    except OSError as e:
        print(f"kis-gateway: error: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
        return 2
    return _event_loop_runner()(_run_server(cfg, sock))


async def _run_server(cfg: Config, sock: socket.socket) -> int:
    """uvicorn under our own SIGINT/SIGTERM handling, so a stop request ends in exit status 0."""
    import uvicorn

    from gateway.app import create_app

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[override]
            yield

    url = f"http://{sock.getsockname()[0]}:{sock.getsockname()[1]}"

    def ready(gw: object) -> None:
        print(
            json.dumps({"url": url, "env": cfg.env, "ws_url": cfg.ws_url, "rest_url": cfg.rest_url}),
            flush=True,
        )

    server = Server(uvicorn.Config(create_app(cfg, on_ready=ready), log_level="warning", access_log=False))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    await server.serve(sockets=[sock])
    return 0


def _diagnose(args: argparse.Namespace) -> int:
    from gateway import diagnose

    cfg = from_env()
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
    from pathlib import Path

    from gateway import compare
    from gateway.config import DEFAULT_URLS

    cfg = from_env()
    _logs(logging.ERROR)
    urls = {
        "mock": (args.mock_rest_url or DEFAULT_URLS["mock"][0], args.mock_ws_url or DEFAULT_URLS["mock"][1]),
        "live": (args.live_rest_url or DEFAULT_URLS["live"][0], args.live_ws_url or DEFAULT_URLS["live"][1]),
    }
    print(f"comparing mock and live for {args.seconds:g}s each (at once) ...", file=sys.stderr)
    runs = asyncio.run(compare.compare(cfg, urls, args.seconds))
    evidence, report = compare.write_evidence(runs, Path(args.out))
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
        keys[args.tr_id] = (args.key, args.iv)
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
            stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kis-gateway",
        description="KIS realtime quote gateway.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=ENV_HELP,
    )
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
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
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
    g.add_argument("--seconds", type=float, default=20.0, help="how long to observe at most (default 20)")
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
    c.add_argument("--seconds", type=float, default=20.0, help="how long each mode runs (default 20)")
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
