"""Benchmark: the reactor on the whole history, journal off and on, side by side in one run.

Scan-to-decision latency (p50, p99, max) is measured around the compiled step
inside the reactor, 453 assets on the real panel; replay throughput is whole
runs in scans/s. Journaling on the embedded ClickHouse must not move the
decision latency: rows are only queued on the decision path.

Usage: python benchmarks/bench_runtime.py [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from violet.runtime.session import ReplaySettings, build_reactor
from violet.scans.build import build_scans, write_scans
from violet.scans.panel import default_panel

GRAPH = Path(__file__).resolve().parent.parent / "graphs" / "blue_decision.toml"


def one_run(scans: Path, journal: str | None, reference: str | None) -> tuple[np.ndarray, float, int]:
    reactor, source, j = build_reactor(ReplaySettings(GRAPH, scans, journal=journal, reference=reference))
    start = time.perf_counter()
    summary = reactor.run(source)
    seconds = time.perf_counter() - start
    if j is not None:
        j.close()
    return np.array(summary.latencies_us), seconds, summary.scans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        panel = default_panel()
        scans_path = Path(tmp) / "scans.parquet"
        write_scans(*build_scans(panel), scans_path)
        one_run(scans_path, None, None)  # warm the kernels
        print(f"scans from {panel.source}: {panel.close.shape[1]} assets")
        print(f"{'':36}{'p50 us':>9}{'p99 us':>9}{'max us':>10}{'scans/s':>11}")
        for label, journal, reference in (
                ("journal off, no monitor", None, None),
                ("journal on (chdb), no monitor", f"chdb://{tmp}/journal", None),
                ("journal on, legacy monitor in lockstep", f"chdb://{tmp}/journal", "violet.legacy.engine:BlueEngine")):
            lat, best, scans = [], float("inf"), 0
            for _ in range(args.runs):
                latencies, seconds, scans = one_run(scans_path, journal, reference)
                lat.append(latencies)
                best = min(best, seconds)
            all_lat = np.concatenate(lat)
            print(f"{label:36}{np.percentile(all_lat, 50):9.1f}{np.percentile(all_lat, 99):9.1f}"
                  f"{all_lat.max():10.1f}{scans / best:11,.0f}")


if __name__ == "__main__":
    main()
