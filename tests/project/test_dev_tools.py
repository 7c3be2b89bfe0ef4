"""Every tool the README tells a contributor to run is installed by an extra the README installs: `tox`
(and mypy, ruff, pytest) must come from `pip install -e '.[...]'` in the README, not from nowhere. A fresh
clone once found `tox` in the README and in nothing that installs it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the check is the same on any version


def _names(extra: str, extras: dict[str, list[str]]) -> set[str]:
    out: set[str] = set()
    for req in extras[extra]:
        name = re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower()
        inner = re.match(r"kis-harness\[([\w,\s-]+)\]", req)
        if inner:  # a self-reference: kis-harness[test]
            for sub in inner[1].split(","):
                out |= _names(sub.strip(), extras)
        else:
            out.add(name)
    return out


def test_the_readme_installs_every_tool_it_runs() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    installed: set[str] = set()
    for group in re.findall(r"pip install[^\n]*?'\.\[([\w,]+)\]'", readme):
        for extra in group.split(","):
            installed |= _names(extra, extras)
    ran = {
        tool for tool in ("tox", "mypy", "ruff", "pytest") if re.search(rf"(^|[/\s]){tool}\b", readme, re.M)
    }
    assert "tox" in ran and ran <= installed, (
        f"the README runs {sorted(ran - installed)} but installs none of it"
    )
    assert ".venv/bin/tox" in readme  # the one installed into the clone's .venv, not one assumed on PATH
