"""Every citation of the vendored KIS facts resolves: `docs/kis/<file>.md` exists and each `§N` (or `§C4`,
`§4.3–§4.6`) cited next to it is a numbered heading of that file. A comment that points at a section that
is not there sends the next reader nowhere (comments once cited files outside the repository)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITE = re.compile(
    r"docs/kis/([a-z-]+\.md)((?:[ ,;]*(?:and )?§[A-Z]?\d+(?:\.\d+)*(?:[–-]§?[A-Z]?\d+(?:\.\d+)*)?)*)"
)
SECTION = re.compile(r"§([A-Z]?\d+(?:\.\d+)*)")


def _headings(doc: Path) -> set[str]:
    """Section numbers of a vendored file's headings: `## 4. WebSocket`, `### 4.3 Acks`, `## C4 ...`, `### 6.`."""
    found = set()
    for line in doc.read_text(encoding="utf-8").splitlines():
        m = re.match(r"#+\s+(?:F?)([A-Z]?\d+(?:\.\d+)*)\.?\s", line)
        if m:
            found.add(m.group(1))
    return found


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [
        ROOT / f
        for f in out.split()
        if f.endswith((".py", ".md", ".json")) and not f.startswith(("docs/kis/", "docs/evidence/"))
    ]


def test_every_citation_of_docs_kis_resolves() -> None:
    wrong, seen = [], 0
    for path in _tracked():
        text = path.read_text(encoding="utf-8")
        for m in CITE.finditer(text):
            seen += 1
            doc = ROOT / "docs" / "kis" / m.group(1)
            where = f"{path.relative_to(ROOT)}: {m.group(0)}"
            if not doc.is_file():
                wrong.append(f"{where} (no such file)")
                continue
            have = _headings(doc)
            for section in SECTION.findall(m.group(2)):
                # a subsection cited as §4.3 also resolves when only its parent §4 is a heading
                if section not in have and section.split(".")[0] not in have:
                    wrong.append(f"{where} (no section {section})")
    assert seen > 20, "the citation pattern found almost nothing: it is broken, not the citations"
    assert not wrong, "citations that do not resolve:\n" + "\n".join(wrong)


def test_nothing_cites_files_outside_the_repository() -> None:
    leaks = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _tracked()
        if p != Path(__file__).resolve()  # this file names the pattern it looks for
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if "../shared/" in line or "shared/kis" in line
    ]
    assert not leaks, "citations of files that are not in the repository:\n" + "\n".join(leaks)
