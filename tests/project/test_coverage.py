"""docs/coverage.md is what `fakekis coverage` says, and every test it names exists."""

from __future__ import annotations

import ast
from pathlib import Path

from fakekis.cli.coverage import REGENERATE, render
from fakekis.exchange import quotations, surface, trs

ROOT = Path(__file__).resolve().parents[2]


def test_docs_coverage_md_is_what_the_code_says() -> None:
    doc = (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8")
    assert doc == render(), f"docs/coverage.md is out of date: regenerate it with `{REGENERATE}`"


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_test_the_table_names_exists() -> None:
    named = {e.test for e in surface.ENDPOINTS if e.test} | set(surface.WS_DATA_TESTS.values())
    named.add(surface.WS_TABLE_TEST)
    for ref in named:
        file, _, name = ref.partition("::")
        assert (ROOT / file).is_file() and name in _tests_in(ROOT / file), f"{ref} does not exist"


def test_every_route_fakekis_answers_is_in_the_table() -> None:
    listed = {(e.path, e.live_tr) for e in surface.ENDPOINTS}
    assert {(r.path, r.tr_id) for r in quotations.ROUTES} <= listed


def test_the_table_lists_every_tr_of_the_tr_table() -> None:
    text = render()
    assert all(f"| {tr_id} |" in text for tr_id in trs.TRS)
