"""`fakekis` command line: serve, faults, demo, generate, record, inspect, validate, index, slice, merge.

Bad input never reaches the commands: every flag goes through an argparse `type=` validator from `args`
(ports, positive finite numbers, instants with an offset, output folders, recordings), and any error is
ONE line on stderr naming the flag and the allowed values, exit code 2, no traceback, no hang.

- `args`: the shared validators and the one-line error parser;
- `parser`: every command and flag with its help text;
- `commands`: what each command does; `tapecmds`: the streaming tape commands (index, slice, merge) and
  the progress display;
- here: `main`, the checks across flags and the dispatch.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from fakekis import faults, tape
from fakekis.cli import logfmt, tapecmds
from fakekis.cli.args import _say
from fakekis.cli.commands import (
    _faults,
    _generate,
    _inspect,
    _record,
    _serve,
    _validate,
)
from fakekis.cli.parser import build as build_parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logfmt.formatter(args.log_format, "fakekis: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
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
        if command == "coverage":
            from fakekis.cli.coverage import render

            print(render(), end="")
            return 0
        if command == "inspect":
            return _inspect(args)
        if command == "index":
            return tapecmds.index(args)
        if command == "slice":
            return tapecmds.slice_(args)
        if command == "merge":
            return tapecmds.merge(args)
        return _validate(args)
    except tape.RecordingError as e:
        _say(command, f"--recording: {e}" if command in ("serve", "demo") else str(e))
        return 2
    except faults.ScenarioError as e:
        _say(command, str(e))
        return 2


if __name__ == "__main__":
    sys.exit(main())
