"""The shared access token and its issuance gate, as pure decisions (the Redis script runs the same rules).

KIS allows one tokenP per appkey per minute (EGW00133, docs/kis/protocol.md §2). Replicas share one token
per appkey; before anyone calls tokenP it takes the gate, a marker that lives `GATE_S` = 61 s and is never
deleted early, so a failed issuance (EGW00133 from an outside issuer, a network error) is not retried inside
the minute by anyone. A token with less than `REFRESH_MARGIN` left is renewed, as in `gateway.rest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GATE_S = 61.0
REFRESH_MARGIN = 600.0


@dataclass(frozen=True, slots=True)
class Use:
    token: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class Issue:
    """This caller took the gate: it alone calls tokenP now."""


@dataclass(frozen=True, slots=True)
class Wait:
    retry_at: float  # when the gate opens (another replica may publish a token before that)


Decision = Use | Issue | Wait


def decide(
    now: float,
    token: tuple[str, float] | None,
    gate_taken_at: float | None,
    margin: float = REFRESH_MARGIN,
) -> Decision:
    """`token` is (value, expires_at) as stored; `gate_taken_at` is when the gate was last taken, if it
    still stands. Taking the gate is part of the decision: the store sets it atomically with it."""
    if token is not None and token[1] - now > margin:
        return Use(*token)
    if gate_taken_at is not None and now - gate_taken_at < GATE_S:
        return Wait(gate_taken_at + GATE_S)
    return Issue()


@dataclass
class TokenTable:
    """The store side: the token per appkey and the gate's timestamp, with `decide` applied atomically."""

    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    gates: dict[str, float] = field(default_factory=dict)

    def claim(self, key: str, now: float) -> Decision:
        gate = self.gates.get(key)
        if gate is not None and now - gate >= GATE_S:
            gate = None  # expired (the store's PX does this)
        d = decide(now, self.tokens.get(key), gate)
        if isinstance(d, Issue):
            self.gates[key] = now
        return d

    def store(self, key: str, token: str, expires_at: float) -> None:
        self.tokens[key] = (token, expires_at)

    def drop(self, key: str, rejected: str) -> bool:
        """Compare-and-delete: a token KIS refused goes, a fresh one written meanwhile stays."""
        held = self.tokens.get(key)
        if held is None or held[0] != rejected:
            return False
        del self.tokens[key]
        return True
