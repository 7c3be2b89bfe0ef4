"""REST faults (F6, F7): KIS answers a REST call with an error. Three of them are one shape, "the first
`times` calls of `kind` get (status, body)", so they share `FirstCallsRefused` and differ only in data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from fakekis.exchange.auth import gateway_error
from fakekis.faults.base import Counter, Fault, RestAnswer
from fakekis.faults.params import count, param


@dataclass(frozen=True)
class FirstCallsRefused(Fault[Counter]):
    """The first `times` REST calls of `kind` get `status` and `body()`; then KIS answers normally."""

    kind: ClassVar[str] = ""  # "token", "price", ... (fakekis.serve.rest names them)
    status: ClassVar[int] = 500
    times: int = param(1, count(0))

    def body(self) -> dict[str, object]:
        raise NotImplementedError

    def state(self) -> Counter:
        return Counter()

    def rest(self, state: Counter, kind: str, now: float) -> RestAnswer | None:
        if kind != self.kind or state.n >= self.times:
            return None
        state.n += 1
        return self.status, self.body()


@dataclass(frozen=True)
class TokenThrottle(FirstCallsRefused):
    name, f = "token-throttle", "F7"
    summary = "tokenP answers 403 EGW00133 (one issuance per minute) to the first `times` calls"
    gateway = "never issues more than one token a minute itself; REST answers 503 with the reason meanwhile"
    kind, status = "token", 403

    def body(self) -> dict[str, object]:
        return {
            "error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)",
            "error_code": "EGW00133",
        }


@dataclass(frozen=True)
class RestTps(FirstCallsRefused):
    name, f = "rest-tps", "F7"
    summary = "the first `times` inquire-price calls get HTTP 500 EGW00201 (per-second limit exceeded)"
    gateway = "retries once inside its own budget; answers 503 with the reason if that fails too"
    kind = "price"

    def body(self) -> dict[str, object]:
        return dict[str, object](gateway_error("EGW00201", "초당 거래건수를 초과하였습니다."))


@dataclass(frozen=True)
class TokenExpired(FirstCallsRefused):
    name, f = "token-expired", "F7"
    summary = "the first `times` inquire-price calls get HTTP 500 EGW00123 (token expired)"
    gateway = "drops the token and re-issues it, never more than once a minute, then retries"
    kind = "price"

    def body(self) -> dict[str, object]:
        return dict[str, object](gateway_error("EGW00123", "기간이 만료된 token 입니다."))


@dataclass(frozen=True)
class EnvMismatch(Fault[None]):
    name, f = "env-mismatch", "F6"
    summary = "inquire-price answers HTTP 500 EGW02004: a mock appkey on the live domain"
    gateway = "answers 503 naming EGW02004 (check KIS_ENV and the keys); never retries in a loop"

    def rest(self, state: None, kind: str, now: float) -> RestAnswer | None:
        if kind != "price":
            return None
        body = gateway_error("EGW02004", "실전투자 도메인은 모의투자 앱키로 호출하실 수 없습니다.")
        return 500, dict[str, object](body)
