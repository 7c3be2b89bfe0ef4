"""scripts/ run by a Python that lacks the project say how to run them instead of failing on an import
deep inside (scripts/ws_compare_env_modes.sh's own checks are in test_compare_evidence.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_rerun_scenarios_without_the_project_says_how() -> None:
    # -I -S: no site-packages, so neither the project nor pytest can be imported, as with a bare python3
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(ROOT / "scripts" / "rerun_scenarios.py"), "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert (
        ".venv/bin/python scripts/rerun_scenarios.py" in proc.stderr and "tox -e determinism" in proc.stderr
    )
