"""The recording format (docs/recordings.md): its values (`WsLine`, `TapeFrame`, `Recording`), the bundled
recordings, and `write`. Reading and checking a folder is `tape/reader.py`.

A recording is a folder:
  session.json  format/version, env, start instant (KST), subscriptions, synthetic flag, notes
  ws.jsonl      one line per WebSocket message (`t`, `dir`, `text`, optional `conn`) or event
                (`t`, `event` open|close, optional `conn`, `code`, `reason`)
  rest.yaml     optional vcrpy cassette of the REST interactions

Every problem with a recording becomes a `RecordingError` whose text is one line naming the file, the line
and the field.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, cast

import yaml

from fakekis.wire import frames

if TYPE_CHECKING:
    from fakekis.tape.index import StateFold

FORMAT = "kis-harness/recording"
VERSION = 1
DEFAULT_BUNDLED = "healthy-morning-synthetic"
MAX_T = 7 * 86_400.0  # seconds: a recording spans at most a week, so start + t stays a real date
START_RANGE = (
    datetime(1990, 1, 1, tzinfo=timezone.utc).timestamp(),
    datetime(2100, 1, 1, tzinfo=timezone.utc).timestamp(),
)
SESSION_KEYS = (
    "format",
    "version",
    "env",
    "start",
    "subscriptions",
    "synthetic",
    "notes",
    "products",
    "generator",
    "recorder",
)
WS_KEYS = frozenset(("t", "dir", "text", "conn", "event", "code", "reason"))
_CODE = re.compile(r"[0-9]{6}")  # fullmatch; `\d` would take '²' and other Unicode digits
_YYYYMMDD = re.compile(r"[0-9]{8}")


class RecordingError(Exception):
    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path, self.line, self.message = str(path), line, message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class WsLine:
    t: float
    dir: str | None = None  # "recv" (server -> client) | "send" (client -> server)
    text: str | None = None
    conn: int = 0
    event: str | None = None  # "open" | "close"
    code: int | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"t": round(self.t, 6)}
        if self.event:
            out["event"] = self.event
            if self.code is not None:
                out["code"] = self.code
            if self.reason:
                out["reason"] = self.reason
        else:
            out["dir"], out["text"] = self.dir, self.text
        if self.conn:
            out["conn"] = self.conn
        return out


class TapeFrame(NamedTuple):
    """A replayable data frame: plain `0|TR|NNN|...` sent by the server. A NamedTuple, not a frozen
    dataclass: the player makes one per frame, and a frozen dataclass's __init__ cost ~5x as much."""

    t: float
    tr_id: str
    tr_key: str
    records: int
    text: str
    line: int


@dataclass
class Recording:
    path: Path
    env: str
    start: float
    subscriptions: list[tuple[str, str]]
    synthetic: bool
    notes: str
    session: dict[str, object]
    lines: list[WsLine]
    rest: list[dict[str, object]] = field(default_factory=list)
    skipped_encrypted: int = 0

    @property
    def duration(self) -> float:
        return self.lines[-1].t if self.lines else 0.0

    @property
    def products(self) -> dict[str, dict[str, str]]:
        """session.json `products`: what search-info (CTPF1604R) names each code (checked on load)."""
        return cast("dict[str, dict[str, str]]", self.session.get("products") or {})

    def data_frames(self) -> list[TapeFrame]:
        return list(_data_frames(self))


def bundled(name: str = DEFAULT_BUNDLED) -> Path:
    """Path of a recording shipped with the package (the demo's embedded default). Installed, the
    recordings are the package `fakekis.recordings`; imported from a source checkout (`python -m ...` in the
    repository), they are the checkout's `recordings/` folder."""
    folder = _installed_recordings()
    if folder is None:
        folder = Path(__file__).resolve().parents[2] / "recordings"
    return folder / name


def _installed_recordings() -> Path | None:
    """The folder of the package `fakekis.recordings`, found without importing it (nothing in its
    `__init__` is needed to find a folder)."""
    try:
        spec = importlib.util.find_spec("fakekis.recordings")
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _data_frames(rec: Recording) -> Iterable[TapeFrame]:
    for no, ln in enumerate(rec.lines, 1):
        f = as_frame(no, ln)
        if f is not None:
            yield f


def as_frame(no: int, ln: WsLine) -> TapeFrame | None:
    """The replayable data frame line `no` carries (plain `0|TR|NNN|...` sent by the server), if any."""
    text = ln.text
    if ln.dir != "recv" or not text or not text.startswith("0|"):
        return None
    parts = frames.split_frame(text)
    if parts is None:
        return None  # a malformed frame is still replayed by the fault layer, never routed as data
    # A count that is not ASCII digits ('²' passes str.isdigit(), int() refuses it) is replayed as
    # recorded, one record, and `inspect` counts it malformed: real KIS has sent odd frames.
    count = frames.frame_count(parts[2]) or 1
    return TapeFrame(ln.t, parts[1], parts[3].split("^", 1)[0], count, text, no)


def write(
    path: Path | str,
    session: dict[str, object],
    lines: Iterable[WsLine],
    rest: list[dict[str, object]] | None = None,
    ws_name: str = "ws.jsonl",
    fold: StateFold | None = None,
) -> Path:
    """Write a recording all at once: into a temporary folder beside `path`, moved into place at the end,
    so a failure (a full disk, an exception in `lines`) leaves nothing behind and a retry is not blocked.
    An existing recording at `path` is replaced; an existing empty folder is filled (the folder itself
    stays, so `path` may be the current directory); any other non-empty folder is refused.

    `lines` is consumed once, as it comes (a generator of a whole day takes no more memory than a minute);
    `ws_name` (ws.jsonl, ws.jsonl.zst or ws.jsonl.gz) picks the compression; the index is written beside it, with the market state `fold` keeps
    (exchange/warm.IndexFold; without one the index carries none and `serve --from` reads from the top)."""
    given = Path(path)
    root = given.absolute()  # "." has no name to put a temporary folder beside
    if root.exists() and not _replaceable(root):
        raise FileExistsError(f"{given} exists and is not an empty folder or a recording; not replacing it")
    created = _make_parents(root.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".partial", dir=root.parent))
        try:
            _write_files(tmp, session, lines, rest, ws_name, fold)
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a recording is an ordinary folder
            if not root.exists():
                tmp.rename(root)
            elif not any(root.iterdir()):
                moved: list[Path] = []
                try:
                    for part in sorted(tmp.iterdir()):
                        part.rename(root / part.name)
                        moved.append(root / part.name)
                except BaseException:
                    for done in moved:
                        done.unlink(missing_ok=True)
                    raise
                tmp.rmdir()
            else:
                old = root.with_name(f".{root.name}.{tmp.name}.old")
                root.rename(old)
                tmp.rename(root)
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    except BaseException:
        for folder in created:
            with suppress(OSError):
                folder.rmdir()
        raise
    return given


def _replaceable(root: Path) -> bool:
    return root.is_dir() and (not any(root.iterdir()) or (root / "session.json").is_file())


def _make_parents(folder: Path) -> list[Path]:
    """mkdir -p, returning the folders it created, deepest first (to remove them on failure)."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for f in reversed(missing):
        f.mkdir(exist_ok=True)
    return missing


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_files(
    root: Path,
    session: dict[str, object],
    lines: Iterable[WsLine],
    rest: list[dict[str, object]] | None,
    ws_name: str = "ws.jsonl",
    fold: StateFold | None = None,
) -> None:
    from fakekis.tape.compress import WS_NAMES, BlockWriter, kind_of
    from fakekis.tape.index import INDEX_NAME, PLAIN_BLOCK_LINES, IndexBuilder

    if ws_name not in WS_NAMES:
        raise ValueError(f"ws_name must be one of {', '.join(WS_NAMES)} (got {ws_name!r})")
    (root / "session.json").write_text(
        json.dumps(session, ensure_ascii=False, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    kind = kind_of(ws_name)
    index = IndexBuilder(fold=fold)
    with (root / ws_name).open("wb") as fh:
        out = BlockWriter(fh, kind, block_lines=PLAIN_BLOCK_LINES, stored=True)
        blocks = 0
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
        for no, ln in enumerate(lines, 1):
            out.write((dumps(ln.to_json()) + "\n").encode("utf-8"), ln.t)
            if len(out.blocks) > blocks:
                blocks = len(out.blocks)
                index.block(*out.blocks[-1], 0)
            index.line(ln.t)
            f = as_frame(no, ln)
            if f is not None:
                index.frame(f)
        out.flush()
    idx = index.finish(ws_name, (root / ws_name).stat().st_size)
    (root / INDEX_NAME).write_text(json.dumps(idx.to_json(), ensure_ascii=False), encoding="utf-8")
    if rest is not None:
        doc = {"interactions": rest, "version": 1}
        (root / "rest.yaml").write_text(
            yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
