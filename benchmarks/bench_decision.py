"""Benchmark: one BLUE decision over the whole universe, compiled vs the legacy engine.

Measured in one run, on the same scans:
- the compiled step kernel called from Python once per scan (arguments prepared, as a host would);
- the same decision inside the compiled scan loop (state carried in compiled code);
- the legacy engine's `on_scan`, one call per scan;
- the whole history replayed by the scan loop (scans/s).

Scans are built from the shared real panel when it is there, otherwise from
the generated universe; `--scans FILE` uses a scans file.
Usage: python benchmarks/bench_decision.py [--scans SCANS.parquet] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from violet.compile.ir import IR
from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir, kernel_array, kernel_value
from violet.dag.graph import load_graph
from violet.legacy.engine import BlueEngine
from violet.runtime.reactor import python_scan
from violet.runtime.source import universe_path
from violet.scans.build import build_scans
from violet.scans.panel import default_panel
from violet.table_io import input_columns, read_table

REPO = Path(__file__).resolve().parent.parent


def load_scans(path: Path | None, ir: IR) -> tuple[dict[str, np.ndarray], str]:
    """Scan columns for the decision graph: from a file, or built from the panel (real, else generated)."""
    if path is not None:
        return input_columns(ir, read_table(path), str(path), read_table(universe_path(path)))[0], str(path)
    panel = default_panel()
    scans, universe = build_scans(panel)
    return input_columns(ir, scans, panel.source, universe)[0], panel.source


def time_per_call(fn: Callable[[], object], calls: int, repeat: int) -> float:
    """Best-of-`repeat` seconds per call of `fn` over `calls` calls."""
    best = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best.append((time.perf_counter() - start) / calls)
    return min(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--legacy-scans", type=int, default=1000, help="scans timed for the legacy engine")
    args = parser.parse_args()

    ir = lower(load_graph(REPO / "graphs" / "blue_decision.toml"))
    cg = compile_ir(ir)
    cols, source = load_scans(args.scans, ir)
    n_scans, n_assets = cols["price"].shape
    print(f"scans: {source}: {n_scans:,} scans x {n_assets} assets")

    # compiled step from Python: arguments prepared once per scan, as a host loop would
    per_row = [op for op in ir.leaves("input")]
    params = [kernel_value(ir.param_defaults[op.name], op.type) for op in ir.leaves("param")]
    start = ir.initial_state(n_assets)
    state0 = [kernel_value(start[op.name], op.type) for op in ir.leaves("state")]
    rows = [[kernel_value(cols[op.name] if ir.input_spec(op.name).universe else cols[op.name][t], op.type)
             for op in per_row] for t in range(n_scans)]
    n_out = len(ir.outputs)
    step = cg.kernel("step")

    def step_loop() -> None:
        state = state0
        for args_t in rows:
            result = step(n_assets, *args_t, *params, *state)
            state = list(result[n_out:])

    step_s = time_per_call(step_loop, n_scans, args.repeat)
    kernel_args = scan_arguments(ir, cols, params, state0, n_scans, n_assets)
    scan_s = time_per_call(lambda: cg.kernel("scan")(*kernel_args), n_scans, args.repeat)

    legacy_n = min(args.legacy_scans, n_scans)
    per_row = [spec.name for spec in ir.inputs if not spec.universe]
    scans_py = [python_scan(ir, {name: cols[name][t] for name in per_row}) for t in range(legacy_n)]

    def legacy_loop() -> None:
        engine = BlueEngine(cols["stable"].tolist(), cols["exchange_max_leverage"].tolist())
        for scan in scans_py:
            engine.on_scan(**scan)

    legacy_s = time_per_call(legacy_loop, legacy_n, args.repeat)
    whole = time_per_call(lambda: cg.scan(cols), 1, args.repeat)

    print(f"{'':34}{'us/decision':>12}{'vs legacy':>11}")
    for label, sec in (("legacy engine on_scan", legacy_s), ("compiled step called from Python", step_s),
                       ("compiled, inside the scan kernel", scan_s)):
        print(f"{label:34}{sec * 1e6:12.2f}{legacy_s / sec:10.1f}x")
    print(f"whole history: {n_scans:,} scans in {whole * 1e3:.1f} ms = {n_scans / whole:,.0f} scans/s "
          f"(after compilation; compile/load {cg.seconds:.2f} s, cache {'hit' if cg.cache_hit else 'miss'})")


def scan_arguments(ir: IR, cols: dict[str, np.ndarray], params: list, state0: list, n_scans: int,
                   n_assets: int) -> list:
    """The scan kernel's arguments, prepared once: the loop alone is timed, not the wrapper's allocations."""
    rows = [kernel_array(cols[op.name], op.type) for op in ir.input_leaves(universe=False)]
    universe = [kernel_value(cols[op.name], op.type) for op in ir.input_leaves(universe=True)]
    outs = [np.empty((n_scans,), dtype=ir.ops[i].type.dtype.value) for _, i in ir.canonical_outputs]
    return [n_scans, n_assets, *rows, *universe, *params, *state0, *outs]


if __name__ == "__main__":
    main()
