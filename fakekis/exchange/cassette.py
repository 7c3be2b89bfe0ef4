"""REST replay from `rest.yaml`, sans I/O: a request and the tape's "now" in, the recorded answer (or a
miss) out.

As vcrpy does it, a request matches an interaction when every matcher named in `match_on` agrees
(`MATCHERS` lists them: method, path, tr_id, query, body). Unlike vcrpy, replay follows the tape's
timeline: of the matching interactions, the one recorded nearest before "now" (tape seconds, as
`ws.jsonl`'s `t`) answers, so a price asked at 09:05 of the tape is the price KIS gave at 09:05. Nothing
recorded yet -> a `Miss`, and the server answers as if there were no cassette (the exchange's own answer,
or 404 `EGW00003`).

Auth calls (`/oauth2/...`) are never replayed: tokens and approval keys come from the exchange, which
checks them on every later call.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from fakekis.tape.cassette import Interaction, query_items, text

NEVER_REPLAYED = ("/oauth2/", "/__fakekis/")  # auth is the exchange's; /__fakekis/ is fakekis's own
MAX_MISSED_KINDS = 100  # distinct miss kinds kept in stats; past that they count under "(other)"


@dataclass(frozen=True, slots=True)
class Asked:
    """A request as the matchers see it (query names upper-cased and sorted, like `Interaction`)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    tr_id: str
    body: str

    @classmethod
    def of(
        cls,
        method: str,
        path: str,
        query: Iterable[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        body: bytes | str = b"",
    ) -> Asked:
        tr_id = next((v for k, v in (headers or {}).items() if k.lower() == "tr_id"), "")
        return cls(method.upper(), path, query_items(query), tr_id, text(body))

    @property
    def kind(self) -> str:
        """How a miss is counted and logged: no query values, which can hold an account number."""
        return f"{self.method} {self.path} tr_id={self.tr_id or '-'}"


def _same_body(a: str, b: str) -> bool:
    """Equal JSON documents, whatever their spacing and key order; else equal text (blank = blank)."""
    if not a.strip() and not b.strip():
        return True
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b


Matcher = Callable[[Asked, Interaction], bool]

MATCHERS: dict[str, Matcher] = {
    "method": lambda a, i: a.method == i.method,
    "path": lambda a, i: a.path == i.path,
    "tr_id": lambda a, i: a.tr_id == i.tr_id,
    "query": lambda a, i: a.query == i.query,
    "body": lambda a, i: _same_body(a.body, i.body),
}
DEFAULT_MATCH_ON = ("method", "path", "tr_id", "query", "body")
# Matchers that are plain equality of one field, the same on `Asked` and `Interaction`: they index the
# cassette (a dict lookup per request instead of a scan), and only the others (body) are called.
_KEYED = ("method", "path", "tr_id", "query")


@dataclass(frozen=True, slots=True)
class Miss:
    """No recorded answer. `first`: the first miss of this kind (log it once); `too_early`: the
    recording has a matching answer, but only later on the tape."""

    kind: str
    first: bool
    too_early: bool


def _when(i: Interaction) -> tuple[float, int]:
    return (i.t or 0.0, i.index)


def check_match_on(names: Iterable[str]) -> tuple[str, ...]:
    """The matcher names, or ValueError naming the unknown ones and the allowed ones."""
    chosen = tuple(names)
    unknown = [name for name in chosen if name not in MATCHERS]
    if unknown:
        raise ValueError(f"unknown REST matcher {', '.join(unknown)}; the matchers are {', '.join(MATCHERS)}")
    return chosen


def replayed(path: str) -> bool:
    return not path.startswith(NEVER_REPLAYED)


class Replay:
    def __init__(
        self, interactions: Sequence[Interaction], match_on: Sequence[str] = DEFAULT_MATCH_ON
    ) -> None:
        self.match_on = check_match_on(match_on)
        self._keyed = [name for name in self.match_on if name in _KEYED]
        self._matchers = [MATCHERS[name] for name in self.match_on if name not in _KEYED]
        self.interactions = [i for i in interactions if replayed(i.path)]
        self._paths = {i.path for i in self.interactions}
        buckets: defaultdict[tuple[object, ...], list[Interaction]] = defaultdict(list)
        for i in self.interactions:
            buckets[self._key(i)].append(i)
        # each bucket in tape order (file order at equal t), with its times for bisecting
        self._buckets = {
            key: (tuple(sorted(b, key=_when)), [_when(i)[0] for i in sorted(b, key=_when)])
            for key, b in buckets.items()
        }
        self.hits = self.misses = self.too_early = 0
        self.missed: Counter[str] = Counter()

    def knows(self, path: str) -> bool:
        """Some interaction was recorded on this path (the server then checks the token and budget
        before answering from the recording, as KIS would)."""
        return path in self._paths

    def answer(self, asked: Asked, now: float) -> Interaction | Miss | None:
        """The interaction recorded nearest before `now` (tape seconds) among those that match; ties go
        to the first in the file. None for paths never replayed (auth, fakekis's own)."""
        if not replayed(asked.path):
            return None
        bucket, times = self._buckets.get(self._key(asked), ((), []))
        due = bisect_right(times, now)
        chosen: Interaction | None = None
        for j in range(due - 1, -1, -1):  # latest first; at equal t on to the first in the file
            if chosen is not None and times[j] != _when(chosen)[0]:
                break
            if all(m(asked, bucket[j]) for m in self._matchers):
                chosen = bucket[j]
        if chosen is not None:
            self.hits += 1
            return chosen
        later = any(all(m(asked, i) for m in self._matchers) for i in bucket[due:])
        self.misses += 1
        self.too_early += later
        known = asked.kind in self.missed
        first = not known and len(self.missed) < MAX_MISSED_KINDS
        self.missed[asked.kind if known or first else "(other)"] += 1
        return Miss(asked.kind, first, later)

    def _key(self, x: Asked | Interaction) -> tuple[object, ...]:
        return tuple(getattr(x, name) for name in self._keyed)

    def stats(self) -> dict[str, object]:
        return {
            "interactions": len(self.interactions),
            "match_on": list(self.match_on),
            "hits": self.hits,
            "misses": self.misses,
            "too_early": self.too_early,
            "missed": dict(self.missed.most_common(20)),
        }
