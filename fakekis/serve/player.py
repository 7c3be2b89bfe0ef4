"""Replay pacing: when each recorded data frame is due, by the injected clock.

`speed=None` is `asap` (no waiting, yielding to the loop every `BATCH` frames); any positive factor
divides recorded gaps by it. Frames already due when the previous one went (asap, a burst at one instant,
a replay running late) are emitted back to back, up to `BATCH`, and `flush` (the fan-out's) sends them
together before the player waits or yields: it is never left holding frames while another task runs. Frames come from an iterator (`tape.stream.Tape.frames`), pulled one at a
time as they fall due, so memory does not grow with the tape; `origin` is the tape time replay starts
from (`serve --from`). The player starts when told (by default on the first acked
subscription), so a client that connects late still sees the whole tape.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from fakekis.tape.format import RecordingError, TapeFrame
from kisclock import Clock

log = logging.getLogger("fakekis")
BATCH = 64  # frames emitted between two yields to the loop when they are already due


class Player:
    def __init__(
        self,
        frames: Iterable[TapeFrame],
        clock: Clock,
        speed: float | None,
        recording_start: float,
        emit: Callable[[TapeFrame], Awaitable[None]],
        origin: float = 0.0,
        total: int | None = None,
        flush: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`total`: how many frames `frames` holds, when known (a list's length, or the index's count).
        `flush`: sends what `emit` queued; called before every wait and yield, and at the end."""
        if speed is not None and speed <= 0:
            raise ValueError("speed must be > 0 (or None for asap)")
        self.clock, self.speed = clock, speed
        self.total = len(frames) if isinstance(frames, list) and total is None else total
        self._frames = iter(frames)
        self.error: RecordingError | None = None  # what ended the tape early, if anything
        self._next: TapeFrame | None = self._pull()
        self.recording_start, self.origin = recording_start, origin
        self.emit, self.flush = emit, flush
        self.started_at: float | None = None
        self.position = origin  # tape time of the last frame emitted
        self.emitted = 0
        self.done = asyncio.Event()
        self._go = asyncio.Event()

    def start(self) -> None:
        if self.started_at is None:
            self.started_at = self.clock.now()
            self._go.set()

    @property
    def started(self) -> bool:
        return self.started_at is not None

    def caught_up(self) -> bool:
        """Nothing is due at or before the clock's now (used by step-driven tests and tools)."""
        if self.started_at is None or self._next is None:
            return True
        if self.speed is None:
            return False
        return self.started_at + (self._next.t - self.origin) / self.speed > self.clock.now()

    def market_now(self) -> float:
        """The exchange's idea of "now": the recorded instant the replay has reached."""
        if self.started_at is None:
            return self.recording_start + self.origin
        if self.speed is None:
            return self.recording_start + self.position
        return self.recording_start + self.origin + (self.clock.now() - self.started_at) * self.speed

    def _pull(self) -> TapeFrame | None:
        """The next frame; a bad line further down a streamed tape ends the replay there, logged once."""
        try:
            return next(self._frames, None)
        except RecordingError as e:
            self.error = e
            log.error("replay stops: %s", e)
            return None

    async def run(self) -> None:
        await self._go.wait()
        assert self.started_at is not None
        speed, origin, started, clock = self.speed, self.origin, self.started_at, self.clock
        flush = self.flush
        run = 0  # frames emitted since the last wait or yield
        frame = self._next
        while frame is not None:
            due = None if speed is None else started + (frame.t - origin) / speed
            if due is not None and due > clock.now():
                if flush is not None:
                    await flush()
                # plain timers were up to 2.8 ms late (p99) on a wall clock
                await clock.sleep_until_precise(due)
                run = 0
            elif run >= BATCH:
                if flush is not None:
                    await flush()
                await asyncio.sleep(0)
                run = 0
            run += 1
            self.position = frame.t
            self._next = self._pull()  # read ahead: caught_up() looks at the next frame's time
            await self.emit(frame)
            self.emitted += 1
            frame = self._next
        if flush is not None:
            await flush()
        self.done.set()
