"""The bug zoo: every way a KIS quote service ends up at ws_connected=false / ws_messages=0 /
source="kis-rest" that we know of, as a small patch to a copy of this repository. Each one must make
`pytest -k ws` fail; the run prints which test caught which bug.

    python mutants/zoo.py            # all bugs (tox -e mutants)
    python mutants/zoo.py --only 4   # one
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Bug:
    title: str
    origin: str  # where it comes from: the original investigation or failure-modes.md
    path: str
    old: str
    new: str


ZOO = [
    Bug(
        "worker exits before entering its loop",
        "hypothesis 1 of the original investigation",
        "gateway/worker.py",
        "        )\n        while True:\n            healthy = False\n",
        "        )\n        return\n        while True:\n            healthy = False\n",
    ),
    Bug(
        "data frames not reflected in metrics",
        "hypothesis 2 of the original investigation",
        "gateway/worker.py",
        "        m.ws_messages += 1\n",
        "        pass\n",
    ),
    Bug(
        "selection excludes fresh WS data",
        "hypothesis 3 of the original investigation",
        "gateway/quotes.py",
        "    if age > freshness_s:\n",
        "    if age >= 0:\n",
    ),
    Bug(
        "no resubscribe after reconnect (acked set kept across connections)",
        "F1: python-kis 1.0.5 / PR #36",
        "gateway/worker.py",
        "        return ClientSession.for_symbols(self.cfg.symbols)\n",
        "        self.kept = getattr(self, 'kept', None) or ClientSession.for_symbols(self.cfg.symbols)\n"
        "        return self.kept\n",
    ),
    Bug(
        "PINGPONG not answered",
        "F3: JuGa PR #106",
        "gateway/session.py",
        "            return [Heartbeat(event.datetime), Reply(event.text)]\n",
        "            return [Heartbeat(event.datetime)]\n",
    ),
    Bug(
        "OPSP0002 ALREADY IN SUBSCRIBE treated as a failure",
        "F11",
        "gateway/session.py",
        'SUBSCRIBED_CODES = frozenset({"OPSP0000", "OPSP0002"})',
        'SUBSCRIBED_CODES = frozenset({"OPSP0000"})',
    ),
    Bug(
        "token re-issued per request",
        "F7: python-kis #24",
        "gateway/rest.py",
        "            await self.pacer.acquire()\n            token = await self.access_token()\n",
        "            await self.pacer.acquire()\n            self._token = None\n            self.store.save({})\n"
        "            token = await self.access_token()\n",
    ),
    Bug(
        "record width hard-coded to 46",
        "F9: the project that dropped a day of 47-field frames",
        "gateway/codec.py",
        "    if declared > 0 and total % declared == 0:\n        width = total // declared\n",
        "    if declared > 0 and total % declared == 0:\n        width = 46\n",
    ),
    Bug(
        "OPSP8996 retried at once (reconnect storm)",
        "F2: two processes evicting each other",
        "gateway/policy.py",
        "        if msg_cd in HOLD_OFF_CODES:\n            self.hold_off = True\n",
        "        if msg_cd in HOLD_OFF_CODES:\n            pass\n",
    ),
    Bug(
        "liveness judged on data only (quiet market taken for a dead socket)",
        "F5",
        "gateway/worker.py",
        "        self.policy.on_received(now)\n",
        "        if text[:1] in '01':\n            self.policy.on_received(now)\n",
    ),
    Bug(
        "backoff without a floor (reconnects as fast as the jitter allows)",
        "F13: the official kis_auth reconnects at once after a clean close",
        "gateway/policy.py",
        "        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)\n",
        "        return self.rng.uniform(0, ceiling)\n",
    ),
    Bug(
        "one text the gateway cannot handle ends the receive loop (a reconnect per bad frame)",
        "F10: an exception escaping the loop; issue #12 (12-16 reconnects in 12 s)",
        "gateway/worker.py",
        "        except Exception as e:  # noqa: BLE001 - one bad text must not end the receive loop (F10)\n",
        "        except KeyError as e:\n",
    ),
    Bug(
        "a worker task that ends is not restarted",
        "F10: the WS task died and nobody noticed",
        "gateway/worker.py",
        "            await asyncio.wait({task})\n",
        "            await task\n",
    ),
]


def _copy_repo(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for rel in files:
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def run(bug: Bug) -> tuple[str, float]:
    with tempfile.TemporaryDirectory(prefix="kis-zoo-") as tmp:
        work = Path(tmp)
        _copy_repo(work)
        target = work / bug.path
        text = target.read_text(encoding="utf-8")
        if text.count(bug.old) != 1:
            return f"PATCH DOES NOT APPLY ({bug.path}: the original text is gone; update the zoo)", 0.0
        target.write_text(text.replace(bug.old, bug.new), encoding="utf-8")
        start = time.monotonic()
        env = {**os.environ, "PYTHONPATH": str(work), "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-k",
                "ws",
                "-x",
                "-q",
                "-p",
                "no:cacheprovider",
                "--no-header",
                "-o",
                "addopts=",
            ],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        took = time.monotonic() - start
        if proc.returncode == 0:
            return "NOT CAUGHT", took
        failed = re.search(r"^FAILED (\S+)", proc.stdout, re.M)
        return (failed.group(1).split(" ")[0] if failed else f"pytest exit {proc.returncode}"), took


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Apply each known KIS-client bug to a copy of the repo and "
        "show which `pytest -k ws` test catches it."
    )
    parser.add_argument("--only", type=int, action="append", help="run bug number N only (repeatable)")
    args = parser.parse_args()
    chosen = [(i, b) for i, b in enumerate(ZOO, 1) if not args.only or i in args.only]
    rows, missed = [], 0
    for i, bug in chosen:
        print(f"[{i}/{len(ZOO)}] {bug.title} ...", file=sys.stderr, flush=True)
        caught_by, took = run(bug)
        missed += not caught_by.startswith("tests/")
        rows.append((i, bug, caught_by, took))
    print("\n| # | bug | origin | caught by | s |\n|---|---|---|---|---|")
    for i, bug, caught_by, took in rows:
        print(f"| {i} | {bug.title} | {bug.origin} | `{caught_by}` | {took:.1f} |")
    print(f"\n{len(rows) - missed} of {len(rows)} bugs caught by `pytest -k ws`.")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
