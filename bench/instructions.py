"""Instructions per request of the quote-API servers, counted by valgrind's callgrind: repeatable on a
noisy machine where the wall-clock req/s of `bench.api` drifts by tens of percent between runs.

    python -m bench.instructions [--requests 3000] [--against REV]

Each server (`bench.apps bare|gateway`, the same two `bench.api` compares) runs under callgrind. After a
warm-up load the counters are zeroed, `bench.loadgen` sends the measured requests (concurrency 32), and the
counters are dumped: the figure is everything the server process executed for those requests (uvicorn,
h11, asyncio, Starlette and our app), divided by the number of requests. `--against REV` also measures
the gateway as it was at git revision REV (extracted with `git archive` into a temporary folder), so a
suspected regression is checked side by side. Needs `valgrind` (Debian package) and takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from bench.common import ROOT

LOADGEN = [sys.executable, "-m", "bench.loadgen"]


def _dump_total(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"bench.instructions: {path}: no totals line in the callgrind output")


def measure(which: str, root: Path, requests: int, out: Path) -> int:
    """Instructions per request of `python -m bench.apps WHICH` run from `root`."""
    stem = out / f"cg-{which}-{root.name}"
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={stem}.%p", sys.executable]
        + ["-m", "bench.apps", which],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the port, once the server listens (slow under valgrind)
        if not line.strip().isdigit():
            raise SystemExit(f"bench.instructions: {which} server at {root} did not start: {line!r}")
        port = line.strip()
        load = LOADGEN + [port, "/v1/quotes/005930", "--concurrency", "32", "--requests"]
        subprocess.run(load + ["500"], cwd=ROOT, check=True, capture_output=True, timeout=600)
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
        got = subprocess.run(load + [str(requests)], cwd=ROOT, check=True, capture_output=True, timeout=1200)
        if json.loads(got.stdout)["errors"]:
            raise SystemExit(f"bench.instructions: {which} answered errors under load")
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
        dump = Path(f"{stem}.{proc.pid}.1")
        deadline = time.monotonic() + 60
        while not (dump.exists() and "\ntotals:" in dump.read_text()):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench.instructions: no callgrind dump {dump} within 60 s")
            time.sleep(0.2)
        return _dump_total(dump) // requests
    finally:
        proc.terminate()
        proc.wait(60)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=3000, help="measured requests per server (default 3000)"
    )
    parser.add_argument("--against", metavar="REV", help="also measure the gateway at this git revision")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error(f"--requests {args.requests}: must be at least 1")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("bench.instructions: needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="kis-bench-instr-") as tmp:
        out = Path(tmp)
        rows = {
            "bare": measure("bare", ROOT, args.requests, out),
            "gateway": measure("gateway", ROOT, args.requests, out),
        }
        if args.against:
            old = out / f"rev-{args.against}"
            old.mkdir()
            archive = subprocess.run(
                ["git", "archive", args.against], cwd=ROOT, check=True, capture_output=True
            )
            archive_path = out / "rev.tar"
            archive_path.write_bytes(archive.stdout)
            with tarfile.open(archive_path) as tar:
                tar.extractall(old, filter="data")
            rows[f"gateway@{args.against}"] = measure("gateway", old, args.requests, out)
    bare = rows["bare"]
    for name, per in rows.items():
        print(f"{name:>24}: {per:>9,} instructions per request ({per / bare:.3f}x bare)")


if __name__ == "__main__":
    main()
