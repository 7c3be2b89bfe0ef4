"""What the third-party client tests in tests/compat/ share: requiring the client, the bundled recordings by
layout era, the records fakekis replayed, and a bounded wait on what a client's own threads deliver.

Imported by the test modules beside it (`from compat_clients import ...`): pytest puts this folder on
sys.path when it collects them.

`KIS_HARNESS_REQUIRE_CLIENTS` (set by `tox -e compat`, which installs the clients) turns a missing client
into a failing import instead of a skip; `KIS_HARNESS_REQUIRE_PYKIS` does the same for python-kis alone.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Generic, TypeVar

import pytest

from fakekis import tape

T = TypeVar("T")

# An address nothing listens on: an environment a test does not serve points here, so a client that
# picks the wrong one fails on the spot instead of dialling real KIS.
CLOSED_REST = "http://127.0.0.1:9"
CLOSED_WS = "ws://127.0.0.1:9"


def require(module: str, distribution: str) -> ModuleType:
    """Import a third-party client: skipped where it is not installed (the main suite), a failure where it
    must be (`tox -e compat` sets KIS_HARNESS_REQUIRE_CLIENTS=1; a comma list of import names works too)."""
    wanted = os.environ.get("KIS_HARNESS_REQUIRE_CLIENTS", "")
    names = {n.strip() for n in wanted.split(",") if n.strip()}
    if wanted.strip() in ("1", "all") or module.partition(".")[0] in names:
        return importlib.import_module(module)
    found: ModuleType = pytest.importorskip(
        module, reason=f"{distribution} is installed only in `tox -e compat`"
    )
    return found


@dataclass(frozen=True)
class Era:
    """A bundled recording and the record layouts it carries, measured from its frames."""

    recording: str
    trade_fields: int  # H0STCNT0 per record: 46 before 2026-09-14, 47 after
    book_fields: int  # H0STASP0 per record: 59 (pre-NXT), 62, 63 from 2026-09-22

    @property
    def id(self) -> str:
        return f"{self.recording}[{self.trade_fields}/{self.book_fields}]"


def _width(frames: Sequence[tape.TapeFrame], tr_id: str) -> int:
    for f in frames:
        if f.tr_id == tr_id:
            return len(f.text.split("|", 3)[3].split("^")) // f.records
    return 0


@functools.cache
def bundled_eras() -> tuple[Era, ...]:
    """Every bundled recording of a layout era, with its layouts (the set grows by era: today's and the
    pre-September one): those with trades and books. Bundled tapes made for other tests (the scale-out
    harness's 100-symbol tape: trades only, other codes) are not eras."""
    folder = tape.bundled().parent
    eras = []
    for path in sorted(p for p in folder.iterdir() if (p / "session.json").is_file()):
        frames = frames_of(path.name)
        era = Era(path.name, _width(frames, "H0STCNT0"), _width(frames, "H0STASP0"))
        if era.trade_fields and era.book_fields:
            eras.append(era)
    return tuple(eras)


@functools.cache
def frames_of(recording: str) -> tuple[tape.TapeFrame, ...]:
    """A bundled recording's data frames, in replay order."""
    return tuple(tape.load(tape.bundled(recording)).data_frames())


def records(tr_id: str, symbol: str, frames: Sequence[tape.TapeFrame]) -> list[list[str]]:
    """The records fakekis sent for (tr_id, symbol), split the way KIS defines it: by the count."""
    out: list[list[str]] = []
    for f in frames:
        if f.tr_id == tr_id and f.tr_key == symbol:
            fields = f.text.split("|", 3)[3].split("^")
            width = len(fields) // f.records
            out.extend(fields[i * width : (i + 1) * width] for i in range(f.records))
    return out


def emitted(fake_kis: Any, recording: str) -> list[tape.TapeFrame]:
    """The recording's frames fakekis has replayed so far, once everything due has been sent."""
    fake_kis.wait_until(lambda s: fake_kis.caught_up())
    return list(frames_of(recording)[: fake_kis.stats()["replay"]["emitted"]])


def era_params(envs: Sequence[str], unsupported: Callable[[Era], str | None] = lambda era: None) -> list[Any]:
    """pytest params over (bundled recording, fakekis environment), each with its `fake_kis` marker on the
    manual clock. `unsupported(era)` gives the reason a client cannot read that era: such a param is a
    strict xfail (the client's limit, which real KIS in that era would show too)."""
    out = []
    for era in bundled_eras():
        reason = unsupported(era)
        for env in envs:
            marks = [pytest.mark.fake_kis(recording=era.recording, env=env, manual_clock=True, speed=1)]
            if reason:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            out.append(pytest.param(era, env, marks=marks, id=f"{era.id}-{env}"))
    return out


class Inbox(Generic[T]):
    """Collects what a client delivers on its own threads; every wait is bounded and says what it waited for."""

    def __init__(self, client: str) -> None:
        self.client = client
        self.items: list[T] = []
        self._cond = threading.Condition()

    def put(self, item: T) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait(self, check: Callable[[list[T]], bool], what: str, timeout: float = 10.0) -> list[T]:
        with self._cond:
            if not self._cond.wait_for(lambda: check(self.items), timeout):
                raise AssertionError(
                    f"{self.client}: {what} not seen within {timeout}s ({len(self.items)} items)"
                )
            return list(self.items)
