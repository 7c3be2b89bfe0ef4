"""scripts/ws_compare_env_modes.sh offline against two fakekis: a healthy mock and a faulty live (and the
reverse); the evidence file names what is broken and links a readable timeline picture per mode."""

from __future__ import annotations

import json
import os
import shutil
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


def _script(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(ROOT / "scripts" / "ws_compare_env_modes.sh"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,  # the script must not wait out FAKEKIS_START_TIMEOUT for a child that is gone
        env=env,
        cwd=ROOT,
    )


def test_script_finds_the_project_python_and_reports_a_dead_fakekis_at_once(tmp_path: Path) -> None:
    """No $PYTHON and a PATH whose python3 may lack the project: the script takes the active virtualenv.
    A fakekis that exits at once (an unknown fault) is reported with its stderr, not after the start
    timeout (set far beyond this test's own bound)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "VIRTUAL_ENV")}
    env |= {"PATH": "/usr/bin:/bin", "VIRTUAL_ENV": sys.prefix, "FAKEKIS_START_TIMEOUT": "600"}
    proc = _script(["--fakekis", "healthy", "no-such-fault", "--out", str(tmp_path / "ev")], env)
    assert proc.returncode == 1, proc.stderr
    assert "fakekis (live) exited with status 2 before it was ready" in proc.stderr, proc.stderr
    assert "unknown fault 'no-such-fault'" in proc.stderr and "No module named" not in proc.stderr
    assert not (tmp_path / "ev").exists()


def test_script_without_a_project_python_says_how_to_get_one(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": str(tmp_path / "no-python")}
    proc = _script(["--fakekis", "healthy", "healthy"], env)
    assert proc.returncode == 2 and "no Python with kis-harness installed" in proc.stderr
    assert "set PYTHON=" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_compare_gives_each_environment_its_own_keys_from_kis_devlp(tmp_path: Path) -> None:
    """`fakekis serve --env both` keeps separate key registries; compare reads my_app/paper_app from a
    kis_devlp.yaml and never prints them."""
    live_key, live_sec = "PSlive" + "7" * 30, "devlp-live-secret-" + "l" * 20
    mock_key, mock_sec = "PSmock" + "8" * 30, "devlp-mock-secret-" + "m" * 20
    devlp = tmp_path / "kis_devlp.yaml"
    devlp.write_text(
        f"my_app: {live_key}\nmy_sec: {live_sec}\npaper_app: {mock_key}\npaper_sec: {mock_sec}\n",
        encoding="utf-8",
    )
    fake = subprocess.Popen(
        [sys.executable, "-m", "fakekis", "serve", "--env", "both", "--speed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert fake.stdout is not None
        urls = json.loads(fake.stdout.readline())["environments"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIS_")}
        env |= {
            "GATEWAY_TOKEN_DIR": str(tmp_path / "tok"),
            "GATEWAY_CLOCK_START": "2026-11-25T09:05:00+09:00",
            "KIS_SYMBOLS": "005930",
        }
        proc = subprocess.run(
            [sys.executable, "-m", "gateway", "compare", "--seconds", "4", "--out", str(tmp_path / "ev")]
            + ["--kis-devlp", str(devlp)]
            + [f"--{m}-{k}-url={urls[m][f'{k}_url']}" for m in ("mock", "live") for k in ("rest", "ws")],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    finally:
        fake.terminate()
        fake.communicate(timeout=20)  # reaps it and closes its stdout pipe
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["go"] is True, proc.stderr
    evidence = Path(result["evidence"]).read_text(encoding="utf-8")
    report = Path(result["report"]).read_text(encoding="utf-8")
    keys = "Keys: mock from kis_devlp.yaml paper_app/paper_sec, live from kis_devlp.yaml my_app/my_sec."
    assert keys in evidence and "same appkey" not in evidence + report
    everything = proc.stdout + proc.stderr + evidence + report
    for secret in (live_key, live_sec, mock_key, mock_sec):
        assert secret not in everything
    # each environment's token cache holds a token for its own key only (the file name carries no key)
    assert sorted(p.name for p in (tmp_path / "tok").iterdir()) == ["live", "mock"]
