"""The bug zoo stays applicable: each patch's original text occurs exactly once in today's code, and one
zoo bug really breaks the test that catches it (the whole zoo runs in `tox -e mutants`; it is too slow
for every test run)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("zoo", ROOT / "mutants" / "zoo.py")
assert spec is not None and spec.loader is not None
zoo = importlib.util.module_from_spec(spec)
sys.modules["zoo"] = zoo  # dataclasses look their module up while the file executes
spec.loader.exec_module(zoo)


# ids are the zoo numbers (`python mutants/zoo.py --only N`), not titles: a title saying "WS" would put a
# file check into `pytest -k ws`.
@pytest.mark.parametrize("bug", zoo.ZOO, ids=[f"bug{i}" for i in range(1, len(zoo.ZOO) + 1)])
def test_patch_applies(bug: Any) -> None:
    assert (ROOT / bug.path).read_text(encoding="utf-8").count(bug.old) == 1


def test_the_zoo_covers_the_three_hypotheses_and_five_client_bugs() -> None:
    assert sum("hypothesis" in b.origin for b in zoo.ZOO) == 3
    assert sum(b.origin.startswith("F") for b in zoo.ZOO) >= 5


def test_a_zoo_bug_applied_to_a_copy_fails_the_test_that_catches_it(tmp_path: Path) -> None:
    """The grep above proves a patch still applies, not that it still breaks anything. One real run keeps
    the zoo's machinery honest (copy, patch, run in the copy) at the cost of one small test file: the
    swapped AES key and iv must fail tests/gateway/test_client_session.py in the copy, and the unpatched
    copy must pass it (so the failure is the bug's, not the copy's). The whole zoo runs in `tox -e mutants`."""
    import os
    import subprocess

    [bug] = [b for b in zoo.ZOO if b.title.startswith("ack's AES key and iv swapped")]
    zoo._copy_repo(tmp_path)
    cmd = [sys.executable, "-m", "pytest", "tests/gateway/test_client_session.py", "-q", "-x"]
    cmd += ["-p", "no:cacheprovider", "-o", "addopts="]
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    clean = run()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert zoo.apply(bug, tmp_path)
    broken = run()
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert zoo.caught_by(broken.stdout) == (
        "tests/gateway/test_client_session.py::test_a_notice_decrypts_with_the_key_and_iv_of_the_real_ack"
    ), broken.stdout
