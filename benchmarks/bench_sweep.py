"""Benchmark: a parameter sweep of BLUE's decision over the real history, instance-scans per second.

Measured in one run, on the same scans and the same random parameter points (pos.tp_pct, vd_threshold,
pos.max_hold_bars), after checking a few instances bit for bit against the scan kernel alone:
- the population kernels alone, writing the trade stream (`shared` once, then `population` per chunk);
- the whole sweep as `violet sweep` runs it (the kernel writing the trade stream, then every set's trade
  figures and the backtest's money, compiled), and with `--means` (every output written and averaged);
- the per-set loop the sweep used before (the scan kernel once per set, sets on threads), 1 and 2 threads.

Usage: python benchmarks/bench_sweep.py [--scans SCANS.parquet] [--kernel-sets 20000] [--sweep-sets 2000] [--means-sets 2000]
[--loop-sets 250] (each measured on 1 and 2 cores)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np

from violet.api import compile_graph, load
from violet.tools.backtest import Costs
from violet.tools.grid import Grid
from violet.tools.sweep import chunks, money, population
from violet.table_io import input_columns, read_table

GRAPH = Path(__file__).parent.parent / "graphs" / "blue_decision.toml"


def points(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"pos.tp_pct": rng.uniform(0.002, 0.04, n), "vd_threshold": rng.uniform(-0.10, -0.005, n),
            "pos.max_hold_bars": rng.integers(2, 240, n)}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cpu_timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds (every thread's): on a machine other jobs share, the
    CPU time is what the work cost, the wall time also what it waited."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scans", default="/tmp/real/scans.parquet")
    ap.add_argument("--kernel-sets", type=int, default=20_000)
    ap.add_argument("--sweep-sets", type=int, default=2_000)
    ap.add_argument("--chunk", type=int, default=250)
    ap.add_argument("--means-sets", type=int, default=2_000, help="sets of the sweep with every output's mean")
    ap.add_argument("--loop-sets", type=int, default=250, help="sets of the per-set scan loop (the old way)")
    args = ap.parse_args()
    path = Path(args.scans)
    ir = load(GRAPH)
    columns, _ = input_columns(ir, read_table(path), str(path), read_table(path.with_name("scans.universe.parquet")))
    n_rows, n_assets = columns["price"].shape
    cg = compile_graph(ir).warm("scan")
    pop = cg.population(list(points(1)))
    compile_s = timed(pop.warm)
    print(f"numba {numba.__version__}, {numba.config.NUMBA_NUM_THREADS} cores; {n_rows:,} scans x {n_assets} assets; "
          f"population kernels compiled/loaded in {compile_s:.1f} s; shared values: "
          f"{', '.join(ir.ops[i].kind for i in pop.kept)}")

    check = points(8, seed=9)
    outs = pop.run(columns, pop.shared(columns), check)
    for k in range(8):
        alone, _ = cg.scan(columns, {name: v[k].item() for name, v in check.items()})
        assert all(np.array_equal(outs[n][k], alone[n], equal_nan=True) for n in outs), k
    print("bit-identical: 8 instances == the scan kernel alone, every scalar output")

    values = points(args.kernel_sets)
    sets = Grid({name: v[:args.sweep_sets] for name, v in values.items()}, joint=True)
    with_means = Grid({name: v[:args.means_sets] for name, v in values.items()}, joint=True)
    account = money(columns, Costs(10_000.0, 4.0, 1.0))
    stream = population(cg, sets.names, means=False)
    stream.warm()
    for grid, means in ((sets, False), (with_means, True)):  # compiled (or loaded) before anything is timed
        for _ in chunks(cg, columns, Grid({n: v[:64] for n, v in grid.axes.items()}, joint=True), 2, account,
                        means=means):
            pass
    for threads in (1, 2):
        numba.set_num_threads(threads)
        shared = stream.shared(columns)
        into = stream.buffers(args.chunk, n_rows)  # as the sweep runs it: one chunk's outputs, reused
        kernel_s, kernel_cpu = cpu_timed(lambda: [stream.run(columns, shared, {n: v[lo:lo + args.chunk] for n, v in
                                                                             values.items()}, into=into)
                                                   for lo in range(0, args.kernel_sets, args.chunk)])
        rate = args.kernel_sets * n_rows / kernel_s
        print(f"{threads} core(s): population kernel (trade stream) {args.kernel_sets:,} sets in {kernel_s:.2f} s = "
              f"{rate:,.0f} instance-scans/s ({kernel_s / args.kernel_sets * 1e6:.0f} us a set, "
              f"{kernel_cpu / args.kernel_sets * 1e6:.0f} us CPU)")
        for grid, means, what in ((sets, False, "whole sweep with money"), (with_means, True, "... and --means")):
            sweep_s, cpu = cpu_timed(lambda: [None for _ in chunks(cg, columns, grid, threads, account, means=means)])
            print(f"           {what} {grid.size:,} sets in {sweep_s:.2f} s = {grid.size * n_rows / sweep_s:,.0f} "
                  f"instance-scans/s ({sweep_s / grid.size * 1e6:.0f} us a set, {cpu / grid.size * 1e6:.0f} us CPU); "
                  f"1,000,000 sets: {1e6 * sweep_s / grid.size:,.0f} s (projected, not measured)")
        loop = sets.points(0, max(1, min(args.loop_sets, sets.size)))
        with ThreadPoolExecutor(threads) as pool:
            loop_s = timed(lambda: list(pool.map(lambda p: cg.scan(columns, p), loop)))
        loop_rate = len(loop) * n_rows / loop_s
        print(f"           per-set scan loop (before) {len(loop):,} sets in {loop_s:.2f} s = {loop_rate:,.0f} "
              f"instance-scans/s; population kernel / loop = {rate / loop_rate:.1f}x")


if __name__ == "__main__":
    main()
