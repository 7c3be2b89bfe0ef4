"""Shared pieces of the benchmarks: inputs from the bundled recording, timing with spread."""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDING = ROOT / "recordings" / "healthy-morning-synthetic" / "ws.jsonl"
# python-kis 2.1.6 accepts only 46-field H0STCNT0 records, so comparisons with it run on the bundled
# recording that keeps the pre-September layout (46/62); today's (47/63) would fail its length check.
RECORDING_46 = ROOT / "recordings" / "healthy-morning-synthetic-2026-08" / "ws.jsonl"


def trade_frames(recording: Path = RECORDING) -> list[str]:
    """A bundled recording's single-record H0STCNT0 frames."""
    out = []
    with recording.open(encoding="utf-8") as fh:
        for line in fh:
            if '"0|H0STCNT0|001|' in line:
                out.append(json.loads(line)["text"])
    return out


def batched(frames: list[str], n: int) -> list[str]:
    """n single-record frames of one symbol joined into n-record frames (`0|H0STCNT0|00n|...`)."""
    by_symbol: dict[str, list[str]] = {}
    for f in frames:
        payload = f.split("|", 3)[3]
        by_symbol.setdefault(payload.split("^", 1)[0], []).append(payload)
    out = []
    for payloads in by_symbol.values():
        for i in range(0, len(payloads) - n + 1, n):
            out.append(f"0|H0STCNT0|{n:03d}|" + "^".join(payloads[i : i + n]))
    return out


def measure(fn: Callable[[], int], repeats: int = 5) -> dict[str, float]:
    """Run fn (returns the number of items it handled) `repeats` times; items/s median and spread."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - start))
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "runs": repeats}


def machine() -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": platform.processor() or "?",
        "cores": str(__import__("os").cpu_count()),
        "websockets": version("websockets"),
        "python-kis": version("python-kis"),
        "uvicorn": version("uvicorn"),
        "starlette": version("starlette"),
    }
