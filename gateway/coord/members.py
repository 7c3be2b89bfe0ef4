"""Live replicas, for the REST budget when Redis is gone (docs/scaling.md, "Members"). Pure: `now` comes in.

Every replica beats into one sorted set per environment (`kis:{E}:members`, member = replica id, score = the
beat's time in ms on the injected clock); a member whose last beat is `ttl` old or older is gone, and the
beat script removes it. `MemberTable` is the pure model of that script (tests run both on the same inputs).

`LiveCount` is what a replica's `SharedLimiter` divides the budget by while it cannot reach Redis: the
largest count it saw in the TTL before its last successful beat, or a configured guess before it has seen
one; never below 1. Each replica falls back to
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
    """The divisor: the largest count seen over `hold` seconds up to the last successful beat, so a count
    that dipped just before Redis went away (a Redis restart empties the set; the others re-register
    within one beat) does not hand every replica a larger share. Counted from the last beat, not from now:
    while Redis is away nothing ages out."""

    guess: int = 2  # before any count was seen (Redis unreachable from the start)
    hold: float = 5.0  # the member TTL: a replica seen this recently may still be calling
    last: int | None = None
    seen_at: list[tuple[float, int]] = field(default_factory=list)

    def seen(self, count: int, now: float) -> None:
        """A count from a successful beat at `now` (it includes this replica, so it is >= 1)."""
        self.last = max(1, count)
        self.seen_at = [(t, c) for t, c in self.seen_at if now - t < self.hold] + [(now, self.last)]

    def divisor(self) -> int:
        if not self.seen_at:
            return max(1, self.guess)
        return max(c for _, c in self.seen_at)
