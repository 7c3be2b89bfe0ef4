"""The fault interface and the Scenario that composes faults (docs/faults.md).

A fault is two things kept apart:

- its **parameters**: a frozen dataclass (`DropAfter(after_s=5)`), what a scenario file sets, what
  `describe()` reports; never changed by running;
- its **per-run state**: a fresh object from `fault.state()` for each run of a scenario (`Scenario.run()`,
  one per FakeKis), handed back to every hook; counters and timers live there.

The exchange and the servers consult a running scenario at a few named plug points (`FaultHooks`), as
vcrpy's pipeline consults matchers; a fault overrides only the ones it needs. Hooks see values (parsed
requests, typed actions, the session's counters, the clock's now) and return typed actions; only byte-level
faults return `Raw` bytes. Faults are deterministic: they count and read the injected clock; the network
faults that jitter draw from a `random.Random(seed)` in their per-run state, never from global randomness.

A running scenario can change while it runs (`ScenarioRun.add` / `remove`, behind `POST/DELETE
/__fakekis/faults` and the plugin's `fake_kis.add_fault`): each fault added gets an id and fresh state.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from fakekis.exchange.actions import Action, Data, Frame, Raw, Session
from fakekis.faults.params import ScenarioError, check_param
from fakekis.wire.frames import Request

S = TypeVar("S")
S_contra = TypeVar("S_contra", contravariant=True)
RestAnswer = tuple[int, dict[str, object]]
__all__ = ["Counter", "Fault", "FaultHooks", "RestAnswer", "Scenario", "ScenarioError", "ScenarioRun", "Wire"]


@dataclass(frozen=True)
class Wire:
    """What the shell does with one outgoing message or REST answer (network faults, `faults/network.py`):
    send it at clock time `at`, in pieces of `slice_size` characters `slice_gap` seconds apart (0: whole),
    hold a REST answer until `hold_until` or until the fault is removed (None: no hold)."""

    at: float
    slice_size: int = 0
    slice_gap: float = 0.0
    hold_until: float | None = None

    def changed(self, now: float) -> bool:
        return self.at > now or self.slice_size > 0 or self.hold_until is not None


class FaultHooks(Protocol[S_contra]):
    """The plug points: what a fault may see (the request, the actions, the frame, the session's counters,
    the clock's now) and what it may change (by returning actions). `state` is the fault's per-run state."""

    def before(self, state: S_contra, session: Session, req: Request, now: float) -> list[Action] | None:
        """Replies that replace the exchange's handling of a request, or None."""

    def after(self, state: S_contra, session: Session, req: Request, actions: list[Action]) -> list[Action]:
        """The exchange's replies to a request, possibly rewritten."""

    def data(self, state: S_contra, session: Session, frame: Frame, now: float) -> list[Action]:
        """What a data frame becomes for this session: nothing, changed, more, or raw bytes."""

    def deadline(self, state: S_contra, session: Session) -> float | None:
        """When this fault next wants `due` called for the session (drops, silence, PINGPONG timeout)."""

    def due(self, state: S_contra, session: Session, now: float) -> list[Action]: ...

    def admit(self, state: S_contra, now: float) -> bool:
        """May a new WebSocket handshake proceed (reconnect-storm lockout)."""

    def client_ping(self, state: S_contra, session: Session) -> list[Action] | None:
        """What a WebSocket-level ping from the client provokes."""

    def reroute(self, tr_id: str) -> list[str] | None:
        """Which TRs carry a replayed frame of `tr_id` (KRX silent while NXT trades)."""

    def rest(self, state: S_contra, kind: str, now: float) -> RestAnswer | None:
        """An error answer (status, body) for REST call `kind` ("token", "price", ...), or None."""

    def wire(self, state: S_contra, channel: str, stream: object, size: int, now: float, plan: Wire) -> Wire:
        """How an outgoing message of `size` characters on `channel` ("ws": `stream` is the session;
        "rest": the URL path) leaves: later, in slices, held (network faults)."""


@dataclass(frozen=True)
class Fault(Generic[S]):
    """Base of every fault: frozen parameters, each checked on construction against the `Check` in its
    field's metadata (`params.param`); hooks default to "no change"."""

    name: ClassVar[str] = ""
    f: ClassVar[str] = ""  # the failure mode, F1..F14 (docs/faults.md)
    summary: ClassVar[str] = ""
    gateway: ClassVar[str] = ""  # what a good client (our gateway) does about it

    def __post_init__(self) -> None:
        for f in fields(self):
            wrong = check_param(f, getattr(self, f.name))
            if wrong:
                raise ScenarioError(f"{self.name}: {f.name}: {wrong}")

    def state(self) -> S:
        """A fresh per-run state (a counter box, a timer); stateless faults use None."""
        return None  # type: ignore[return-value]  # S is None for the stateless faults

    def before(self, state: S, session: Session, req: Request, now: float) -> list[Action] | None:
        return None

    def after(self, state: S, session: Session, req: Request, actions: list[Action]) -> list[Action]:
        return actions

    def data(self, state: S, session: Session, frame: Frame, now: float) -> list[Action]:
        return [frame]

    def deadline(self, state: S, session: Session) -> float | None:
        return None

    def due(self, state: S, session: Session, now: float) -> list[Action]:
        return []

    def admit(self, state: S, now: float) -> bool:
        return True

    def client_ping(self, state: S, session: Session) -> list[Action] | None:
        return None

    def reroute(self, tr_id: str) -> list[str] | None:
        return None

    def rest(self, state: S, kind: str, now: float) -> RestAnswer | None:
        return None

    def wire(self, state: S, channel: str, stream: object, size: int, now: float, plan: Wire) -> Wire:
        return plan

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Counter:
    """The per-run state most faults need: how many times they have acted."""

    n: int = 0


def is_subscribe(req: Request) -> bool:
    return req.tr_type == "1"


class Scenario:
    """An ordered composition of faults (parameters only). `run()` makes the per-run state."""

    def __init__(self, faults: Sequence[Fault[Any]] | None = None, name: str = "healthy") -> None:
        self.faults, self.name = list(faults or []), name

    def __bool__(self) -> bool:
        return bool(self.faults)

    def run(self) -> ScenarioRun:
        return ScenarioRun(self)

    def describe(self) -> list[dict[str, Any]]:
        return [{"fault": f.name, "f": f.f, **f.params()} for f in self.faults]


class ScenarioRun:
    """One run of a scenario: its faults with fresh state. Each plug point runs them in order."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.pairs: list[tuple[Fault[Any], Any]] = [(f, f.state()) for f in scenario.faults]
        self._next_id = itertools.count(1)
        self.ids: list[int] = [next(self._next_id) for _ in self.pairs]

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def run(self) -> ScenarioRun:
        return self

    def describe(self) -> list[dict[str, Any]]:
        """The faults active now, in order (the scenario's, then those added while running)."""
        return [{"fault": f.name, "f": f.f, **f.params()} for f, _ in self.pairs]

    def listing(self) -> list[dict[str, Any]]:
        """`describe()` with each fault's id (what `DELETE /__fakekis/faults/{id}` takes)."""
        return [{"id": i, **d} for i, d in zip(self.ids, self.describe(), strict=True)]

    def add(self, fault: Fault[Any]) -> int:
        """Start `fault` now, with fresh state; returns its id."""
        self.pairs.append((fault, fault.state()))
        self.ids.append(next(self._next_id))
        return self.ids[-1]

    def remove(self, fault_id: int | None = None) -> int:
        """Stop the fault with this id (None: all of them); how many were removed."""
        keep = [
            (i, p)
            for i, p in zip(self.ids, self.pairs, strict=True)
            if fault_id is not None and i != fault_id
        ]
        removed = len(self.pairs) - len(keep)
        self.ids, self.pairs = [i for i, _ in keep], [p for _, p in keep]
        return removed

    def before(self, session: Session, req: Request, now: float) -> list[Action] | None:
        for f, st in self.pairs:  # the first fault with an answer wins
            out = f.before(st, session, req, now)
            if out is not None:
                return out
        return None

    def after(self, session: Session, req: Request, actions: list[Action]) -> list[Action]:
        for f, st in self.pairs:
            actions = f.after(st, session, req, actions)
        return actions

    def data(self, session: Session, frame: Data, now: float) -> list[Action]:
        out: list[Action] = [frame]
        for f, st in self.pairs:
            nxt: list[Action] = []
            for a in out:
                nxt.extend(f.data(st, session, a, now) if isinstance(a, (Data, Raw)) else [a])
            out = nxt
        return out

    def deadline(self, session: Session) -> float | None:
        times = [t for f, st in self.pairs if (t := f.deadline(st, session)) is not None]
        return min(times) if times else None

    def due(self, session: Session, now: float) -> list[Action]:
        out: list[Action] = []
        for f, st in self.pairs:
            d = f.deadline(st, session)
            if d is not None and d <= now:
                out.extend(f.due(st, session, now))
        return out

    def admit(self, now: float) -> bool:
        return all(f.admit(st, now) for f, st in self.pairs)  # the first refusal ends it

    def client_ping(self, session: Session) -> list[Action] | None:
        for f, st in self.pairs:
            out = f.client_ping(st, session)
            if out is not None:
                return out
        return None

    def reroute(self, tr_id: str) -> list[str]:
        for f, _ in self.pairs:
            out = f.reroute(tr_id)
            if out is not None:
                return out
        return [tr_id]

    def rest(self, kind: str, now: float) -> RestAnswer | None:
        for f, st in self.pairs:
            out = f.rest(st, kind, now)
            if out is not None:
                return out
        return None

    def wire(self, channel: str, stream: object, size: int, now: float) -> Wire | None:
        """The plan for one outgoing message, or None when no fault changes how it leaves."""
        plan = Wire(now)
        for f, st in self.pairs:
            plan = f.wire(st, channel, stream, size, now, plan)
        return plan if plan.changed(now) else None
