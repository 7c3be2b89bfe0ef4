"""Every package in the source tree is in the distribution: setuptools' explicit `packages` list in
pyproject.toml is easy to forget when a module becomes a package (a wheel without `fakekis.cli` installs a
`fakekis` command that cannot start; the editable install used by the tests would never notice)."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the check is the same on any version

ROOT = Path(__file__).resolve().parents[2]


def test_every_source_package_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("kisclock", "gateway", "fakekis")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found - listed == set(), "packages missing from pyproject.toml [tool.setuptools] packages"
