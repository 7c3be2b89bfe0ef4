"""`kis-gateway compare` gives each environment its own keys (KIS issues one pair per environment: a mock
key on the live domain gets EGW02004), read from KIS_MOCK_/KIS_LIVE_ variables, a kis_devlp.yaml, or the
shared pair; errors name the variable or field and never echo a value. Without matplotlib the markdown
evidence is still written and says how to get the pictures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gateway import compare
from gateway.config import ConfigError, from_env
from gateway.credentials import per_env
from gateway.diagnose import Diagnosis, Finding
from gateway.metrics import STAGES

MOCK_KEY, MOCK_SEC = "PSmock" + "1" * 30, "mock-secret-value"
LIVE_KEY, LIVE_SEC = "PSlive" + "2" * 30, "live-secret-value"
DEVLP = f'my_app: "{LIVE_KEY}"\nmy_sec: "{LIVE_SEC}"\npaper_app: "{MOCK_KEY}"\npaper_sec: "{MOCK_SEC}"\n'


def test_per_environment_variables_win_over_the_shared_pair() -> None:
    creds = per_env(
        {
            "KIS_MOCK_APP_KEY": MOCK_KEY,
            "KIS_MOCK_APP_SECRET": MOCK_SEC,
            "KIS_APP_KEY": LIVE_KEY,
            "KIS_APP_SECRET": LIVE_SEC,
        }
    )
    assert (creds["mock"].key, creds["mock"].secret) == (MOCK_KEY, MOCK_SEC)
    assert (creds["live"].key, creds["live"].secret) == (LIVE_KEY, LIVE_SEC)  # the fallback
    assert creds["mock"].source == "KIS_MOCK_APP_KEY/KIS_MOCK_APP_SECRET"
    assert creds["live"].source == "KIS_APP_KEY/KIS_APP_SECRET (shared)"
    assert MOCK_SEC not in repr(creds) and LIVE_KEY not in repr(creds)


def test_kis_devlp_yaml_fields_by_flag_and_by_variable(tmp_path: Path) -> None:
    devlp = tmp_path / "kis_devlp.yaml"
    devlp.write_text(DEVLP, encoding="utf-8")
    for creds in (per_env({}, devlp), per_env({"KIS_DEVLP_YAML": str(devlp)})):
        assert (creds["mock"].key, creds["mock"].secret) == (MOCK_KEY, MOCK_SEC)
        assert (creds["live"].key, creds["live"].secret) == (LIVE_KEY, LIVE_SEC)
        assert creds["live"].source == "kis_devlp.yaml my_app/my_sec"
    # an explicit variable pair still wins over the file
    assert per_env({"KIS_LIVE_APP_KEY": "PSx", "KIS_LIVE_APP_SECRET": "y"}, devlp)["live"].key == "PSx"


@pytest.mark.parametrize(
    "env, devlp_text, needle",
    [
        ({"KIS_MOCK_APP_KEY": MOCK_KEY}, None, "KIS_MOCK_APP_SECRET is not set"),
        ({}, None, "no credentials for mock"),
        ({}, 'my_app: "app"\nmy_sec: "sec"\npaper_app: "모의투자 앱키"\npaper_sec: "x"\n', "paper_app has"),
        ({}, "my_app: [unclosed\n", "not YAML at line"),
        ({}, "- a list\n", "not a mapping"),
        (
            {
                "KIS_APP_KEY": MOCK_KEY,
                "KIS_APP_SECRET": "s",
                "KIS_LIVE_APP_KEY": "has space",
                "KIS_LIVE_APP_SECRET": "s",
            },
            None,
            "KIS_LIVE_APP_KEY has 9",
        ),
    ],
)
def test_bad_credentials_are_one_line_without_the_value(
    env: dict[str, str], devlp_text: str | None, needle: str, tmp_path: Path
) -> None:
    devlp = None
    if devlp_text is not None:
        devlp = tmp_path / "kis_devlp.yaml"
        devlp.write_text(devlp_text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        per_env(env, devlp)
    message = str(err.value)
    assert needle in message and "\n" not in message
    for secret in (MOCK_KEY, "모의투자 앱키", "has space"):
        assert secret not in message.replace("KIS_LIVE_APP_KEY has 9", "")


def _run(mode: str, key: str) -> compare.ModeRun:
    cfg = from_env({"KIS_ENV": mode, "KIS_APP_KEY": key, "KIS_APP_SECRET": "s"})
    findings = [Finding(s, True, "2026-11-25T09:05:00+09:00", "-") for s in STAGES]
    run = compare.ModeRun(mode, cfg, source=f"KIS_{mode.upper()}_APP_KEY/KIS_{mode.upper()}_APP_SECRET")
    run.samples = [compare.Sample(0.0, False, 0, 0, 0), compare.Sample(1.0, True, 5, 0, 6)]
    run.metrics = [
        {
            "ws_connected": True,
            "ws_messages": 5,
            "ws_subscriptions": 1,
            "ws_reconnects": 0,
            "ws_refusals": {},
            "last_error": None,
            "source_counts": {"kis-ws": 1},
            "stages": {s: {"reached": True} for s in STAGES},
        }
    ]
    run.quote = {"source": "kis-ws"}
    run.diagnosis = Diagnosis(True, None, [], [], findings)
    return run


def test_evidence_is_written_without_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    assert not compare.can_plot()
    runs = [_run("mock", MOCK_KEY), _run("live", LIVE_KEY)]
    evidence, report = compare.write_evidence(runs, tmp_path)
    text = evidence.read_text(encoding="utf-8")
    assert "| mock | True | 5 | kis-ws | 6/6 | PASS |" in text and report.is_file()
    assert "pip install -e '.[evidence]'" in text and not list(tmp_path.glob("*.png"))
    assert "Keys: mock from KIS_MOCK_APP_KEY/KIS_MOCK_APP_SECRET" in text and "same appkey" not in text
    assert MOCK_KEY not in text and LIVE_KEY not in text


def test_one_key_for_both_environments_is_called_out(tmp_path: Path) -> None:
    runs = [_run("mock", MOCK_KEY), _run("live", MOCK_KEY)]
    evidence, report = compare.write_evidence(runs, tmp_path)
    assert "Every mode used the same appkey" in evidence.read_text(encoding="utf-8")
    assert "EGW02004" in report.read_text(encoding="utf-8")
    assert MOCK_KEY not in evidence.read_text(encoding="utf-8") + report.read_text(encoding="utf-8")
