"""The REST app's side of cassette replay: a Starlette request in, the recorded answer (a Response) or
None out; the choosing is `exchange.cassette.Replay`'s, on the tape's clock (`tape_now`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from fakekis.exchange.cassette import Asked, Miss, Replay

log = logging.getLogger("fakekis")


@dataclass
class CassetteReplay:
    """One environment's replay: the cassette and the tape time (seconds since the recording's start)."""

    replay: Replay
    tape_now: Callable[[], float]

    def knows(self, path: str) -> bool:
        return self.replay.knows(path)

    async def answer(self, request: Request) -> Response | None:
        asked = Asked.of(
            request.method,
            request.url.path,
            request.query_params.multi_items(),
            request.headers,
            await request.body(),
        )
        got = self.replay.answer(asked, self.tape_now())
        if got is None:
            return None
        if isinstance(got, Miss):
            if got.first and self.replay.interactions:
                log.warning(
                    "REST %s is not in the recording's rest.yaml%s; answered without it "
                    "(counted in /__fakekis/stats rest_replay.missed)",
                    got.kind,
                    " before this point of the tape" if got.too_early else "",
                )
            return None
        headers = {"content-type": "application/json; charset=utf-8", **dict(got.response_headers)}
        return Response(got.response_body, got.status, headers=headers)
