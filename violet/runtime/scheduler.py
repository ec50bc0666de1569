"""A deadline scheduler: callbacks at deadlines, lateness measured per timer name.

Timers live in a heap ordered by (deadline, sequence), so two timers with the
same deadline run in the order they were set. `run_due` runs every timer whose
deadline has passed on the clock and records how late it ran; the reactor asks
`next_deadline` to know how long it may wait.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from violet.runtime.clock import Clock


@dataclass(order=True)
class Timer:
    deadline_us: int
    seq: int
    name: str = field(compare=False)
    callback: Callable[[int], None] = field(compare=False, repr=False)
    cancelled: bool = field(default=False, compare=False)


class DeadlineScheduler:
    """Timers at deadlines on one clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[Timer] = []
        self._seq = itertools.count()
        self.lateness_us: dict[str, list[int]] = {}

    def at(self, deadline_us: int, name: str, callback: Callable[[int], None]) -> Timer:
        """Run callback(now_us) once the clock reaches deadline_us."""
        timer = Timer(deadline_us, next(self._seq), name, callback)
        heapq.heappush(self._heap, timer)
        return timer

    @staticmethod
    def cancel(timer: Timer) -> None:
        timer.cancelled = True

    def next_deadline(self) -> int | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].deadline_us if self._heap else None

    def run_due(self) -> int:
        """Run every due timer, earliest first; return how many ran."""
        ran = 0
        while (deadline := self.next_deadline()) is not None and deadline <= self.clock.now_us():
            timer = heapq.heappop(self._heap)
            now = self.clock.now_us()
            self.lateness_us.setdefault(timer.name, []).append(now - timer.deadline_us)
            timer.callback(now)
            ran += 1
        return ran
