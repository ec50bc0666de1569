"""Waiting on conditions, never on the clock: a test that sleeps a fixed time assumes the machine's speed.

Each wait has a generous upper bound (WAIT_S) so a stuck run fails the test instead of hanging it."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Callable

WAIT_S = 300.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Return as soon as `condition()` holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.005)


class LineReader:
    """A subprocess's stdout, read line by line on a thread, so a test can wait for a line with a bound."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(proc,), daemon=True).start()

    def _pump(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_line(self, match: Callable[[str], bool], what: str, timeout: float = WAIT_S) -> str:
        """The first line (from now on) for which `match` holds; fail after `timeout` or at end of output."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}") from None
            if line is None:
                raise AssertionError(f"output ended before {what}:\n" + "".join(self.lines[-20:]))
            self.lines.append(line)
            if match(line):
                return line
