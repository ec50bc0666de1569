"""Benchmark: the blue_sizing graph, rows/s, measured side by side in one run.

- the reference interpreter (on a subset: it is slow by design);
- the compiled batch kernel (violet compile);
- a hand-written @njit kernel of the same formula, same outputs, same order;
- numpy, vectorised, same formula.
All four are checked bit for bit against each other before anything is timed.
Then the batch kernel (parallel over rows, the graph being stateless) and the sequential scan kernel
against a streaming loop that moves the same bytes (10 columns in, 11 out), on one core and on all:
into new output columns each call, as the kernels allocate theirs by default (the OS zeroes every page
on its first touch, for both), and into the same output columns every call (`batch(into=)`: the bytes
moved and nothing else, the issue's bound).
Also: cold vs warm start of the kernels (a fresh cache dir, then the same dir
from a second process) and `violet diff` throughput against the legacy form.

Usage: python benchmarks/bench_sizing.py [--rows 10000000] [--interp-rows 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit

from violet.api import compile_graph
from violet.compile.interp import Interpreter
from violet.legacy.sizing import size
from violet.tools.diff import diff_reference
from violet.tools.sampling import sample

GRAPH = Path(__file__).resolve().parent.parent / "graphs" / "blue_sizing.toml"
OUTPUTS = ("s", "base", "dc", "regime", "esof", "raw", "cmax", "leverage", "notional", "exch_lev", "margin")


@njit(error_model="numpy", nogil=True, cache=True)
def hand_written(vel_div, acb_boost, acb_beta, mc_scale, ob_mult, esof_score, dc_status, posture, capital,
                 exchange_max_leverage, out):
    """The sizing formula as an engineer writes it in Numba, all 11 outputs."""
    s_, base_, dc_, regime_, esof_, raw_, cmax_, lev_, notional_, exch_, margin_ = out
    for i in range(vel_div.shape[0]):
        s = (-0.02 - vel_div[i]) / (-0.02 - -0.05)
        s = 0.0 if 0.0 > s else s  # max(s, 0.0) as Python's max: NaN and -0.0 kept
        s = 1.0 if 1.0 < s else s
        s3 = s * s * s
        base = 0.5 + (8.0 - 0.5) * s3
        regime = acb_boost[i] * (1.0 + acb_beta[i] * s3) * mc_scale[i]
        esof = 1.0 + 0.1 * esof_score[i]
        esof = 0.8 if 0.8 > esof else esof
        esof = 1.2 if 1.2 < esof else esof
        d = dc_status[i]
        dc = 1.25 if d == 0 else (1.0 if d == 1 else 0.75)
        raw = base * dc * regime * ob_mult[i] * esof
        cmax = 8.0 * regime * ob_mult[i] * esof
        cmax = 9.0 if 9.0 < cmax else cmax
        if posture[i] == 1:
            cmax = 2.0 if 2.0 < cmax else cmax
        lev = cmax if cmax < raw else raw
        lev = lev if lev > 0.5 else 0.5
        notional = capital[i] * 0.2 * lev
        ex = np.int64(np.ceil(lev))
        ex = 1 if 1 > ex else ex
        cap = exchange_max_leverage[i]
        ex = cap if cap < ex else ex
        s_[i], base_[i], dc_[i], regime_[i], esof_[i], raw_[i] = s, base, dc, regime, esof, raw
        cmax_[i], lev_[i], notional_[i], exch_[i], margin_[i] = cmax, lev, notional, ex, notional / ex


def streaming(vel_div, acb_boost, acb_beta, mc_scale, ob_mult, esof_score, dc_status, posture, capital,
              exchange_max_leverage, s_, base_, dc_, regime_, esof_, raw_, cmax_, lev_, notional_, exch_, margin_):
    """The bound: the same bytes in (10 columns) and out (11 columns), one move each, no arithmetic.
    Every array its own argument: a tuple of arrays keeps the parallel loop from vectorising."""
    for i in numba.prange(vel_div.shape[0]):
        s_[i], base_[i], dc_[i], regime_[i], esof_[i] = vel_div[i], acb_boost[i], acb_beta[i], mc_scale[i], ob_mult[i]
        raw_[i], cmax_[i], lev_[i], notional_[i] = esof_score[i], dc_status[i], posture[i], capital[i]
        exch_[i], margin_[i] = exchange_max_leverage[i], vel_div[i]


STREAM_1 = njit(error_model="numpy", nogil=True)(streaming)  # prange is range here: one core; no cache=True:
STREAM_ALL = njit(error_model="numpy", nogil=True, parallel=True)(streaming)  # the two would share a cache entry


def numpy_sizing(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same formula with numpy arrays (np.where for Python's min/max rule)."""
    with np.errstate(all="ignore"):
        s = (-0.02 - c["vel_div"]) / (-0.02 - -0.05)
        s = np.where(0.0 > s, 0.0, s)
        s = np.where(1.0 < s, 1.0, s)
        s3 = s * s * s
        base = 0.5 + (8.0 - 0.5) * s3
        regime = c["acb_boost"] * (1.0 + c["acb_beta"] * s3) * c["mc_scale"]
        esof = 1.0 + 0.1 * c["esof_score"]
        esof = np.where(0.8 > esof, 0.8, esof)
        esof = np.where(1.2 < esof, 1.2, esof)
        dc = np.select([c["dc_status"] == 0, c["dc_status"] == 1], [1.25, 1.0], 0.75)
        raw = base * dc * regime * c["ob_mult"] * esof
        cmax = 8.0 * regime * c["ob_mult"] * esof
        cmax = np.where(9.0 < cmax, 9.0, cmax)
        cmax = np.where((c["posture"] == 1) & (2.0 < cmax), 2.0, cmax)
        lev = np.where(cmax < raw, cmax, raw)
        lev = np.where(0.5 > lev, 0.5, lev)
        notional = c["capital"] * 0.2 * lev
        ex = np.ceil(lev).astype(np.int64)
        ex = np.maximum(ex, 1)
        ex = np.where(c["exchange_max_leverage"] < ex, c["exchange_max_leverage"], ex)
        return dict(zip(OUTPUTS, (s, base, dc, regime, esof, raw, cmax, lev, notional, ex, notional / ex)))


def realistic_rows(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"vel_div": rng.uniform(-0.12, 0.04, n), "acb_boost": rng.uniform(0, 2, n), "acb_beta": rng.uniform(0, 2, n),
            "mc_scale": rng.uniform(0, 2, n), "ob_mult": rng.uniform(0, 2, n), "esof_score": rng.uniform(-5, 5, n),
            "dc_status": rng.integers(0, 3, n), "posture": rng.integers(0, 4, n),
            "capital": 10 ** rng.uniform(2, 6, n), "exchange_max_leverage": rng.integers(1, 126, n)}


def best_of(fn, repeat: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def same_bits(a: dict[str, np.ndarray], b: dict[str, np.ndarray], rows: slice = slice(None)) -> bool:
    return all(np.array_equal(a[k][rows].view(np.int64), b[k][rows].view(np.int64)) for k in OUTPUTS)


def start_up(cache: str) -> tuple[float, float, str]:
    """(kernel load seconds, whole process seconds, hit/miss) of compile_graph in a fresh process."""
    code = ("import time; t=time.perf_counter(); from violet.api import compile_graph; "
            f"cg=compile_graph({str(GRAPH)!r}).warm(); print(cg.seconds, time.perf_counter()-t, cg.cache_hit)")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "VIOLET_CACHE_DIR": cache}).stdout.split()
    wall = time.perf_counter() - start
    return float(out[0]), wall, "hit" if out[2] == "True" else "miss"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--interp-rows", type=int, default=200_000)
    parser.add_argument("--diff-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"{platform.python_version()} numba {numba.__version__} numpy {np.__version__}; {cpu}, {os.cpu_count()} cores")

    cg = compile_graph(GRAPH)
    ir = cg.ir
    cols = realistic_rows(args.rows, args.seed)
    out = {k: np.empty(args.rows, dtype=np.int64 if k == "exch_lev" else np.float64) for k in OUTPUTS}
    order = ("vel_div", "acb_boost", "acb_beta", "mc_scale", "ob_mult", "esof_score", "dc_status", "posture",
             "capital", "exchange_max_leverage")

    def hand() -> None:
        hand_written(*[cols[k] for k in order], tuple(out[k] for k in OUTPUTS))

    def scan_1() -> None:  # the sequential scan kernel: what `batch` ran before the parallel kernel
        cg.scan(cols)

    compiled = cg.batch(cols, parallel=True)
    hand()
    numpy_out = numpy_sizing(cols)
    sub = slice(0, args.interp_rows)
    interp_out = Interpreter(ir).batch({k: v[sub] for k, v in cols.items()})
    assert same_bits(compiled, out) and same_bits(compiled, numpy_out), "compiled, hand-written, numpy differ"
    assert same_bits(compiled, interp_out, sub), "compiled and interpreter differ"
    print(f"bit-identical: compiled == hand-written @njit == numpy on {args.rows:,} rows, == interpreter on "
          f"{args.interp_rows:,}")

    assert same_bits(compiled, cg.scan(cols)[0]), "the parallel batch kernel and the sequential scan differ"
    def moved() -> list[np.ndarray]:  # the inputs, and new output columns, as `batch` allocates its own
        return [cols[k] for k in order] + [np.empty(args.rows, np.int64 if k == "exch_lev" else np.float64)
                                           for k in OUTPUTS]

    STREAM_1(*moved()), STREAM_ALL(*moved())
    t_compiled = best_of(lambda: cg.batch(cols, parallel=True), args.repeat)
    t_scan = best_of(scan_1, args.repeat)
    t_stream_1 = best_of(lambda: STREAM_1(*moved()), args.repeat)
    t_stream_all = best_of(lambda: STREAM_ALL(*moved()), args.repeat)
    kept = moved()  # the same output columns every call, their pages touched once before
    STREAM_ALL(*kept)
    t_stream_kept = best_of(lambda: STREAM_ALL(*kept), args.repeat)
    into = cg.batch(cols, parallel=True)
    t_kept = best_of(lambda: cg.batch(cols, parallel=True, into=into), args.repeat)
    t_hand = best_of(hand, args.repeat)
    t_numpy = best_of(lambda: numpy_sizing(cols), max(1, args.repeat // 2))
    t_interp = best_of(lambda: Interpreter(ir).batch({k: v[sub] for k, v in cols.items()}), 1) * args.rows / args.interp_rows
    rate = {name: args.rows / t for name, t in (("interpreter", t_interp), ("compiled batch kernel", t_compiled),
                                                 ("hand-written @njit", t_hand), ("numpy", t_numpy))}
    print(f"\n{'':24}{'rows/s':>16}")
    for name, r in rate.items():
        print(f"{name:24}{r:16,.0f}")
    print(f"\nthe same bytes ({len(order)} columns in, {len(OUTPUTS)} out), moved and nothing else:")
    for name, t in ((f"batch kernel, {numba.get_num_threads()} threads", t_compiled), ("scan kernel, 1 core", t_scan),
                    ("streaming loop, 1 core", t_stream_1), (f"streaming loop, {numba.get_num_threads()} threads",
                                                             t_stream_all)):
        print(f"{name:32}{args.rows / t:16,.0f} rows/s")
    print(f"batch / streaming, 1 core: {t_stream_1 / t_compiled:.2f}x; batch / streaming, all cores: "
          f"{t_stream_all / t_compiled:.2f}x; scan / streaming, all cores: {t_stream_all / t_scan:.2f}x")
    print(f"into the same output columns every call (batch(into=)), {numba.get_num_threads()} threads:")
    print(f"{'batch kernel':32}{args.rows / t_kept:16,.0f} rows/s")
    print(f"{'streaming loop':32}{args.rows / t_stream_kept:16,.0f} rows/s")
    print(f"batch / streaming, all cores: {t_stream_kept / t_kept:.2f}x (target >= 0.75)")
    print(f"\ncompiled / hand-written: {t_compiled / t_hand:.3f}x the time (target <= 1.1)")
    print(f"compiled vs interpreter: {t_interp / t_compiled:,.0f}x faster (target >= 100)")
    print(f"compiled vs numpy:       {t_numpy / t_compiled:.1f}x faster")

    with tempfile.TemporaryDirectory() as cache:
        cold = start_up(cache)
        warm = start_up(cache)
    print(f"\nstart-up, cold (empty cache): kernels {cold[0]:.2f} s ({cold[2]}), whole process {cold[1]:.2f} s")
    print(f"start-up, warm (second process): kernels {warm[0]:.2f} s ({warm[2]}), whole process {warm[1]:.2f} s")

    rows = sample(ir.inputs, args.diff_rows, args.diff_rows // 5, seed=args.seed)
    report = diff_reference(cg, rows, size, "legacy")
    n = args.diff_rows + args.diff_rows // 5
    print(f"\nviolet diff vs the legacy form: {n:,} rows in {report.seconds:.1f} s "
          f"({n / report.seconds:,.0f} rows/s), mismatches {report.mismatched_rows}")


if __name__ == "__main__":
    main()
