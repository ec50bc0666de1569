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
from pathlib import Path

import numpy as np

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


def one_run(scans: Path, journal: str | None, run_id: str) -> tuple[np.ndarray, float, int]:
    """One replay of every scan: its decision latencies (us), the decision loop's scans per second (the
    writer's catching up at close not counted: it is off the decision's path), and how many times the OS
    took the CPU from the decision's process meanwhile (involuntary context switches)."""
    reactor, source, j = build_reactor(ReplaySettings(GRAPH, scans, journal=journal, run_id=run_id))
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
    start = time.perf_counter()
    summary = reactor.run(source)
    seconds = time.perf_counter() - start
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw - switches
    if j is not None:
        j.close()
    return np.array(summary.latencies_us), summary.scans / seconds, switches


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
        one_run(scans, None, "warm-up")  # kernels compiled or loaded from the cache
        latencies: dict[str, list[np.ndarray]] = {label: [] for label, _, _ in CONFIGS}
        rates: dict[str, list[float]] = {label: [] for label, _, _ in CONFIGS}
        preempted: dict[str, list[int]] = {label: [] for label, _, _ in CONFIGS}
        for k in range(args.runs):
            for n, (label, journal, load) in enumerate(CONFIGS):
                with busy_neighbour(load):
                    lat, rate, switches = one_run(scans, dsn if journal else None, f"bench-{k}-{n}")
                latencies[label].append(lat)
                rates[label].append(rate)
                preempted[label].append(switches)
        policy = f"SCHED_FIFO {args.fifo}" if args.fifo else "SCHED_OTHER"
        print(f"{scans}: {len(latencies[CONFIGS[0][0]][0]):,} scans x {args.runs} runs; {os.cpu_count()} cores; "
              f"load average {os.getloadavg()[0]:.2f}; decision process {policy}")
        print(f"{'':26}{'p50 us':>9}{'p99 us':>9}{'p99.9 us':>10}{'max us':>10}{'> 100 us':>10}{'> 1 ms':>8}"
              f"{'scans/s':>10}{'preempted':>11}")
        for label, _, _ in CONFIGS:
            lat = np.concatenate(latencies[label])
            print(f"{label:26}{np.percentile(lat, 50):9.1f}{np.percentile(lat, 99):9.1f}"
                  f"{np.percentile(lat, 99.9):10.1f}{lat.max():10.1f}{int((lat > 100).sum()):10,}"
                  f"{int((lat > 1000).sum()):8,}{np.median(rates[label]):10,.0f}{sum(preempted[label]):11,}")


if __name__ == "__main__":
    main()
