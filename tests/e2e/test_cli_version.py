"""`--version` on both commands prints the one version the distribution carries (pyproject.toml, read from the
installed metadata), so a bug report names what was run. A hard-coded string in either package would drift."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest


@pytest.mark.parametrize("module, prog", [("fakekis", "fakekis"), ("gateway", "kis-gateway")])
def test_version_is_the_distributions(module: str, prog: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{prog} {metadata.version('kis-harness')} (kis-harness)"
