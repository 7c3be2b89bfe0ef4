"""`kis-gateway` commands: serve (the service), diagnose, compare, and decode (raw KIS messages -> JSON
lines), with the listening socket and the closed-pipe and signal handling; the flags and the environment
help text are in `cliparser`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TextIO

from gateway import cliparser, codec, logfmt
from gateway.config import Config, ConfigError, check_url, from_env
from gateway.redact import Redactor


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
    from gateway import compare, credentials
    from gateway.config import DEFAULT_URLS

    creds = credentials.per_env(os.environ, Path(args.kis_devlp) if args.kis_devlp else None)
    # Every variable as set is checked first, as for serve and diagnose (KIS_REST_URL included, though
    # compare takes its URLs from the flags); then each mode gets its own KIS_ENV, URLs and keys.
    from_env({**os.environ, "KIS_APP_KEY": creds["mock"].key, "KIS_APP_SECRET": creds["mock"].secret})
    configs: dict[str, Config] = {}
    for mode in ("mock", "live"):
        rest = getattr(args, f"{mode}_rest_url") or DEFAULT_URLS[mode][0]
        ws = getattr(args, f"{mode}_ws_url") or DEFAULT_URLS[mode][1]
        check_url(f"--{mode}-rest-url", rest, ("http", "https"), "")
        check_url(f"--{mode}-ws-url", ws, ("ws", "wss"), "")
        env = {
            **os.environ,
            "KIS_ENV": mode,
            "KIS_APP_KEY": creds[mode].key,
            "KIS_APP_SECRET": creds[mode].secret,
            "KIS_REST_URL": rest,
            "KIS_WS_URL": ws,
            "KIS_CREDENTIALS_FILE": "",  # compare runs one appkey per environment, the one named above
        }
        configs[mode] = from_env(env)
    _writable_folder(configs["mock"].token_dir, "GATEWAY_TOKEN_DIR")
    out = Path(args.out)
    _writable_folder(out, "--out")
    _logs(logging.ERROR)
    print(
        "comparing mock and live for "
        f"{args.seconds:g}s each (at once); keys: "
        + ", ".join(f"{mode} from {c.source}" for mode, c in creds.items()),
        file=sys.stderr,
    )
    sources = {mode: c.source for mode, c in creds.items()}
    runs = asyncio.run(compare.compare(configs, args.seconds, sources))
    try:
        evidence, report = compare.write_evidence(runs, out)
    except OSError as e:  # the folder changed under us during the run
        raise ConfigError(f"--out={str(out)[:200]!r}: cannot write the evidence ({e.strerror})") from None
    for r in runs:
        print(f"{r.mode}: {r.diagnosis.render().splitlines()[-1] if r.diagnosis else '?'}", file=sys.stderr)
    if not compare.can_plot():
        print(f"kis-gateway compare: note: {compare.PICTURES_HINT}", file=sys.stderr)
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
    parser = cliparser.build()
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
