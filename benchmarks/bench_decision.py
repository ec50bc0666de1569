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

from violet.api import compile_graph
from violet.compile.ir import IR
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

    cg = compile_graph(REPO / "graphs" / "blue_decision.toml")
    ir = cg.ir
    cols, source = load_scans(args.scans, ir)
    n_scans, n_assets = cols["price"].shape
    print(f"scans: {source}: {n_scans:,} scans x {n_assets} assets")

    # compiled step from Python, as the reactor calls it: the graph bound once, each scan's values given
    bound = cg.bind({spec.name: cols[spec.name] for spec in ir.inputs if spec.universe})
    per_row = {spec.name for spec in ir.inputs if not spec.universe}
    rows = [{name: cols[name][t] for name in per_row} for t in range(n_scans)]

    def step_loop() -> None:
        state = bound.initial_state()
        for scan in rows:
            state = bound.step(scan, state)[1]

    step_s = time_per_call(step_loop, n_scans, args.repeat)
    scan_s = time_per_call(bound.scan_call({name: cols[name] for name in per_row}), n_scans, args.repeat)

    legacy_n = min(args.legacy_scans, n_scans)
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


if __name__ == "__main__":
    main()
