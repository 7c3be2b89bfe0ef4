"""The architecture, checked on the imports (ast, no execution):

- gateway and fakekis meet only on the wire: neither imports the other (a shared codec would hide symmetric
  bugs). Both may import kisclock, which carries time and nothing about KIS.
- fakekis's rooms form floors and every import points down (`fakekis/__init__.py` lists them).
- the sans-I/O cores import no I/O: no event loop, sockets, HTTP/WS libraries or `time` (time comes in as an
  argument from the one injected clock).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# fakekis's floors, lowest first; a module may import only from its own floor or lower ones.
FLOORS = ["rules", "wire", "tape", "exchange", "faults", "serve", "testing", "cli"]
IO_MODULES = {
    "asyncio",
    "socket",
    "httpx",
    "websockets",
    "starlette",
    "uvicorn",
    "time",
    "selectors",
    "redis",
}
CORES = {
    "fakekis": ["rules", "wire", "tape", "exchange", "faults", "serve/allowlist.py"],
    "gateway": [
        "codec.py",
        "session.py",
        "cache.py",
        "quotes.py",
        "market.py",
        "metrics.py",
        "policy.py",
        "ingest.py",
        "coord/lease.py",
        "coord/gcra.py",
        "coord/tokengate.py",
        "coord/plan.py",
        "coord/credentials.py",
        "coord/stream.py",
        "coord/members.py",
    ],
}


def _modules(path: Path) -> set[str]:
    """Every absolute module name imported anywhere in the file (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _imports(package: str) -> set[str]:
    return {m.split(".")[0] for path in (ROOT / package).rglob("*.py") for m in _modules(path)}


@pytest.mark.parametrize(
    "package, forbidden",
    [("gateway", "fakekis"), ("fakekis", "gateway"), ("kisclock", "gateway"), ("kisclock", "fakekis")],
)
def test_no_cross_imports(package: str, forbidden: str) -> None:
    assert forbidden not in _imports(package)


def _floor(relative: Path) -> int | None:
    head = relative.parts[0].removesuffix(".py")
    return FLOORS.index(head) if head in FLOORS else None


def test_fakekis_imports_point_down() -> None:
    wrong = []
    for path in (ROOT / "fakekis").rglob("*.py"):
        here = _floor(path.relative_to(ROOT / "fakekis"))
        if here is None:  # __init__, __main__: the package's front door
            continue
        for module in _modules(path):
            parts = module.split(".")
            if parts[0] != "fakekis" or len(parts) < 2 or parts[1] not in FLOORS:
                continue
            if FLOORS.index(parts[1]) > here:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "imports pointing up a floor:\n" + "\n".join(sorted(wrong))


@pytest.mark.parametrize("core", [f"{pkg}/{name}" for pkg, names in CORES.items() for name in names], ids=str)
def test_cores_import_no_io(core: str) -> None:
    target = ROOT / core
    if not target.exists():
        pytest.skip(f"{core} does not exist yet")
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    leaks = {
        f"{f.relative_to(ROOT)}: {m}" for f in files for m in _modules(f) if m.split(".")[0] in IO_MODULES
    }
    assert not leaks, "I/O imports in a sans-I/O core:\n" + "\n".join(sorted(leaks))
