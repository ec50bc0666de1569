"""The cadence control plane: each action has its own quantization Q.

BLUE is scan-quantized: the entry decision and the exit check both run once
per scan (Q = one scan). That is a setting, not the architecture: the exit
check can be given a finer Q (microseconds), and then the reactor also runs
the exit graph between scans, at every multiple of Q, on the latest prices.
The journal is flushed on its own Q. The entry decision stays at one scan in
this stage (it needs a whole scan: the universe's scores and the factors).
"""

from __future__ import annotations

from dataclasses import dataclass

SCAN = None  # Q = one scan


@dataclass(frozen=True)
class Cadence:
    """Q per action, in microseconds; SCAN (None) means once per scan."""

    exit_q_us: int | None = SCAN
    flush_q_us: int = 50_000

    def next_exit_check(self, after_us: int) -> int | None:
        """The first multiple of the exit Q strictly after `after_us` (None at scan cadence)."""
        if self.exit_q_us is None:
            return None
        return (after_us // self.exit_q_us + 1) * self.exit_q_us

    def describe(self) -> str:
        exit_q = "one scan" if self.exit_q_us is None else f"{self.exit_q_us / 1e6:g} s"
        return f"entry decision: one scan; exit check: {exit_q}; journal flush: {self.flush_q_us / 1e3:g} ms"
