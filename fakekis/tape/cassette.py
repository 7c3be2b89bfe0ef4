"""`rest.yaml` for replay: each vcrpy interaction parsed into what the matchers compare, and the
recorder's time stamps (docs/recordings.md, "rest.yaml").

vcrpy stores no time, and replay answers on the tape's timeline, so an interaction may carry `t`: seconds
since the session's `start`, like a `ws.jsonl` line, taken when the answer arrived. vcrpy itself reads
`request` and `response` only, so a stamped cassette stays a vcrpy cassette. An interaction without `t`
(older cassettes, hand-written ones) counts as recorded at `t = 0`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import yaml

# The response headers a replayed answer keeps (the ones the recording proxy forwards, docs/kis/protocol.md §3.2).
REPLAYED_HEADERS = ("content-type", "tr_id", "tr_cont", "gt_uid")


@dataclass(frozen=True, slots=True)
class Interaction:
    """One recorded request and its answer. `query` names are upper-cased (KIS reads them
    case-insensitively, docs/kis/protocol.md §3.1) and sorted; header names are lower-cased."""

    index: int  # position in the file
    t: float | None
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    body: str
    status: int
    response_headers: tuple[tuple[str, str], ...]
    response_body: bytes

    @property
    def tr_id(self) -> str:
        return self.headers.get("tr_id", "")


def query_items(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k.upper(), v) for k, v in pairs))


def text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _first(values: object) -> str:
    """vcrpy writes each header as a list of values (a bare string in hand-written cassettes)."""
    if isinstance(values, list):
        return text(values[0]) if values else ""
    return text(values)


def _headers(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {str(k).lower(): _first(v) for k, v in raw.items()}


def parse(interactions: Iterable[Mapping[str, object]]) -> list[Interaction]:
    """The loader (`tape.reader.load`) has checked the shape; this only reads it."""
    out = []
    for index, it in enumerate(interactions):
        request, response = it["request"], it["response"]
        assert isinstance(request, dict) and isinstance(response, dict)
        uri = urlsplit(text(request["uri"]))
        status = response["status"]
        body = response.get("body")
        t = it.get("t")
        out.append(
            Interaction(
                index=index,
                t=float(t) if isinstance(t, (int, float)) else None,
                method=text(request["method"]).upper(),
                path=uri.path or "/",
                query=query_items(parse_qsl(uri.query, keep_blank_values=True)),
                headers=_headers(request.get("headers")),
                body=text(request.get("body")),
                status=int(status["code"]) if isinstance(status, dict) else 200,
                response_headers=tuple(
                    (k, v) for k, v in _headers(response.get("headers")).items() if k in REPLAYED_HEADERS
                ),
                response_body=text(body.get("string") if isinstance(body, dict) else body).encode("utf-8"),
            )
        )
    return out


def stamp(path: Path, times: list[float]) -> bool:
    """Give the interactions of the cassette vcrpy just wrote their `t`, in order (vcrpy appends them in
    the order the answers arrived). False, and the file untouched, if the counts disagree."""
    if not path.is_file():
        return False
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    interactions = doc.get("interactions") if isinstance(doc, dict) else None
    if not isinstance(interactions, list) or len(interactions) != len(times):
        return False
    doc["interactions"] = [{"t": round(t, 6), **it} for t, it in zip(times, interactions, strict=True)]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return True
