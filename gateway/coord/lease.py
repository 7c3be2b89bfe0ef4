"""The per-appkey lease: a state machine that takes `now` and the results of store calls and returns the
actions to carry out, plus `LeaseTable`, the pure model of what the store's scripts do (the Redis shell
runs the same rules in Lua; tests compare the two).

States: follower -> candidate (an acquire is in flight) -> leader -> stepping-down -> follower.

The safety rule is the renew deadline: a leader may run its KIS session only until `deadline` seconds after
the *send* time of its last successful renew (or acquire). The store lets another owner in only `ttl`
seconds after that same send time, and `deadline < ttl`, so the old leader has closed its session before
anyone else may acquire, however its replies are delayed or lost (docs/scaling.md, "Lease").

The unhealthy handover: a leader whose session has had no acked subscription for `handover` seconds (the
shell reports health with `on_health` before each poll) gives the lease up and sits out `cooldown`, so a
replica that can reach KIS gets its turn instead of the lease staying with one that cannot.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum


class Role(str, Enum):
    FOLLOWER = "follower"
    CANDIDATE = "candidate"
    LEADER = "leader"
    STEPPING_DOWN = "stepping-down"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class LeaseParams:
    ttl: float = 5.0
    renew_every: float = 1.0
    deadline: float = 3.0
    retry: float = 0.5
    jitter: float = 0.25
    # An empty lease key (first start, or the store lost its data) may be taken only after it has been seen
    # empty this long: a live leader re-takes it at its next renew first, so a store restart does not hand
    # the session to a follower that KIS would refuse (OPSP8996) while the old session lives.
    vacancy_grace: float = 2.0
    # scale-out.md proposed 30 s, but the worker's own hold-off after an OPSP8996 (a zombie at KIS) waits
    # 15-30 s: a 30 s handover raced the leader's retry just as the zombie left, and handed a working
    # session to a newcomer. 45 s lets one hold-off retry finish first.
    handover: float = 45.0
    cooldown: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.renew_every < self.deadline < self.ttl:
            raise ValueError("lease needs 0 < renew_every < deadline < ttl")
        if self.vacancy_grace < self.renew_every:
            raise ValueError("lease needs vacancy_grace >= renew_every (the leader's chance to re-take)")
        if self.retry <= 0 or self.jitter < 0:
            raise ValueError("lease needs retry > 0 and jitter >= 0")
        if self.handover <= 0 or self.cooldown < 0:
            raise ValueError("lease needs handover > 0 and cooldown >= 0")


# Actions the shell carries out. `sent_at` is the `now` the shell must pass to the store script.
@dataclass(frozen=True, slots=True)
class Acquire:
    sent_at: float


@dataclass(frozen=True, slots=True)
class Renew:
    epoch: int
    sent_at: float


@dataclass(frozen=True, slots=True)
class Release:
    epoch: int


@dataclass(frozen=True, slots=True)
class StartSession:
    epoch: int


@dataclass(frozen=True, slots=True)
class StopSession:
    reason: str


Action = Acquire | Renew | Release | StartSession | StopSession


@dataclass
class LeaseMachine:
    """One replica's view of one appkey's lease. Call `poll(now)` at `next_due()` (or earlier: it is
    idempotent), and the `on_*` methods when a store call answers."""

    params: LeaseParams = field(default_factory=LeaseParams)
    rng: random.Random = field(default_factory=random.Random)
    role: Role = Role.FOLLOWER
    epoch: int = 0
    valid_until: float = 0.0  # leader only: the session must be closed by then
    _next_try: float = 0.0
    _next_renew: float = 0.0
    _in_flight: bool = False
    _unhealthy_since: float | None = None  # leader only: since when its session has had no acked subscription
    _cooldown_until: float = 0.0  # after a handover: no acquire before this
    acquisitions: int = 0
    step_downs: int = 0
    handovers: int = 0

    @property
    def session_allowed(self) -> bool:
        return self.role is Role.LEADER

    def next_due(self) -> float | None:
        if self.role is Role.FOLLOWER:
            return self._next_try
        if self.role is Role.LEADER:
            due = self.valid_until if self._in_flight else min(self._next_renew, self.valid_until)
            if self._unhealthy_since is not None:
                due = min(due, self._unhealthy_since + self.params.handover)
            return due
        return None  # candidate / stepping-down wait for an answer; stopped waits for nothing

    def idle(self, now: float) -> bool:
        """Nothing in flight and nothing due at `now`: a step-mode test may move the clock on."""
        if self.role in (Role.CANDIDATE, Role.STEPPING_DOWN) or self._in_flight:
            return False
        due = self.next_due()
        return due is None or due > now

    def poll(self, now: float) -> list[Action]:
        if self.role is Role.LEADER:
            if now >= self.valid_until:
                return self._step_down("renew deadline passed")
            if self._unhealthy_since is not None and now >= self._unhealthy_since + self.params.handover:
                self.handovers += 1
                self._cooldown_until = now + self.params.cooldown
                return self._step_down(f"no acked subscription for {self.params.handover:g} s")
            if not self._in_flight and now >= self._next_renew:
                self._in_flight = True
                self._next_renew = now + self.params.renew_every
                return [Renew(self.epoch, now)]
            return []
        if self.role is Role.FOLLOWER and now >= self._next_try:
            self.role = Role.CANDIDATE
            return [Acquire(now)]
        return []

    def on_acquired(self, now: float, sent_at: float, epoch: int) -> list[Action]:
        """The acquire sent at `sent_at` answered `epoch` (0: someone else holds it)."""
        if self.role is not Role.CANDIDATE:
            return [Release(epoch)] if epoch > 0 else []  # stopped meanwhile: give it back
        if epoch <= 0:
            self._follow(now)
            return []
        if now >= sent_at + self.params.deadline:  # the answer came too late to use safely
            self._follow(now)
            return [Release(epoch)]
        self.role, self.epoch = Role.LEADER, epoch
        self._unhealthy_since = now  # a new session is healthy only once KIS acks a subscription
        self.valid_until = sent_at + self.params.deadline
        self._next_renew = sent_at + self.params.renew_every
        self.acquisitions += 1
        return [StartSession(epoch)]

    def on_renewed(self, now: float, sent_at: float, epoch: int) -> list[Action]:
        """The renew sent at `sent_at` answered `epoch`: the same epoch (renewed), another positive one
        (the key had vanished, e.g. the store restarted, and was re-taken for us), or 0 (lost)."""
        self._in_flight = False
        if self.role is not Role.LEADER:
            return []
        if epoch <= 0:
            return self._step_down("lease lost")
        self.valid_until = max(self.valid_until, sent_at + self.params.deadline)
        if epoch != self.epoch:
            self.epoch = epoch
            return [StartSession(epoch)]  # same session, new fencing token
        return self.poll(now) if now >= self.valid_until else []

    def on_store_error(self, now: float) -> list[Action]:
        """A store call failed (unreachable, timeout). A candidate goes back to following; a leader keeps
        its session until its deadline."""
        if self.role is Role.CANDIDATE:
            self._follow(now)
        elif self.role is Role.LEADER:
            self._in_flight = False
            return self.poll(now)
        return []

    def on_health(self, now: float, healthy: bool) -> None:
        """The leader's session is (or is not) open with a subscription acked at `now`."""
        if self.role is not Role.LEADER or healthy:
            self._unhealthy_since = None
        elif self._unhealthy_since is None:
            self._unhealthy_since = now

    def on_session_closed(self, now: float) -> None:
        """The shell closed the KIS session after a StopSession."""
        if self.role is Role.STEPPING_DOWN:
            self._follow(now)

    def on_released_event(self, now: float) -> None:
        """Someone released the lease: try at once instead of after the retry period."""
        if self.role is Role.FOLLOWER:
            self._next_try = now

    def stop(self, now: float) -> list[Action]:
        """Graceful shutdown: close the session, then release so a follower takes over at once."""
        was, epoch = self.role, self.epoch
        self.role = Role.STOPPED
        if was is Role.LEADER:
            return [StopSession("shutdown"), Release(epoch)]
        return []

    def _step_down(self, reason: str) -> list[Action]:
        self.role = Role.STEPPING_DOWN
        self.step_downs += 1
        return [StopSession(reason), Release(self.epoch)]

    def _follow(self, now: float) -> None:
        self.role = Role.FOLLOWER
        self._unhealthy_since = None
        retry = now + self.params.retry + self.rng.uniform(0.0, self.params.jitter)
        self._next_try = max(retry, self._cooldown_until)


@dataclass
class LeaseTable:
    """The store side, as the Lua scripts in `redis_backend` implement it: one lease per key, an epoch
    counter that only grows (until the store itself is wiped), and expiry judged on the caller's `now`.
    A release leaves a marker (owner "", expired) so the next acquire need not wait out `grace`, which
    applies only to a key nobody has written (first start, or a wiped store)."""

    leases: dict[str, tuple[str, int, float]] = field(default_factory=dict)  # key -> (owner, epoch, exp)
    epochs: dict[str, int] = field(default_factory=dict)
    vacant: dict[str, float] = field(default_factory=dict)  # key -> first seen empty

    def acquire(self, key: str, owner: str, ttl: float, now: float, grace: float = 0.0) -> int:
        held = self.leases.get(key)
        if held is not None and held[2] > now:
            return 0
        if held is None:
            since = self.vacant.setdefault(key, now)
            if now - since < grace:
                return 0
        self.vacant.pop(key, None)
        epoch = self.epochs[key] = self.epochs.get(key, 0) + 1
        self.leases[key] = (owner, epoch, now + ttl)
        return epoch

    def renew(self, key: str, owner: str, epoch: int, ttl: float, now: float) -> int:
        held = self.leases.get(key)
        if held is None:  # wiped (store restart): re-take it at once, with a new epoch
            return self.acquire(key, owner, ttl, now)
        if held[0] != owner or held[1] != epoch:
            return 0
        self.leases[key] = (owner, epoch, max(held[2], now + ttl))
        return epoch

    def release(self, key: str, owner: str, epoch: int) -> bool:
        held = self.leases.get(key)
        if held is None or held[0] != owner or held[1] != epoch:
            return False
        self.leases[key] = ("", epoch, 0.0)  # released: free at once, and not mistaken for a wiped store
        return True

    def may_publish(self, key: str, owner: str, epoch: int, now: float) -> bool:
        held = self.leases.get(key)
        return held is not None and held[0] == owner and held[1] == epoch and held[2] > now
