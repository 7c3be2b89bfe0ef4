"""The bug zoo: every way a KIS quote service ends up at ws_connected=false / ws_messages=0 /
source="kis-rest" that we know of, as a small patch to a copy of this repository. Each one must make
`pytest -k ws` fail within 60 s (a per-bug timeout); the run prints which test caught which bug.

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
    origin: str  # where it comes from: the original investigation or docs/kis/failure-modes.md
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
        "gateway/ingest.py",
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
        "        return ClientSession.for_symbols(self.cfg.symbols, self.cfg.trade_trs)\n",
        "        self.kept = getattr(self, 'kept', None) or ClientSession.for_symbols(self.cfg.symbols, self.cfg.trade_trs)\n"
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
        "gateway/ingest.py",
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
        "gateway/ingest.py",
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
    # -- codec -----------------------------------------------------------------------------------
    Bug(
        "PINGPONG recognised only with a body (real ones have none): never echoed",
        "F3, a stricter parser",
        "gateway/codec.py",
        '    if tr_id == "PINGPONG":\n',
        '    if tr_id == "PINGPONG" and "body" in msg:\n',
    ),
    Bug(
        "ack's AES key and iv swapped: notices never decrypt",
        "docs/kis/protocol.md 4.6 (iv is 16 characters, key 32)",
        "gateway/codec.py",
        '    iv, key = out.get("iv"), out.get("key")\n',
        '    iv, key = out.get("key"), out.get("iv")\n',
    ),
    Bug(
        "encryption flag read backwards: every plain frame taken for encrypted",
        "docs/kis/protocol.md 5 (first part '0' plain, '1' encrypted)",
        "gateway/codec.py",
        '    encrypted = flag == "1"\n',
        '    encrypted = flag != "1"\n',
    ),
    # -- cache -----------------------------------------------------------------------------------
    Bug(
        "volume read from CNTG_VOL (this trade) instead of ACML_VOL (the day)",
        "H0STCNT0 fields 12 and 13 side by side",
        "gateway/cache.py",
        "            volume = int(fields[offset + 13])\n",
        "            volume = int(fields[offset + 12])\n",
    ),
    Bug(
        "change unsigned: a falling stock shows a rise",
        "PRDY_VRSS is signed; the sign field 5 is easy to drop",
        "gateway/cache.py",
        "            change = int(fields[offset + 4])\n",
        "            change = abs(int(fields[offset + 4]))\n",
    ),
    Bug(
        "change_rate read from PRDY_VRSS instead of PRDY_CTRT",
        "off-by-one field",
        "gateway/cache.py",
        "        q.change_rate = fields[offset + 5]\n",
        "        q.change_rate = fields[offset + 4]\n",
    ),
    Bug(
        "exchange date read from the wrong field: exchange_time lost",
        "off-by-one field (BSOP_DATE is 33)",
        "gateway/cache.py",
        '        q.exchange_date = fields[offset + 33] if len(fields) > offset + 33 else ""\n',
        '        q.exchange_date = fields[offset + 34] if len(fields) > offset + 34 else ""\n',
    ),
    # -- selection -------------------------------------------------------------------------------
    Bug(
        "a tick exactly freshness_s old falls back to REST",
        "README: served while no older than the window",
        "gateway/quotes.py",
        "    if age > freshness_s:\n",
        "    if age >= freshness_s:\n",
    ),
    Bug(
        "a fresh tick is served while the market is closed",
        "selection checks freshness before the calendar",
        "gateway/quotes.py",
        "    if closed is not None:\n",
        "    if closed is not None and quote is None:\n",
    ),
    # -- metrics ---------------------------------------------------------------------------------
    Bug(
        "stage last_at frozen at the first reach (a reconnect looks like nothing happened)",
        "metrics that stop telling the truth after the first hour",
        "gateway/metrics.py",
        "        self.last[stage] = now\n        if stage in self.first:\n            return False\n",
        "        if stage in self.first:\n            return False\n        self.last[stage] = now\n",
    ),
    Bug(
        "source_counts swapped in the metrics API",
        "copy-paste",
        "gateway/metrics.py",
        '                "kis-ws": self.source_counts["kis-ws"],\n                "kis-rest": self.source_counts["kis-rest"],\n',
        '                "kis-ws": self.source_counts["kis-rest"],\n                "kis-rest": self.source_counts["kis-ws"],\n',
    ),
    # -- market calendar -------------------------------------------------------------------------
    Bug(
        "session hours judged in the server's local time zone, not KST",
        "a UTC container: 09:05 KST is 00:05 there",
        "gateway/market.py",
        "        local = datetime.fromtimestamp(instant, KST)\n",
        "        local = datetime.fromtimestamp(instant)\n",
    ),
    # -- REST and tokens (gateway/rest.py) -------------------------------------------------------
    Bug(
        "approval key requested with `appsecret` (tokenP's name) instead of `secretkey`",
        "F6, docs/kis/protocol.md 2.3",
        "gateway/rest.py",
        '                "secretkey": self.cfg.app_secret,  # named `secretkey` here, not `appsecret` (§2.3)\n',
        '                "appsecret": self.cfg.app_secret,\n',
    ),
    Bug(
        "expired token (EGW00123) not re-issued",
        "F7",
        "gateway/rest.py",
        '            if code in ("EGW00121", "EGW00123") and attempt == 1:\n',
        '            if code == "EGW00121" and attempt == 1:\n',
    ),
    Bug(
        "inquire-price sent with another TR id",
        "docs/kis/endpoints.md: FHKST01010100 is inquire-price",
        "gateway/rest.py",
        '                        "tr_id": "FHKST01010100",\n',
        '                        "tr_id": "FHKST01010400",\n',
    ),
    # -- fakekis rules ---------------------------------------------------------------------------
    Bug(
        "fakekis checks the approval secret under tokenP's field name",
        "a fake that rejects what KIS accepts (docs/kis/protocol.md 2.3)",
        "fakekis/exchange/auth.py",
        '        bad = self._check_app(body.get("appkey"), body.get("secretkey"))\n',
        '        bad = self._check_app(body.get("appkey"), body.get("appsecret"))\n',
    ),
    Bug(
        "fakekis refuses a token for the appkey it was issued to",
        "an inverted ownership check",
        "fakekis/exchange/auth.py",
        "        if tok is None or tok.revoked or tok.appkey != appkey:\n",
        "        if tok is None or tok.revoked or tok.appkey == appkey:\n",
    ),
    Bug(
        "fakekis expires every token at issuance",
        "expiry compared with the issue time",
        "fakekis/exchange/auth.py",
        '        if now >= tok.expires_at:\n            return gateway_error("EGW00123"',
        '        if now >= tok.issued_at:\n            return gateway_error("EGW00123"',
    ),
    Bug(
        "fakekis inquire-price drops the sign of prdy_vrss",
        "a fake less faithful than KIS",
        "fakekis/exchange/price.py",
        "        prdy_vrss=rec[4],\n",
        '        prdy_vrss=rec[4].lstrip("-"),\n',
    ),
    Bug(
        "fakekis inquire-price reports the last trade's quantity as the day's volume",
        "H0STCNT0 fields 12 and 13 side by side",
        "fakekis/exchange/price.py",
        "        acml_vol=rec[13],\n",
        "        acml_vol=rec[12],\n",
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


# Fast cores first, then in-process loopback runs, then processes: `-x` stops at the first failure, and
# each bug must be caught within BUG_TIMEOUT_S of wall time.
ORDER = [
    "tests/gateway",
    "tests/fakekis",
    "tests/kisclock",
    "tests/e2e/test_quote_e2e_mock_kis.py",
    "tests/e2e/test_pinned_behaviours_ws.py",
    "tests/e2e/test_fault_scenarios_ws.py",
    "tests/e2e",
    "tests/compat",
    "tests/project",
]
BUG_TIMEOUT_S = 60
TEST_TIMEOUT_S = 40  # pytest-timeout per test (thread method: a stuck event loop ends the run, named)


def pytest_command() -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        *ORDER,
        "-k",
        "ws",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "--no-header",
        "-o",
        "addopts=",
        "--timeout",
        str(TEST_TIMEOUT_S),
    ]


def caught_by(output: str) -> str | None:
    """The test that failed (`FAILED id`), or the one a timeout ended (`Timeout: id ran past`)."""
    failed = re.search(r"^FAILED (\S+)", output, re.M) or re.search(r"Timeout: (\S+) ran past", output)
    return failed.group(1) if failed else None


def apply(bug: Bug, work: Path) -> bool:
    target = work / bug.path
    text = target.read_text(encoding="utf-8")
    if text.count(bug.old) != 1:
        return False
    target.write_text(text.replace(bug.old, bug.new), encoding="utf-8")
    return True


def run(bug: Bug, budget: float = BUG_TIMEOUT_S) -> tuple[str, float]:
    with tempfile.TemporaryDirectory(prefix="kis-zoo-") as tmp:
        work = Path(tmp)
        _copy_repo(work)
        if not apply(bug, work):
            return f"PATCH DOES NOT APPLY ({bug.path}: the original text is gone; update the zoo)", 0.0
        start = time.monotonic()
        env = {**os.environ, "PYTHONPATH": str(work), "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            proc = subprocess.run(
                pytest_command(), cwd=work, env=env, capture_output=True, text=True, timeout=budget
            )
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            return f"NOT CAUGHT within {budget:g} s" + (f" ({caught_by(out)})" if caught_by(out) else ""), (
                time.monotonic() - start
            )
        took = time.monotonic() - start
        if proc.returncode == 0:
            return "NOT CAUGHT", took
        return caught_by(proc.stdout) or f"pytest exit {proc.returncode}", took


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Apply each known KIS-client bug to a copy of the repo and "
        "show which `pytest -k ws` test catches it."
    )
    parser.add_argument("--only", type=int, action="append", help="run bug number N only (repeatable)")
    parser.add_argument(
        "--bug-timeout",
        type=float,
        default=BUG_TIMEOUT_S,
        help=f"wall seconds a bug may take to be caught (default {BUG_TIMEOUT_S}; raise it on a loaded machine)",
    )
    args = parser.parse_args()
    chosen = [(i, b) for i, b in enumerate(ZOO, 1) if not args.only or i in args.only]
    rows, missed = [], 0
    for i, bug in chosen:
        print(f"[{i}/{len(ZOO)}] {bug.title} ...", file=sys.stderr, flush=True)
        who, took = run(bug, args.bug_timeout)
        missed += not who.startswith("tests/")
        rows.append((i, bug, who, took))
    print("\n| # | bug | origin | caught by | s |\n|---|---|---|---|---|")
    for i, bug, who, took in rows:
        print(f"| {i} | {bug.title} | {bug.origin} | `{who}` | {took:.1f} |")
    print(f"\n{len(rows) - missed} of {len(rows)} bugs caught by `pytest -k ws`.")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
