"""VIOLET against vectorbt on one parameter grid (issue 12 §5): the same trades, the same PnL, the time.

The strategy is graphs/examples/single_short.toml: short one asset of the real panel when vel_div is
at or below `vd_threshold`, leave at take-profit `tp_pct` or stop-loss `sl_pct`, one position at a time.
It is the nearest strategy both tools express: BLUE's own decision picks the asset every scan (argmax
of the score, non-stablecoins) for one slot shared by all assets, and closes on a time stop (max-hold),
neither of which `Portfolio.from_signals` can say (docs of the comparison: benchmarks/RESULTS.md).

In vectorbt it is the code a quant writes: one close series, a T x P matrix of short entries
(`vel_div <= threshold` per column), `tp_stop` per column, `sl_stop`, a fixed value per order, on
closes only (so a stop fills at the close that crosses it, as the graph's exit does). The grid is
vd_threshold x tp_pct, P points, every point over the whole history.

Checked, per grid point: the closed trades (entry row, exit row) are the same list in both; each
trade's PnL in money (vectorbt's `pnl` against `notional * trade_pnl`) and return agree to 1e-9
relative; the total PnL per point too. With `--fee-bps` the tools charge the exit fee differently
(vectorbt on the exit value, `violet backtest` on the entry notional): the bench checks that the
difference is exactly that, trade by trade.

Timed, side by side in this one run, both producing per point the closed trades and their summed PnL:
warm (compile excluded: each tool run once before, then --repeat runs of each taken in turn, the best
kept) and cold (a fresh Python process per tool that imports it, compiles into an empty Numba cache and
runs the grid once).

Needs vectorbt: `pip install -e '.[bench]'`. Run from the repository root:
    python benchmarks/bench_vectorbt.py --input out/scans.parquet
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GRAPH = Path(__file__).resolve().parent.parent / "graphs" / "examples" / "single_short.toml"
REL_TOL = 1e-9


@dataclass
class Grid:
    """The swept points (vd_threshold varies slowest) and the fixed parameters."""

    thresholds: list[float]
    tps: list[float]
    asset: int
    sl_pct: float
    notional: float
    fee: float

    def points(self) -> list[tuple[float, float]]:
        return [(vd, tp) for vd in self.thresholds for tp in self.tps]


@dataclass
class Trades:
    """Closed trades of every grid point, as flat arrays with the point's number in `point`."""

    point: np.ndarray
    entry: np.ndarray
    exit: np.ndarray
    pnl: np.ndarray
    ret: np.ndarray


def load(scans: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """The graph's input columns from the scans (the universe table beside them) and the symbols."""
    from violet.api import load as load_ir
    from violet.table_io import input_columns, read_table

    universe = read_table(scans.with_name(scans.stem + ".universe.parquet"))
    columns, rejected = input_columns(load_ir(GRAPH), read_table(scans), str(scans), universe)
    assert not rejected.rows, "the scans have rows the graph rejects"
    return columns, universe.column("symbol").to_pylist()


def violet_sets(grid: Grid) -> list[dict[str, float]]:
    return [{"vd_threshold": vd, "tp_pct": tp} for vd, tp in grid.points()]


def violet_compiled(grid: Grid) -> object:
    """The graph with the fixed parameters bound (as `violet sweep --set` does), its scan kernel warmed."""
    from violet.api import compile_graph

    return compile_graph(GRAPH, {"asset": grid.asset, "sl_pct": grid.sl_pct, "notional": grid.notional}).warm("scan")


def violet_run(cg: object, columns: dict[str, np.ndarray], grid: Grid, threads: int) -> list[dict]:
    """`violet sweep`'s own path as its command runs it by default (violet.tools.sweep.sweep without means:
    every point in one call of the graph's population kernel, numba-parallel over the points, writing each
    point's trades on its trade rows only): per point the trades and the summed trade_pnl."""
    from violet.tools.sweep import sweep

    return sweep(cg, columns, violet_sets(grid), threads, means=False)


def violet_trades(cg: object, columns: dict[str, np.ndarray], grid: Grid) -> Trades:
    """Every point's trade stream, for the trade-by-trade check (not timed: the sweep sums it in place)."""
    parts = []
    for k, params in enumerate(violet_sets(grid)):
        out, _ = cg.scan(columns, params)
        at = out["trade"].astype(bool)
        ret = out["trade_pnl"][at]
        parts.append((np.full(at.sum(), k), out["trade_entry_scan"][at], out["trade_exit_scan"][at],
                      out["trade_notional"][at] * ret, ret))
    return Trades(*(np.concatenate(column) for column in zip(*parts)))


def vectorbt_run(close: np.ndarray, vel_div: np.ndarray, grid: Grid) -> tuple[object, np.ndarray, np.ndarray]:
    """The grid in vectorbt as one from_signals call over P columns; per point the closed trades' count and
    summed PnL (what the sweep reports), and the portfolio for the trade-by-trade check."""
    import vectorbt as vbt

    points = grid.points()
    entries = vel_div[:, None] <= np.array([vd for vd, _ in points])[None, :]
    pf = vbt.Portfolio.from_signals(close[:, None], short_entries=entries, tp_stop=np.array([[tp for _, tp in points]]),
                                    sl_stop=grid.sl_pct, size=grid.notional, size_type="value", fees=grid.fee,
                                    init_cash=1e12, freq="1h")
    records = pf.exit_trades.values
    closed = records[records["status"] == 1]
    counts = np.bincount(closed["col"], minlength=len(points))
    sums = np.bincount(closed["col"], weights=closed["pnl"], minlength=len(points))
    return pf, counts, sums


def vectorbt_trades(pf: object) -> Trades:
    records = pf.exit_trades.values
    closed = records[records["status"] == 1]
    order = np.lexsort((closed["entry_idx"], closed["col"]))
    c = closed[order]
    return Trades(c["col"], c["entry_idx"], c["exit_idx"], c["pnl"], c["return"])


def rel_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| / max(|a|, |b|), 0 where both are 0."""
    scale = np.maximum(np.abs(a), np.abs(b))
    return np.divide(np.abs(a - b), scale, out=np.zeros_like(scale), where=scale > 0)


def compare(ours: Trades, theirs: Trades, grid: Grid, open_at_end: int) -> list[str]:
    """The trade-by-trade and per-point agreement, as report lines; raises if the trades differ."""
    order = np.lexsort((ours.entry, ours.point))
    ours = Trades(*(getattr(ours, f)[order] for f in ("point", "entry", "exit", "pnl", "ret")))
    same = (len(ours.point) == len(theirs.point) and (ours.point == theirs.point).all()
            and (ours.entry == theirs.entry).all() and (ours.exit == theirs.exit).all())
    if not same:
        raise SystemExit(f"trades differ: {len(ours.point)} (VIOLET) vs {len(theirs.point)} (vectorbt)")
    points = len(grid.points())
    fee_ours = 2 * grid.notional * grid.fee  # violet backtest: fee on the entry notional, both sides
    fee_theirs = grid.notional * grid.fee * (2 - ours.ret)  # vectorbt: entry value, then exit value q*(1-r)
    pnl_ours, pnl_theirs = ours.pnl - fee_ours, theirs.pnl + fee_theirs - fee_ours
    per_trade = rel_diff(pnl_ours, pnl_theirs)
    ret_diff = rel_diff(ours.ret, theirs.ret) if grid.fee == 0 else np.zeros(1)
    total = rel_diff(np.bincount(ours.point, pnl_ours, points), np.bincount(theirs.point, pnl_theirs, points))
    worst = max(per_trade.max(initial=0), ret_diff.max(initial=0), total.max(initial=0))
    if worst > REL_TOL:
        raise SystemExit(f"PnL differs by {worst:.3g} relative (tolerance {REL_TOL:g})")
    return [f"trades: {len(ours.point):,} closed over {points:,} points, every (point, entry row, exit row) "
            f"the same in both; {open_at_end:,} still open at the end (vectorbt lists them, VIOLET's stream "
            "does not: left out)",
            f"max relative difference: per-trade PnL {per_trade.max(initial=0):.2e}, per-trade return "
            f"{ret_diff.max(initial=0):.2e}, total PnL per point {total.max(initial=0):.2e} (tolerance {REL_TOL:g})"
            + ("" if grid.fee == 0 else "; vectorbt's PnL with its exit fee q*f*(1-r) replaced by q*f")]


def best_of(repeat: int, runs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """The shortest wall time of `repeat` runs of each (each has run once before: compile excluded), the
    runs taken in turn (one of each, then again), so a slow spell of this shared machine falls on both
    tools alike rather than on whichever was being timed then."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: min(seconds) for name, seconds in times.items()}


def cold(tool: str, argv: list[str]) -> float:
    """Wall time of a fresh process that imports `tool`, compiles into an empty Numba cache and runs the grid
    once (its --cold-run below)."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "VIOLET_CACHE_DIR": cache}
        start = time.perf_counter()
        subprocess.run([sys.executable, __file__, *argv, "--cold-run", tool], env=env, check=True)
        return time.perf_counter() - start


def cold_run(tool: str, scans: Path, grid: Grid, threads: int) -> None:
    """One run of the grid in `tool`, from nothing: what `cold` times."""
    columns, _ = load(scans)
    if tool == "violet":
        violet_run(violet_compiled(grid), columns, grid, threads)
    else:
        vectorbt_run(np.ascontiguousarray(columns["price"][:, grid.asset]), columns["vel_div"], grid)


def linspace(text: str) -> list[float]:
    """`lo:hi:n` as n evenly spaced values, both ends in (the sweep's own rule)."""
    from violet.dag.types import DType
    from violet.tools.grid import grid_values

    return [float(v) for v in grid_values("grid", text, DType.F64)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, default=Path("out/scans.parquet"), help="scans built from the real panel")
    ap.add_argument("--symbol", default="BTCUSDT", help="the asset traded")
    ap.add_argument("--thresholds", default="-0.002:-0.04:20", help="vd_threshold values, lo:hi:n")
    ap.add_argument("--tp", default="0.005:0.05:25", help="tp_pct values, lo:hi:n")
    ap.add_argument("--sl", type=float, default=0.02, help="sl_pct, fixed")
    ap.add_argument("--notional", type=float, default=1000.0)
    ap.add_argument("--fee-bps", type=float, default=0.0, help="fee per side (bps); 0 compares PnL exactly")
    ap.add_argument("--threads", type=int, default=2, help="VIOLET's sweep threads")
    ap.add_argument("--repeat", type=int, default=7, help="runs of each tool, taken in turn; the best is kept")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold (fresh process, empty cache) runs")
    ap.add_argument("--cold-run", choices=["violet", "vectorbt"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    columns, symbols = load(args.input)
    grid = Grid(linspace(args.thresholds), linspace(args.tp), symbols.index(args.symbol), args.sl, args.notional,
                args.fee_bps / 1e4)
    if args.cold_run:
        cold_run(args.cold_run, args.input, grid, args.threads)
        return
    import vectorbt as vbt

    close = np.ascontiguousarray(columns["price"][:, grid.asset])
    points, rows = len(grid.points()), len(close)
    print(f"{args.symbol} (asset {grid.asset}), {rows:,} scans; grid {len(grid.thresholds)} vd_threshold x "
          f"{len(grid.tps)} tp_pct = {points:,} points; sl_pct {grid.sl_pct}, notional {grid.notional:g}, "
          f"fee {args.fee_bps:g} bps; vectorbt {vbt.__version__}")

    cg = violet_compiled(grid)
    summary = violet_run(cg, columns, grid, args.threads)
    pf, counts, sums = vectorbt_run(close, columns["vel_div"], grid)
    ours = violet_trades(cg, columns, grid)
    assert (np.array([row["trades"] for row in summary]) == counts).all()
    records = pf.exit_trades.values
    print("\n".join(compare(ours, vectorbt_trades(pf), grid, int((records["status"] == 0).sum()))))

    runs: dict[str, Callable[[], object]] = {
        f"VIOLET sweep, {t} thread{'s' * (t > 1)}": lambda t=t: violet_run(cg, columns, grid, t)
        for t in sorted({1, args.threads})}
    runs["vectorbt from_signals + trades"] = lambda: vectorbt_run(close, columns["vel_div"], grid)
    warm = best_of(args.repeat, runs)
    print(f"\nwarm (compiled before; best of {args.repeat}), {points:,} points x {rows:,} scans:")
    base = warm["vectorbt from_signals + trades"]
    for name, seconds in warm.items():
        print(f"  {name:34s} {seconds * 1e3:9.1f} ms  {points * rows / seconds:14,.0f} point-scans/s  "
              f"{base / seconds:6.2f}x vectorbt")
    if not args.no_cold:
        argv = [f"--input={args.input}", f"--symbol={args.symbol}", f"--thresholds={args.thresholds}",
                f"--tp={args.tp}", f"--sl={args.sl}", f"--notional={args.notional}", f"--fee-bps={args.fee_bps}",
                f"--threads={args.threads}"]
        times = {tool: cold(tool, argv) for tool in ("violet", "vectorbt")}
        print("cold (fresh process: imports, empty Numba cache so everything compiles, scans read, one run):")
        print(f"  VIOLET {times['violet']:.2f} s, vectorbt {times['vectorbt']:.2f} s: "
              f"{times['vectorbt'] / times['violet']:.2f}x vectorbt")


if __name__ == "__main__":
    main()
