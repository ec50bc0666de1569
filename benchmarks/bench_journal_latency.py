"""Benchmark: decision latency with the journal off and on, each with and without a CPU-bound process beside it.

BLUE (graphs/blue_decision.toml) replays the real panel through the reactor, as `violet replay` does
(build_reactor, run, close). Latency is the engine's own measure around one decision (scan in, record
out); p50, p99, p99.9 and max are over every scan of every repeat; "preempted" counts the times the OS
took the CPU from the decision's process during the runs (involuntary context switches). "under load"
runs a second Python process spinning a busy loop for the whole run, on a machine with os.cpu_count()
cores (2 here, shared). The journal's writer is its own process (violet/journal/writer_process.py): the
decision's process only hands each scan's rows to a pipe. The four configurations are interleaved in each
repeat, so a noisy neighbour hits them alike. Issue 11's targets, journal on, under load: p99 < 100 us,
max < 1 ms.

Usage: python benchmarks/bench_journal_latency.py [--runs 3] [--scans SCANS.parquet] [--fifo 10]
(without --scans, scans are built from the default panel first, as README's `violet scans build`)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from violet.journal.writer import Journal
from violet.runtime.session import ReplaySettings, build_reactor

GRAPH = Path(__file__).resolve().parent.parent / "graphs" / "blue_decision.toml"
CONFIGS = (("journal off", False, False), ("journal off, under load", False, True),
           ("journal on", True, False), ("journal on, under load", True, True))


@contextlib.contextmanager
def busy_neighbour(on: bool) -> Iterator[None]:
    """A CPU-bound process beside the run (a Python busy loop), stopped after it."""
    if not on:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


@dataclass
class Measured:
    """One configuration's runs: decision latencies, loop rates, preemptions, and the journal's hand-overs
    (the scans row's append: the scan's rows pickled and written to the writer's pipe, on the decision's
    thread but outside the decision's latency)."""

    latencies: list[np.ndarray] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    preempted: int = 0
    handovers_us: list[float] = field(default_factory=list)

    def row(self, label: str) -> str:
        lat = np.concatenate(self.latencies)
        return (f"{label:26}{np.percentile(lat, 50):9.1f}{np.percentile(lat, 99):9.1f}{np.percentile(lat, 99.9):10.1f}"
                f"{lat.max():10.1f}{int((lat > 100).sum()):10,}{int((lat > 1000).sum()):8,}"
                f"{np.median(self.rates):10,.0f}{self.preempted:11,}")


def time_handovers(journal: Journal, into: list[float]) -> None:
    """Time each scans-row append of `journal` (the one that hands the scan's rows to the writer)."""
    append = journal.append

    def timed(table: str, row: dict) -> None:
        start = time.perf_counter_ns()
        append(table, row)
        if table == "scans":
            into.append((time.perf_counter_ns() - start) / 1000)

    journal.append = timed  # type: ignore[method-assign]


def one_run(scans: Path, journal: str | None, run_id: str, into: Measured) -> None:
    """One replay of every scan: its decision latencies (us), the decision loop's scans per second (the
    writer's catching up at close not counted: it is off the decision's path), how many times the OS took
    the CPU from the decision's process meanwhile (involuntary context switches), the hand-overs."""
    reactor, source, j = build_reactor(ReplaySettings(GRAPH, scans, journal=journal, run_id=run_id))
    if j is not None:
        time_handovers(j, into.handovers_us)
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
    start = time.perf_counter()
    summary = reactor.run(source)
    seconds = time.perf_counter() - start
    into.preempted += resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw - switches
    if j is not None:
        j.close()
    into.latencies.append(np.array(summary.latencies_us))
    into.rates.append(summary.scans / seconds)


def default_scans(directory: Path) -> Path:
    from violet.scans.build import build_scans, write_scans
    from violet.scans.panel import default_panel

    path = directory / "scans.parquet"
    write_scans(*build_scans(default_panel()), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scans", type=Path, default=None)
    parser.add_argument("--fifo", type=int, default=0, metavar="PRIORITY",
                        help="run the decision's process at SCHED_FIFO PRIORITY (root or CAP_SYS_NICE; the writer "
                             "and the neighbour stay ordinary processes)")
    args = parser.parse_args()
    if args.fifo:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(args.fifo))  # children: ordinary
    with tempfile.TemporaryDirectory() as tmp:
        scans = args.scans or default_scans(Path(tmp))
        dsn = f"chdb://{tmp}/journal"
        one_run(scans, None, "warm-up", Measured())  # kernels compiled or loaded from the cache
        measured = {label: Measured() for label, _, _ in CONFIGS}
        for k in range(args.runs):
            for n, (label, journal, load) in enumerate(CONFIGS):
                with busy_neighbour(load):
                    one_run(scans, dsn if journal else None, f"bench-{k}-{n}", measured[label])
        policy = f"SCHED_FIFO {args.fifo}" if args.fifo else "SCHED_OTHER"
        print(f"{scans}: {len(measured[CONFIGS[0][0]].latencies[0]):,} scans x {args.runs} runs; "
              f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}; decision process {policy}")
        print(f"{'':26}{'p50 us':>9}{'p99 us':>9}{'p99.9 us':>10}{'max us':>10}{'> 100 us':>10}{'> 1 ms':>8}"
              f"{'scans/s':>10}{'preempted':>11}")
        for label, _, _ in CONFIGS:
            print(measured[label].row(label))
        print("hand-over to the writer (the scans row's append: a scan's rows pickled, one non-blocking write):")
        for label, journal, _ in CONFIGS:
            if journal:
                cost = np.array(measured[label].handovers_us)
                print(f"  {label:24}p50 {np.percentile(cost, 50):.1f} us, p99 {np.percentile(cost, 99):.1f} us, "
                      f"max {cost.max():.1f} us")

if __name__ == "__main__":
    main()
