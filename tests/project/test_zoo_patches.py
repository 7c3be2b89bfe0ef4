"""The bug zoo stays applicable: each patch's original text occurs exactly once in today's code
(the zoo itself runs in `tox -e mutants`; it is too slow for every test run)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("zoo", ROOT / "mutants" / "zoo.py")
zoo = importlib.util.module_from_spec(spec)
assert spec.loader is not None
sys.modules["zoo"] = zoo  # dataclasses look their module up while the file executes
spec.loader.exec_module(zoo)


# ids are the zoo numbers (`python mutants/zoo.py --only N`), not titles: a title saying "WS" would put a
# file check into `pytest -k ws`.
@pytest.mark.parametrize("bug", zoo.ZOO, ids=[f"bug{i}" for i in range(1, len(zoo.ZOO) + 1)])
def test_patch_applies(bug) -> None:
    assert (ROOT / bug.path).read_text(encoding="utf-8").count(bug.old) == 1


def test_the_zoo_covers_the_three_hypotheses_and_five_client_bugs() -> None:
    assert sum("hypothesis" in b.origin for b in zoo.ZOO) == 3
    assert sum(b.origin.startswith("F") for b in zoo.ZOO) >= 5
