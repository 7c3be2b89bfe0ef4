"""Live replicas, for the REST budget when Redis is gone (docs/scaling.md, "Members"). Pure: `now` comes in.

Every replica beats into one sorted set per environment (`kis:{E}:members`, member = replica id, score = the
beat's time in ms on the injected clock); a member whose last beat is `ttl` old or older is gone, and the
beat script removes it. `MemberTable` is the pure model of that script (tests run both on the same inputs).

`LiveCount` is what a replica's `SharedLimiter` divides the budget by while it cannot reach Redis: the last
count it saw, or a configured guess before it has seen one; never below 1. Each replica falls back to
`budget / R`, so the sum stays within the appkey's budget while the replicas are those it last counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class MemberParams:
    ttl: float = 5.0  # a replica silent this long is not counted
    every: float = 1.5  # beat interval

    def __post_init__(self) -> None:
        if not 0 < self.every < self.ttl:
            raise ValueError("members need 0 < every < ttl")


@dataclass
class MemberTable:
    """The pure model of `scripts.MEMBERS_BEAT` / `MEMBERS_LEAVE` over one sorted set (times in ms)."""

    beats: dict[str, int] = field(default_factory=dict)

    def beat(self, owner: str, now_ms: int, ttl_ms: int) -> int:
        self.beats[owner] = now_ms
        self.beats = {o: t for o, t in self.beats.items() if t > now_ms - ttl_ms}
        return len(self.beats)

    def leave(self, owner: str) -> bool:
        return self.beats.pop(owner, None) is not None


@dataclass
class LiveCount:
    guess: int = 2  # before any count was seen (Redis unreachable from the start)
    last: int | None = None
    changes: int = 0

    def seen(self, count: int) -> None:
        """A count from a successful beat (it includes this replica, so it is >= 1)."""
        count = max(1, count)
        if count != self.last:
            self.changes += 1
        self.last = count

    def divisor(self) -> int:
        return max(1, self.last if self.last is not None else self.guess)
