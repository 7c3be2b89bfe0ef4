"""The lease state machine and its store model, on a simulated clock: replicas with random reply delays,
lost replies and store errors never run two KIS sessions for one appkey at once, and fenced publishes
never go back to an older epoch, even when a leader is paused past its deadline."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.coord.lease import (
    Acquire,
    Action,
    LeaseMachine,
    LeaseParams,
    LeaseTable,
    Release,
    Renew,
    Role,
    StartSession,
    StopSession,
)

KEY = "mock:abc"


@dataclass
class Sim:
    """A discrete-event world: one store (LeaseTable), several replicas, a network with delays/losses."""

    rng: random.Random
    n: int
    params: LeaseParams = field(default_factory=LeaseParams)
    max_delay: float = 0.4
    loss: float = 0.1
    pauses: bool = False
    now: float = 0.0
    table: LeaseTable = field(default_factory=LeaseTable)
    queue: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)
    seq: itertools.count[int] = field(default_factory=itertools.count)
    sessions: dict[int, tuple[float, int] | None] = field(default_factory=dict)
    intervals: list[tuple[int, int, float, float]] = field(default_factory=list)  # (who, epoch, start, end)
    publishes: list[tuple[float, int]] = field(default_factory=list)  # accepted (time, epoch)
    paused_until: dict[int, float] = field(default_factory=dict)
    version: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.machines = [LeaseMachine(self.params, random.Random(self.rng.random())) for _ in range(self.n)]
        for i in range(self.n):
            self.sessions[i] = None
            self.paused_until[i] = 0.0
            self.version[i] = 0
            self.wake(i)

    def at(self, t: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self.queue, (t, next(self.seq), fn))

    def wake(self, i: int) -> None:
        """Schedule the replica's next poll (superseding the previous one)."""
        self.version[i] += 1
        v = self.version[i]
        due = self.machines[i].next_due()
        if due is not None:
            self.at(max(due, self.now, self.paused_until[i]), lambda: self.poll(i, v))

    def poll(self, i: int, v: int) -> None:
        if v != self.version[i]:
            return
        if self.now < self.paused_until[i]:
            self.wake(i)
            return
        self.act(i, self.machines[i].poll(self.now))
        self.wake(i)

    def call(self, i: int, apply: Callable[[], int], answer: Callable[[float, int], list[Action]]) -> None:
        """A store call: applied after a delay (or lost before the store), answered after another
        delay (or the answer lost: the replica sees a store error)."""
        lost_before = self.rng.random() < self.loss
        lost_after = self.rng.random() < self.loss
        t_apply = self.now + self.rng.uniform(0, self.max_delay)

        def applied() -> None:
            result = 0 if lost_before else apply()
            t_back = self.now + self.rng.uniform(0, self.max_delay)

            def back() -> None:
                t = max(self.now, self.paused_until[i])
                if t > self.now:
                    self.at(t, back)
                    return
                m = self.machines[i]
                acts = m.on_store_error(self.now) if lost_before or lost_after else answer(self.now, result)
                self.act(i, acts)
                self.wake(i)

            self.at(t_back, back)

        self.at(t_apply, applied)

    def act(self, i: int, actions: list[Action]) -> None:
        m = self.machines[i]
        owner = f"r{i}"
        for a in actions:
            if isinstance(a, Acquire):
                sent = a.sent_at
                self.call(
                    i,
                    lambda sent=sent: self.table.acquire(
                        KEY, owner, self.params.ttl, sent, self.params.vacancy_grace
                    ),
                    lambda now, r, sent=sent: m.on_acquired(now, sent, r),
                )
            elif isinstance(a, Renew):
                a_ = a
                self.call(
                    i,
                    lambda a_=a_: self.table.renew(KEY, owner, a_.epoch, self.params.ttl, a_.sent_at),
                    lambda now, r, a_=a_: m.on_renewed(now, a_.sent_at, r),
                )
            elif isinstance(a, Release):
                ep = a.epoch
                self.at(self.now + self.rng.uniform(0, self.max_delay), lambda ep=ep: self.release(owner, ep))
            elif isinstance(a, StartSession):
                if self.sessions[i] is None:
                    self.sessions[i] = (self.now, a.epoch)
                    self.publish_loop(i)
                else:
                    self.sessions[i] = (self.sessions[i][0], a.epoch)  # type: ignore[index]
            elif isinstance(a, StopSession):
                s = self.sessions[i]
                if s is not None:
                    self.intervals.append((i, s[1], s[0], self.now))
                    self.sessions[i] = None
                m.on_session_closed(self.now)

    def release(self, owner: str, epoch: int) -> None:
        if self.table.release(KEY, owner, epoch):
            for m in self.machines:
                m.on_released_event(self.now)
            for j in range(self.n):
                self.wake(j)

    def publish_loop(self, i: int) -> None:
        """While its session runs, the replica publishes every 0.3 s, fenced by the store."""

        def tick() -> None:
            s = self.sessions[i]
            if s is None:
                return
            if self.now >= self.paused_until[i]:
                t_apply = self.now + self.rng.uniform(0, self.max_delay)
                epoch, sent = s[1], self.now

                def apply() -> None:
                    if self.table.may_publish(KEY, f"r{i}", epoch, sent):
                        self.publishes.append((self.now, epoch))

                self.at(t_apply, apply)
            self.at(max(self.now + 0.3, self.paused_until[i]), tick)

        self.at(self.now, tick)

    def run(self, until: float) -> None:
        while self.queue and self.queue[0][0] <= until:
            self.now, _, fn = heapq.heappop(self.queue)
            fn()
            if self.pauses and self.rng.random() < 0.01:
                who = self.rng.randrange(self.n)
                self.paused_until[who] = self.now + self.rng.uniform(0, 12)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(2, 3), loss=st.sampled_from([0.0, 0.1, 0.3]))
def test_two_replicas_never_hold_a_session_at_once(seed: int, n: int, loss: float) -> None:
    sim = Sim(random.Random(seed), n, loss=loss)
    sim.run(120.0)
    spans = sorted(sim.intervals + [(i, s[1], s[0], sim.now) for i, s in sim.sessions.items() if s])
    spans.sort(key=lambda x: x[2])
    for (_, _, _, end), (_, _, start, _) in itertools.pairwise(spans):
        assert start >= end, f"overlapping sessions: {spans}"
    assert any(m.acquisitions for m in sim.machines), "nobody ever led: the test would prove nothing"


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(2, 3))
def test_paused_leaders_never_publish_an_older_epoch(seed: int, n: int) -> None:
    sim = Sim(random.Random(seed), n, pauses=True)
    sim.run(150.0)
    epochs = [e for _, e in sorted(sim.publishes)]
    assert epochs == sorted(epochs), "a publish from an older epoch was accepted after a newer one"


def test_a_leader_steps_down_at_its_deadline_without_renewals() -> None:
    m = LeaseMachine(LeaseParams(), random.Random(1))
    assert m.poll(0.0) == [Acquire(0.0)]
    assert m.on_acquired(0.1, 0.0, 7) == [StartSession(7)]
    assert m.next_due() == 1.0
    assert m.poll(1.0) == [Renew(7, 1.0)]
    assert m.on_store_error(1.2) == []  # the renew failed: keep going until the deadline
    assert m.poll(2.0) == [Renew(7, 2.0)]
    m.on_store_error(2.1)
    assert m.poll(2.9) == []  # the next renew is due at 3.0, and so is the deadline
    assert m.poll(3.0) == [StopSession("renew deadline passed"), Release(7)]
    assert m.role is Role.STEPPING_DOWN
    m.on_session_closed(3.0)
    assert m.role is Role.FOLLOWER and 3.5 <= (m.next_due() or 0) <= 3.75


def test_a_renew_after_a_store_wipe_keeps_the_session_with_a_new_epoch() -> None:
    table, m = LeaseTable(epochs={KEY: 4}), LeaseMachine(LeaseParams(), random.Random(1))
    m.poll(0.0)
    m.on_acquired(0.0, 0.0, table.acquire(KEY, "a", 5.0, 0.0))
    table.epochs.clear()
    table.leases.clear()  # the store restarted without persistence
    assert table.acquire(KEY, "b", 5.0, 0.5, grace=2.0) == 0, (
        "a follower must leave the leader time to re-take"
    )
    (renew,) = m.poll(1.0)
    assert isinstance(renew, Renew)
    assert m.on_renewed(1.0, 1.0, table.renew(KEY, "a", renew.epoch, 5.0, 1.0)) == [StartSession(1)]
    assert m.role is Role.LEADER and m.epoch == 1


def test_a_late_acquire_answer_is_given_back() -> None:
    m = LeaseMachine(LeaseParams(), random.Random(1))
    m.poll(0.0)
    assert m.on_acquired(3.5, 0.0, 4) == [Release(4)]
    assert m.role is Role.FOLLOWER


def test_graceful_stop_closes_then_releases() -> None:
    m = LeaseMachine(LeaseParams(), random.Random(1))
    m.poll(0.0)
    m.on_acquired(0.0, 0.0, 2)
    assert m.stop(0.5) == [StopSession("shutdown"), Release(2)]


def test_the_store_model_lets_nobody_in_before_expiry_and_fences_old_epochs() -> None:
    t = LeaseTable()
    assert t.acquire(KEY, "a", 5.0, 0.0, grace=2.0) == 0  # never written: wait out the vacancy grace
    assert t.acquire(KEY, "b", 5.0, 1.9, grace=2.0) == 0
    assert t.acquire(KEY, "a", 5.0, 2.0, grace=2.0) == 1  # expires at 7.0
    assert t.acquire(KEY, "b", 5.0, 6.999) == 0
    assert t.renew(KEY, "b", 1, 5.0, 3.0) == 0
    assert t.acquire(KEY, "b", 5.0, 7.0) == 2
    assert not t.may_publish(KEY, "a", 1, 7.0)
    assert t.renew(KEY, "a", 1, 5.0, 7.1) == 0
    assert not t.release(KEY, "a", 1) and t.release(KEY, "b", 2)
    assert t.acquire(KEY, "c", 5.0, 7.2, grace=2.0) == 3, "a released lease is free at once"


@pytest.mark.parametrize(
    "bad", [dict(deadline=6.0), dict(renew_every=3.0), dict(retry=0.0), dict(vacancy_grace=0.5)]
)
def test_unsafe_lease_numbers_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LeaseParams(**bad)


def _leader(params: LeaseParams | None = None) -> LeaseMachine:
    m = LeaseMachine(params or LeaseParams(), random.Random(1))
    m.poll(0.0)
    assert m.on_acquired(0.0, 0.0, 3) == [StartSession(3)]
    return m


def _renew_until(m: LeaseMachine, end: float, healthy: bool, start: float = 1.0) -> list[object]:
    """Keep the lease renewed each second from `start` to `end`, reporting `healthy` before each poll as the
    shell does; returns the first actions that are not a renew."""
    t = start
    while t <= end:
        m.on_health(t, healthy)
        actions = m.poll(t)
        if actions and not isinstance(actions[0], Renew):
            return list(actions)
        for a in actions:
            assert isinstance(a, Renew)
            m.on_renewed(t, a.sent_at, a.epoch)
        t += 1.0
    return []


def test_a_leader_that_never_gets_a_subscription_acked_hands_over_and_cools_down() -> None:
    m = _leader()
    m.on_health(0.5, False)
    assert m.next_due() == 1.0  # the renew comes first; the handover is due at 45.0
    assert _renew_until(m, 44.0, healthy=False) == []
    assert m.next_due() == 45.0
    m.on_health(45.0, False)
    assert m.poll(45.0) == [StopSession("no acked subscription for 45 s"), Release(3)]
    m.on_session_closed(45.1)
    assert m.role is Role.FOLLOWER and m.handovers == 1
    assert m.next_due() == 55.0, "a replica that just handed over must leave the others the next turn"


def test_a_healthy_leader_keeps_its_lease_past_the_handover_time() -> None:
    m = _leader()
    assert _renew_until(m, 120.0, healthy=True) == []
    assert m.role is Role.LEADER and m.handovers == 0


def test_the_handover_counts_from_when_the_session_went_bad_not_from_the_acquire() -> None:
    m = _leader()
    assert _renew_until(m, 100.0, healthy=True) == []
    assert (
        _renew_until(m, 145.0, healthy=False, start=101.0) == []
    )  # unhealthy from 101: still the leader at 145
    m.on_health(146.0, False)
    assert m.poll(146.0) == [StopSession("no acked subscription for 45 s"), Release(3)]
