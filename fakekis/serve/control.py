"""Faults at runtime, as Toxiproxy's API does it: `GET /__fakekis/faults` lists the active faults with
their ids, `POST /__fakekis/faults` adds some, `DELETE /__fakekis/faults` removes all and
`DELETE /__fakekis/faults/{id}` one. The body of a POST is a scenario in the scenario file's format
(docs/faults.md), as JSON: `{"fault": "latency", "latency_s": 0.2}`, a list of those or of names, or
`{"faults": [...]}`, or a comma list of names as a JSON string. A bad body is a 400 with one line naming
what is wrong; nothing is added then.

The faults are shared by every environment of the fakekis (one scenario run), so any environment's REST
port controls them all."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakekis.faults import ScenarioError, ScenarioRun, build

WHERE = "POST /__fakekis/faults"


def _json(body: object, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status, media_type="application/json; charset=utf-8"
    )


def parse(body: bytes) -> list[Any]:
    """The faults a POST body asks for (parameters checked); a ScenarioError names the problem."""
    try:
        doc = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ScenarioError(f"{WHERE}: the body is not JSON") from None
    if isinstance(doc, str):
        doc = [n.strip() for n in doc.split(",") if n.strip()]
    elif isinstance(doc, dict) and "faults" not in doc:
        doc = [doc]
    if isinstance(doc, list) and not doc:
        raise ScenarioError(f"{WHERE}: no faults given")
    return build(doc, "runtime", WHERE).faults


def routes(faults: ScenarioRun, changed: Callable[[], None]) -> list[Route]:
    """The control routes over one running scenario; `changed` runs after every add or remove."""

    async def listing(request: Request) -> Response:
        if request.method == "GET":
            return _json({"faults": faults.listing()})
        if request.method == "DELETE":
            removed = faults.remove()
            changed()
            return _json({"removed": removed})
        try:
            new = parse(await request.body())
        except ScenarioError as e:
            return _json({"error": str(e)}, 400)
        ids = [faults.add(f) for f in new]
        changed()
        return _json({"added": [x for x in faults.listing() if x["id"] in ids]}, 201)

    async def one(request: Request) -> Response:
        raw = request.path_params["fault_id"]
        if not raw.isdigit():
            return _json({"error": f"DELETE /__fakekis/faults/{raw}: the id must be a whole number"}, 400)
        if not faults.remove(int(raw)):
            return _json({"error": f"DELETE /__fakekis/faults/{raw}: no active fault has id {raw}"}, 404)
        changed()
        return _json({"removed": 1})

    return [
        Route("/__fakekis/faults", listing, methods=["GET", "POST", "DELETE"]),
        Route("/__fakekis/faults/{fault_id}", one, methods=["DELETE"]),
    ]
