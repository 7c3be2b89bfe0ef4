"""The recording format (docs/recordings.md): load, validate, write.

A recording is a folder:
  session.json  format/version, env, start instant (KST), subscriptions, synthetic flag, notes
  ws.jsonl      one line per WebSocket message (`t`, `dir`, `text`, optional `conn`) or event
                (`t`, `event` open|close, optional `conn`, `code`, `reason`)
  rest.yaml     optional vcrpy cassette of the REST interactions

Every problem becomes a `RecordingError` whose text is one line naming the file and line.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kisclock import parse_instant

FORMAT = "kis-harness/recording"
VERSION = 1
DEFAULT_BUNDLED = "healthy-morning-synthetic"
_CODE = re.compile(r"^\d{6}$")


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


@dataclass(frozen=True, slots=True)
class TapeFrame:
    """A replayable data frame: plain `0|TR|NNN|...` sent by the server."""

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
        """session.json `products`: what search-info (CTPF1604R) names each code."""
        return self.session.get("products") or {}  # type: ignore[return-value]

    def data_frames(self) -> list[TapeFrame]:
        return list(_data_frames(self))


def bundled(name: str = DEFAULT_BUNDLED) -> Path:
    """Path of a recording shipped with the package (the demo's embedded default). Installed, the
    recordings are the package `fakekis.bundled`; imported from a source checkout (`python -m ...` in the
    repository), they are the checkout's `recordings/` folder."""
    folder = _installed_recordings()
    if folder is None:
        folder = Path(__file__).resolve().parents[2] / "recordings"
    return folder / name


def _installed_recordings() -> Path | None:
    """The folder of the package `fakekis.bundled`, found without importing it: importing a subpackage
    sets it as an attribute of its parent, and `fakekis.bundled` is also this function's public name
    (`fakekis/__init__.py`), which the module would then shadow."""
    try:
        spec = importlib.util.find_spec("fakekis.bundled")
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def load(path: Path | str) -> Recording:
    root = Path(path)
    if not root.is_dir():
        raise RecordingError(root, None, "not a recording folder (expected session.json and ws.jsonl inside)")
    session = _load_session(root / "session.json")
    lines = _load_ws(root / "ws.jsonl")
    rest = _load_rest(root / "rest.yaml")
    rec = Recording(
        path=root,
        env=str(session["env"]),
        start=float(session["_start"]),  # type: ignore[arg-type]
        subscriptions=[(str(a), str(b)) for a, b in session["subscriptions"]],  # type: ignore[union-attr,misc]
        synthetic=bool(session["synthetic"]),
        notes=str(session.get("notes", "")),
        session={k: v for k, v in session.items() if not k.startswith("_")},
        lines=lines,
        rest=rest,
    )
    rec.skipped_encrypted = sum(
        1 for ln in lines if ln.dir == "recv" and ln.text and ln.text.startswith("1|")
    )
    return rec


def _load_session(path: Path) -> dict[str, object]:
    if not path.is_file():
        raise RecordingError(path, None, "missing (every recording needs session.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise RecordingError(path, None, f"not UTF-8 ({e.reason})") from None
    except json.JSONDecodeError as e:
        raise RecordingError(path, e.lineno, f"invalid JSON: {e.msg}") from None
    if not isinstance(data, dict):
        raise RecordingError(path, 1, "must be a JSON object")

    def need(key: str, ok: bool, what: str) -> None:
        if not ok:
            raise RecordingError(path, _line_of(path, key), f'field "{key}" {what} (got {data.get(key)!r})')

    need("format", data.get("format") == FORMAT, f'must be "{FORMAT}"')
    need("version", data.get("version") == VERSION, f"must be {VERSION}")
    need("env", data.get("env") in ("live", "mock"), 'must be "live" or "mock"')
    need("start", isinstance(data.get("start"), str), "must be an ISO-8601 instant with offset")
    try:
        data["_start"] = parse_instant(str(data["start"]))
    except ValueError as e:
        raise RecordingError(path, _line_of(path, "start"), f'field "start": {e}') from None
    subs = data.get("subscriptions")
    need(
        "subscriptions",
        isinstance(subs, list)
        and all(
            isinstance(s, list) and len(s) == 2 and all(isinstance(x, str) and x for x in s) for s in subs
        ),
        'must be a list of ["TR_ID", "TR_KEY"] pairs',
    )
    need("synthetic", isinstance(data.get("synthetic"), bool), "must be true or false")
    need("notes", isinstance(data.get("notes", ""), str), "must be a string")
    products = data.get("products", {})
    need(
        "products",
        isinstance(products, dict)
        and all(
            isinstance(code, str)
            and _CODE.match(code)
            and isinstance(info, dict)
            and isinstance(info.get("name"), str)
            and info["name"]
            and all(isinstance(info.get(k, ""), str) for k in ("name_eng", "listed"))
            for code, info in products.items()
        ),
        'must map 6-digit codes to {"name": ..., "name_eng": ..., "listed": "YYYYMMDD"} (name required)',
    )
    return data


def _line_of(path: Path, key: str) -> int | None:
    for no, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if f'"{key}"' in text:
            return no
    return 1


def _load_ws(path: Path) -> list[WsLine]:
    if not path.is_file():
        raise RecordingError(path, None, "missing (every recording needs ws.jsonl)")
    out: list[WsLine] = []
    last_t = 0.0
    with path.open("rb") as fh:
        for no, raw in enumerate(fh, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise RecordingError(path, no, f"not UTF-8 at byte {e.start}") from None
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                raise RecordingError(path, no, f"invalid JSON: {e.msg} (column {e.colno})") from None
            line = _ws_line(path, no, obj)
            if line.t < last_t:
                raise RecordingError(path, no, f'field "t" goes backwards ({line.t} after {last_t})')
            last_t = line.t
            out.append(line)
    return out


def _ws_line(path: Path, no: int, obj: object) -> WsLine:
    if not isinstance(obj, dict):
        raise RecordingError(path, no, "each line must be a JSON object")
    t = obj.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0:
        raise RecordingError(path, no, f'field "t" must be a number of seconds >= 0 (got {t!r})')
    conn = obj.get("conn", 0)
    if isinstance(conn, bool) or not isinstance(conn, int) or conn < 0:
        raise RecordingError(path, no, f'field "conn" must be an integer >= 0 (got {conn!r})')
    if "event" in obj:
        event, code = obj["event"], obj.get("code")
        if event not in ("open", "close"):
            raise RecordingError(path, no, f'field "event" must be "open" or "close" (got {event!r})')
        if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
            raise RecordingError(path, no, f'field "code" must be an integer close code (got {code!r})')
        return WsLine(float(t), conn=conn, event=event, code=code, reason=obj.get("reason"))
    d, text = obj.get("dir"), obj.get("text")
    if d not in ("recv", "send"):
        raise RecordingError(path, no, f'field "dir" must be "recv" or "send" (got {d!r})')
    if not isinstance(text, str):
        raise RecordingError(path, no, f'field "text" must be a string (got {type(text).__name__})')
    return WsLine(float(t), d, text, conn)


def _load_rest(path: Path) -> list[dict[str, object]]:
    if not path.is_file():
        return []
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise RecordingError(path, None, f"not UTF-8 ({e.reason})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise RecordingError(
            path, mark.line + 1 if mark else None, f"invalid YAML: {getattr(e, 'problem', e)}"
        ) from None
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("interactions"), list):
        raise RecordingError(path, 1, 'must be a vcrpy cassette: a mapping with an "interactions" list')
    for i, it in enumerate(doc["interactions"]):
        ok = (
            isinstance(it, dict)
            and isinstance(it.get("request"), dict)
            and isinstance(it.get("response"), dict)
            and "uri" in it["request"]
            and "method" in it["request"]
            and isinstance(it["response"].get("status"), dict)
        )
        if not ok:
            raise RecordingError(
                path, None, f"interaction #{i} needs request.method, request.uri and response.status"
            )
    return doc["interactions"]


def _data_frames(rec: Recording) -> Iterable[TapeFrame]:
    for no, ln in enumerate(rec.lines, 1):
        text = ln.text
        if ln.dir != "recv" or not text or not text.startswith("0|"):
            continue
        parts = text.split("|", 3)
        if len(parts) < 4:
            continue  # a malformed frame is still replayed by the fault layer, never routed as data
        count = int(parts[2]) if parts[2].isdigit() else 1
        yield TapeFrame(ln.t, parts[1], parts[3].split("^", 1)[0], count, text, no)


def write(
    path: Path | str,
    session: dict[str, object],
    lines: Iterable[WsLine],
    rest: list[dict[str, object]] | None = None,
) -> Path:
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    (root / "session.json").write_text(
        json.dumps(session, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    with (root / "ws.jsonl").open("w", encoding="utf-8") as fh:
        for ln in lines:
            fh.write(json.dumps(ln.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n")
    if rest is not None:
        doc = {"interactions": rest, "version": 1}
        (root / "rest.yaml").write_text(
            yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return root
