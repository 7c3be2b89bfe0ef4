"""Run the fault-scenario and WebSocket client tests N times in fresh processes and show, per test,
how many runs gave the same outcome. A deterministic harness shows N/N for every row.

    python scripts/rerun_scenarios.py            # 50 runs (tox -e determinism)
    python scripts/rerun_scenarios.py --runs 5 --tests tests/e2e/test_fault_scenarios_ws.py
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict

DEFAULT_TESTS = [
    "tests/e2e/test_fault_scenarios_ws.py",
    "tests/e2e/test_kis_ws_live_client.py",
    "tests/e2e/test_quote_e2e_mock_kis.py",
    "tests/e2e/test_worker_supervision_ws.py",
]


def _project_python() -> str | None:
    """Why this Python cannot run the suite (the project or pytest is missing), or None."""
    try:
        import pytest  # noqa: F401

        import fakekis  # noqa: F401
    except ImportError as e:
        return (
            f"{sys.executable} cannot run the suite ({e}); run it with the project's Python: "
            ".venv/bin/python scripts/rerun_scenarios.py (after .venv/bin/pip install -e '.[test]'), "
            "or tox -e determinism"
        )
    return None


def main() -> int:
    problem = _project_python()
    if problem:
        print(f"rerun_scenarios.py: error: {problem}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="how many times (default 50)")
    parser.add_argument("--tests", nargs="*", default=DEFAULT_TESTS, help="test files")
    args = parser.parse_args()
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    start = time.monotonic()
    for run in range(1, args.runs + 1):
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", *args.tests],
            capture_output=True,
            text=True,
            timeout=900,
        )
        for outcome, test in re.findall(r"^(PASSED|FAILED|ERROR|SKIPPED) (\S+)", proc.stdout, re.M):
            outcomes[test][outcome] += 1
        print(
            f"run {run}/{args.runs}: exit {proc.returncode} ({time.monotonic() - start:.0f}s)",
            file=sys.stderr,
            flush=True,
        )
    unstable = 0
    print("\n| test | outcome | runs |\n|---|---|---|")
    for test, counts in sorted(outcomes.items()):
        outcome, n = counts.most_common(1)[0]
        same = n == args.runs and len(counts) == 1
        unstable += not same
        print(f"| `{test.split('::')[-1]}` | {outcome} | {n}/{args.runs}{'' if same else '  <-- differs'} |")
    print(
        f"\n{len(outcomes) - unstable} of {len(outcomes)} tests gave the same outcome in every run "
        f"({args.runs} runs, {time.monotonic() - start:.0f}s)."
    )
    return 1 if unstable else 0


if __name__ == "__main__":
    sys.exit(main())
