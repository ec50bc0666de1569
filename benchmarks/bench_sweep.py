"""Benchmark: a parameter sweep of BLUE's decision over the real history, instance-scans per second.

Measured in one run, on the same scans and the same random parameter points (pos.tp_pct, vd_threshold,
pos.max_hold_bars), after checking a few instances bit for bit against the scan kernel alone:
- the population kernels alone (`shared` once, then `population` per chunk), 1 and 2 cores;
- the whole sweep (kernel, summary rows and the backtest's money figures per set), 1 and 2 cores;
- the per-set loop the sweep used before (the scan kernel once per set, sets on threads), 1 and 2 threads.

Usage: python benchmarks/bench_sweep.py [--scans SCANS.parquet] [--kernel-sets 20000] [--sweep-sets 2000]
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
from violet.tools.sweep import money, sweep
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scans", default="/tmp/real/scans.parquet")
    ap.add_argument("--kernel-sets", type=int, default=20_000)
    ap.add_argument("--sweep-sets", type=int, default=2_000)
    ap.add_argument("--chunk", type=int, default=2_000)
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
    sets = [{name: v[k].item() for name, v in values.items()} for k in range(args.sweep_sets)]
    account = money(ir, columns, Costs(10_000.0, 4.0, 1.0), [])
    for threads in (1, 2):
        numba.set_num_threads(threads)
        shared_s = timed(lambda: pop.shared(columns))
        shared = pop.shared(columns)
        kernel_s = sum(timed(lambda lo=lo: pop.run(columns, shared, {n: v[lo:lo + args.chunk] for n, v in
                                                                    values.items()}))
                       for lo in range(0, args.kernel_sets, args.chunk))
        rate = args.kernel_sets * n_rows / kernel_s
        print(f"{threads} core(s): shared {shared_s * 1e3:.0f} ms once; population kernel {args.kernel_sets:,} sets "
              f"in {kernel_s:.2f} s = {rate:,.0f} instance-scans/s ({kernel_s / args.kernel_sets * 1e6:.0f} us a set)")
        sweep_s = timed(lambda: sweep(cg, columns, sets, threads=threads, accounting=account))
        sweep_rate = len(sets) * n_rows / sweep_s
        print(f"           whole sweep with money {len(sets):,} sets in {sweep_s:.2f} s = {sweep_rate:,.0f} "
              f"instance-scans/s ({sweep_s / len(sets) * 1e6:.0f} us a set)")
        loop = sets[:max(1, len(sets) // 4)]
        with ThreadPoolExecutor(threads) as pool:
            loop_s = timed(lambda: list(pool.map(lambda p: cg.scan(columns, p), loop)))
        loop_rate = len(loop) * n_rows / loop_s
        print(f"           per-set scan loop (before) {len(loop):,} sets in {loop_s:.2f} s = {loop_rate:,.0f} "
              f"instance-scans/s; population kernel / loop = {rate / loop_rate:.1f}x")
        print(f"           1,000,000 sets: kernel {1e6 * kernel_s / args.kernel_sets:,.0f} s, whole sweep "
              f"{1e6 * sweep_s / len(sets):,.0f} s (extrapolated)")


if __name__ == "__main__":
    main()
