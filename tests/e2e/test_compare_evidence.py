"""scripts/ws_compare_env_modes.sh offline against two fakekis: a healthy mock and a faulty live (and the
reverse); the evidence file names what is broken and links a readable timeline picture per mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the env-mode comparison runs the WebSocket path end to end and diagnoses ws_connected=false causes
pytestmark = pytest.mark.ws


@pytest.mark.parametrize(
    "mock, live, broken", [("healthy", "session-in-use", "live"), ("error-ack", "healthy", "mock")]
)
def test_compare_script_writes_evidence_a_person_can_read(
    mock: str, live: str, broken: str, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "GATEWAY_TOKEN_DIR": str(tmp_path / "tok")}
    proc = subprocess.run(
        [
            "bash",
            str(ROOT / "scripts" / "ws_compare_env_modes.sh"),
            "--fakekis",
            mock,
            live,
            "--seconds",
            "6",
            "--out",
            str(tmp_path / "ev"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["go"] is False
    evidence = Path(result["evidence"]).read_text(encoding="utf-8")
    assert evidence.startswith("# WebSocket debug: mock vs live")
    rows = {
        line.split("|")[1].strip(): line
        for line in evidence.splitlines()
        if line.startswith("| mock") or line.startswith("| live")
    }
    assert (
        "FAIL at subscribed" in rows[broken] and "| 0 | kis-rest |" in rows[broken]
    )  # no data, REST answers
    healthy = "mock" if broken == "live" else "live"
    assert "PASS" in rows[healthy] and "| kis-ws |" in rows[healthy] and "6/6" in rows[healthy]
    assert ("OPSP8996" if broken == "live" else "OPSP0007") in evidence
    for mode in ("mock", "live"):
        png = next((tmp_path / "ev").glob(f"*-ws-timeline-{mode}.png"))
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert f"]({png.name})" in evidence
    report = Path(result["report"]).read_text(encoding="utf-8")
    assert "**NO-GO**" in report and f"| {broken} | NO-GO | subscribed |" in report
