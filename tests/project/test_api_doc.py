"""docs/api.md is the Python API's reference: every public name in the code is documented there, and every
name documented there exists (a renamed method fails here, not in a user's code)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import fakekis
from fakekis.faults import FaultHooks, ScenarioRun
from fakekis.serve.server import FakeKis
from fakekis.testing import pytest_plugin
from fakekis.testing.handle import FakeKisHandle

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
PLUGIN = inspect.getsource(pytest_plugin)


# The plug points a running scenario answers for the exchange and the servers (docs/faults.md, "Where faults
# plug in") are internal, as is `run` (a run returns itself, so FakeKis can take either).
HOOKS = {n for n in vars(FaultHooks) if not n.startswith("_")} | {"run"}


def _public(cls: type) -> set[str]:
    return {n for n in vars(cls) if not n.startswith("_")} - (HOOKS if cls is ScenarioRun else set())


def test_the_front_door_is_documented() -> None:
    for name in fakekis.__all__:
        assert f"`fakekis.{name}" in DOC, name


def test_every_public_member_is_documented_and_every_documented_one_exists() -> None:
    for cls, prefix in ((FakeKis, "FakeKis."), (ScenarioRun, "ScenarioRun."), (FakeKisHandle, "fake_kis.")):
        documented = set(re.findall(rf"`{re.escape(prefix)}(\w+)", DOC))
        assert _public(cls) <= documented, f"{cls.__name__}: undocumented {_public(cls) - documented}"
        real = _public(cls) | {"appkey", "appsecret", "env"}  # instance attributes of the handle
        assert documented <= real, (
            f"{cls.__name__}: docs/api.md names {documented - real}, which do not exist"
        )


def test_fixtures_marker_options_and_the_option_are_documented() -> None:
    fixtures = re.findall(r"@pytest\.fixture\ndef (\w+)", PLUGIN)
    assert fixtures == ["fake_kis_upstream", "fake_kis"] or set(fixtures) == {"fake_kis", "fake_kis_upstream"}
    for name in fixtures:
        assert f"| `{name}` |" in DOC, name
    options = set(re.findall(r'opts\.get\("(\w+)"', PLUGIN))
    assert {"speed", "record", "upstream", "scenario"} <= options  # the regex still sees the plugin's reads
    documented = set(re.findall(r"^\| `(\w+)` \| [^|]+ \| [^|]+ \|$", DOC, re.M))
    assert options <= documented, f"undocumented marker options: {options - documented}"
    for option in re.findall(r'parser\.addoption\(\s*"(--[\w-]+)"', PLUGIN):
        assert f"`{option}=" in DOC or f"`{option}`" in DOC, option
