"""The fault catalogue: documented, listable from the CLI, loadable from names and files, and every
fault has a scenario test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fakekis import faults

pytestmark = pytest.mark.ws

ROOT = Path(__file__).resolve().parents[2]


def test_every_fault_is_documented_from_the_catalogue() -> None:
    """The docs table row is the catalogue's data: F-number, description, defaults, what a client does."""
    doc = (ROOT / "docs" / "faults.md").read_text(encoding="utf-8")
    for name, entry in faults.CATALOGUE.items():
        params = ", ".join(f"`{k}={v}`" for k, v in entry.defaults.items()) or "—"
        c = entry.cls
        assert f"| `{name}` | {c.f} | {c.summary} | {params} | {c.gateway} |" in doc, name


def test_every_fault_has_a_scenario_test() -> None:
    tests = (ROOT / "tests" / "e2e" / "test_fault_scenarios_ws.py").read_text(encoding="utf-8")
    for name, cls in faults.FAULTS.items():
        assert f"faults.{cls.__name__}(" in tests, name


def test_cli_lists_the_catalogue() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fakekis", "faults", "--json"], capture_output=True, text=True
    )
    assert [json.loads(x)["fault"] for x in out.stdout.splitlines()] == list(faults.FAULTS)


def test_load_names_files_and_errors(tmp_path: Path) -> None:
    assert [f.name for f in faults.load("drop, malformed").faults] == ["drop", "malformed"]
    spec = tmp_path / "s.yaml"
    spec.write_text("name: flaky\nfaults:\n  - fault: drop\n    after_s: 2\n  - market-closed\n")
    s = faults.load(str(spec))
    assert s.name == "flaky" and s.describe()[0] == {
        "fault": "drop",
        "f": "F1",
        "after_s": 2,
        "code": None,
        "connections": 1,
    }
    for bad, needle in [
        ("nope", "unknown fault 'nope'"),
        (str(tmp_path / "missing.yaml"), "no such scenario file"),
    ]:
        with pytest.raises(faults.ScenarioError, match=needle):
            faults.load(bad)
    spec.write_text("faults:\n  - fault: drop\n    after: 2\n")
    with pytest.raises(faults.ScenarioError, match="unknown parameter 'after'"):
        faults.load(str(spec))
    spec.write_text("faults:\n  - fault: malformed\n    mode: sideways\n")
    with pytest.raises(faults.ScenarioError, match="sideways"):
        faults.load(str(spec))
