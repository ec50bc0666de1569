"""Benchmark: a live population on the reactor's per-scan path, P = 1,000 and 10,000 instances of the BLUE
decision on the real panel (453 assets), 1 and 2 cores, side by side with the single decision.

Each instance has its own take-profit and signal threshold (a grid); one `population_step` call per scan
decides every instance (violet.runtime.population). Latency is per scan, around the compiled call alone
(what `violet replay --population` reports); instance-scans/s is P x scans over the summed step time.

Usage: python benchmarks/bench_population.py [--scans PATH] [--limit 2000]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numba
import numpy as np

from violet.api import compile_graph, load
from violet.runtime.engine import DecisionEngine
from violet.runtime.population import PopulationHost
from violet.runtime.record import decision_record
from violet.runtime.source import replay_source
from violet.scans.build import build_scans, write_scans
from violet.scans.panel import default_panel

GRAPH = Path(__file__).resolve().parent.parent / "graphs" / "blue_decision.toml"


def grid(p: int) -> list[dict[str, float]]:
    side = int(round(p ** 0.5))
    return [{"pos.tp_pct": float(tp), "vd_threshold": float(vd)}
            for tp in np.linspace(0.002, 0.04, side) for vd in np.linspace(-0.08, -0.005, p // side)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=Path, help="a scans table (default: built from the real panel)")
    parser.add_argument("--limit", type=int, default=2000, help="scans stepped per configuration")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scans = args.scans
        if scans is None:
            scans = Path(tmp) / "scans.parquet"
            write_scans(*build_scans(default_panel()), scans)
        ir = load(GRAPH)
        cg = compile_graph(ir)
        source = replay_source(ir, scans)
        events = [e for e in source.events if e.inputs is not None][:args.limit]
        record = decision_record(ir, str(GRAPH))
        print(f"{len(events):,} scans x {len(source.symbols)} assets from {scans}")
        print(f"{'':34}{'cores':>6}{'p50 us':>10}{'p99 us':>10}{'max us':>10}{'inst-scans/s':>15}")
        engine = DecisionEngine(cg.bind(source.universe))
        for event in events:
            engine.decide(event.inputs)
        lat = np.array(engine.latencies_us)
        print(f"{'the decision alone (P = 1)':34}{1:6}{np.percentile(lat, 50):10.1f}{np.percentile(lat, 99):10.1f}"
              f"{lat.max():10.1f}{len(lat) / lat.sum() * 1e6:15,.0f}")
        for p in (1_000, 10_000):
            for cores in (1, 2):
                numba.set_num_threads(cores)
                host = PopulationHost(cg, source.universe, grid(p), record)
                host.on_scan(events[0].inputs)  # compile or load the kernel before timing
                host = PopulationHost(cg, source.universe, grid(p), record)
                for event in events:
                    host.on_scan(event.inputs)
                lat = np.array(host.latencies_us)
                print(f"{f'population P = {p:,}':34}{cores:6}{np.percentile(lat, 50):10.1f}"
                      f"{np.percentile(lat, 99):10.1f}{lat.max():10.1f}{p * len(lat) / lat.sum() * 1e6:15,.0f}")


if __name__ == "__main__":
    main()
