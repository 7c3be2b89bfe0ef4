"""gateway and fakekis meet only on the wire: neither imports the other (a shared codec would hide
symmetric bugs). Both may import kisclock, which carries time and nothing about KIS."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    "package, forbidden",
    [("gateway", "fakekis"), ("fakekis", "gateway"), ("kisclock", "gateway"), ("kisclock", "fakekis")],
)
def test_no_cross_imports(package: str, forbidden: str) -> None:
    assert forbidden not in _imports(package)
