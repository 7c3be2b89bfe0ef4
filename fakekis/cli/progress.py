"""Progress of long work as ONE updating line on stderr (rich's Live), only when stderr is a terminal:
piped or redirected output stays clean (what scripts and CI read). The line is redrawn a few times a second
by rich's refresh thread from `status()`, which reads counters and never blocks the event loop."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.text import Text


class ProgressLine:
    def __init__(self, status: Callable[[], str], console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = self.console.is_terminal
        self._live: Live | None = None
        self._status = status

    def __enter__(self) -> ProgressLine:
        if self.enabled:
            self._live = Live(
                get_renderable=lambda: Text(self._status(), no_wrap=True, overflow="ellipsis"),
                console=self.console,
                refresh_per_second=4,
                transient=True,  # the line goes when the work ends; the summary line stays
            )
            self._live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
