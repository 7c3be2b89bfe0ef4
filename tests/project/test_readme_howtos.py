"""The README and docs/ as a newcomer uses them: every relative link resolves (to a file of this repository,
and to a heading when it names one; never to a file outside the repository), and every shell block runs
offline, as written, in a scratch folder laid out like a clone (`.venv` is the environment running this
test). A block that cannot run offline is marked on the line before its fence with
`<!-- no-run: why -->`; a reason is required."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import plain_id

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", ROOT / "BENCHMARKS.md"]
DOCS += sorted((ROOT / "docs").rglob("*.md"))
HOWTOS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
SHELL = ("bash", "sh", "shell")
NO_RUN = re.compile(r"<!-- no-run: (\S.*?) -->")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {_slug(m[1]) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def _links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans are not links
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: plain_id(str(p.relative_to(ROOT))))
def test_every_link_resolves_inside_the_repository(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        resolved = (doc.parent / file).resolve() if file else doc
        if ROOT not in resolved.parents and resolved != ROOT:
            broken.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{doc.relative_to(ROOT)}: {broken}"


def _blocks() -> list[tuple[str, str, str | None]]:
    """(where, script, why not run) for every shell block of the how-tos."""
    out = []
    for doc in HOWTOS:
        text = doc.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            if m[1] not in SHELL:
                continue
            before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
            mark = NO_RUN.fullmatch(before.strip())
            line = text[: m.start()].count("\n") + 1
            out.append((f"{doc.relative_to(ROOT)}:{line}", m[2], mark[1] if mark else None))
    return out


BLOCKS = _blocks()


def test_no_run_marks_give_a_reason_and_sit_on_a_fence() -> None:
    for doc in HOWTOS:
        lines = doc.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.lstrip().startswith("<!--") and "no-run" in line:
                assert NO_RUN.fullmatch(line.strip()), f"{doc.name}:{i + 1}: write <!-- no-run: why -->"
                assert i + 1 < len(lines) and lines[i + 1].startswith("```"), (
                    f"{doc.name}:{i + 1}: a no-run mark goes on the line right before a fence"
                )
    assert any(why is None for _, _, why in BLOCKS), "no runnable block found: the parser is broken"


def _scratch(tmp: Path) -> Path:
    """A folder laid out like a clone: .venv (this environment), recordings, scripts; nothing else shared."""
    (tmp / ".venv").symlink_to(Path(sys.prefix))
    for name in ("recordings", "scripts"):
        (tmp / name).symlink_to(ROOT / name)
    return tmp


def _param(where: str, script: str) -> object:
    """A block that runs the gateway or its codec is on the WebSocket path: marked `ws`."""
    ws = "kis-gateway" in script or "ws_compare_env_modes" in script
    return pytest.param(where, script, id=plain_id(where), marks=[pytest.mark.ws] if ws else [])


@pytest.mark.parametrize("where, script", [_param(w, s) for w, s, why in BLOCKS if why is None])
def test_every_offline_shell_block_runs(where: str, script: str, tmp_path: Path) -> None:
    cwd = _scratch(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "GATEWAY_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # bare `fakekis` works
    env["GATEWAY_TOKEN_DIR"] = str(tmp_path / "tokens")  # never the user's token cache
    # Its own process group, ended afterwards: a block that leaves a server behind (`... &`) leaks nothing.
    with subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            _, stderr = proc.communicate(timeout=100)  # under pytest-timeout's 120 s, so the group is ended
        except subprocess.TimeoutExpired:
            stderr = "(still running after 100 s: mark it <!-- no-run: why --> if it cannot end by itself)"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, f"{where} failed (exit {proc.returncode}):\n{script}\n{stderr[-2000:]}"
    assert "Traceback" not in stderr, f"{where}:\n{stderr[-2000:]}"
