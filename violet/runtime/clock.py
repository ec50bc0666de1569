"""Clocks: the only thing (with the event source) that differs between live and replay.

Time is integer microseconds. `LiveClock` reads the monotonic clock and really
sleeps; `ReplayClock` is simulated: sleeping to a deadline jumps to it at once,
so a replay of months of scans runs as fast as the decisions do, through the
same event loop.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What the reactor needs from time."""

    def now_us(self) -> int: ...

    def sleep_until(self, t_us: int) -> None: ...


class LiveClock:
    """Wall time from the monotonic clock, offset so that now_us() starts at `start_us`."""

    def __init__(self, start_us: int = 0) -> None:
        self._offset = start_us - time.monotonic_ns() // 1000

    def now_us(self) -> int:
        return time.monotonic_ns() // 1000 + self._offset

    def sleep_until(self, t_us: int) -> None:
        delay = (t_us - self.now_us()) / 1e6
        if delay > 0:
            time.sleep(delay)


class ReplayClock:
    """Simulated time: sleeping to a deadline jumps there; time never goes back."""

    def __init__(self, start_us: int = 0) -> None:
        self._now = start_us

    def now_us(self) -> int:
        return self._now

    def sleep_until(self, t_us: int) -> None:
        self._now = max(self._now, t_us)
