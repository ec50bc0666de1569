"""Parameter sweeps: P parameter sets over the whole history, in one compiled kernel (docs/sweep.md).

Parameters are kernel arguments, so a sweep compiles no new code per set: the swept parameters become
arrays of one value per set, and the graph's population kernels (violet.compile.numba_codegen,
`generate_population`) run every set at once. What depends on no swept parameter and no state is
computed once per scan and shared by every set (`shared`, a compiler pass over the IR); each set then
runs the history in one compiled loop, the sets spread over the cores (numba's prange). Sets go
through in chunks: a chunk's outputs (one value per set and scan) are summarised and dropped before the
next, so memory is bounded by the chunk, never P x T decisions.

Each set gets a summary row: its parameter values; for a graph with a trade stream (a `trade` output and
`trade_*` outputs) the trades, their summed and mean `trade_pnl` and the winners, and, valued in money on
the scans' prices, the backtest's figures (docs/backtest.md); and the mean of every scalar float output
(NaN skipped: blue_decision's breakdown is NaN off an entry). `sweep` (all rows) and `chunks` (rows chunk
by chunk, for streaming) are the seam other runners (violet.tools.distributed) call.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

import numba
import numpy as np

from violet.compile.ir import IR, Scalar, input_shape
from violet.compile.numba_backend import CompiledGraph
from violet.compile.numba_codegen import population_outputs
from violet.dag.types import DType
from violet.errors import InputError
from violet.tools.backtest import Costs, backtest
from violet.table_io import trade_rows


def grid_values(name: str, text: str, dtype: DType) -> list[str]:
    """The values one `--grid` item names, as text: `a,b,c`, or `lo:hi:n` (n evenly spaced, both ends in)."""
    if text.count(":") == 2:
        parts = text.split(":")
        try:
            lo, hi, count = Decimal(parts[0]), Decimal(parts[1]), int(parts[2])
        except (InvalidOperation, ValueError):
            count = 0
        if count < 2 or dtype != DType.F64:
            raise InputError(f"bad range {text!r} for '{name}'", where="--grid",
                             fix="write lo:hi:n with n >= 2 for a float64 parameter, or list the values: a,b,c")
        # in decimal, then each point to its nearest double: -0.01:-0.1:10 gives -0.02, not -0.020000000000000004
        return [repr(float(lo + (hi - lo) * k / (count - 1))) for k in range(count)]
    return [v.strip() for v in text.split(",") if v.strip()]


def parameter_sets(grid: Mapping[str, list[Scalar]]) -> list[dict[str, Scalar]]:
    """Every combination of the grid's values, the last parameter varying fastest."""
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*grid.values())]


Accounting = Callable[[Mapping[str, np.ndarray]], dict[str, float]]

CHUNK_BYTES = 256 << 20  # a chunk's outputs (sets x scans x scalar outputs) stay under this


def sweep(cg: CompiledGraph, columns: Mapping[str, np.ndarray], sets: list[dict[str, Scalar]],
          threads: int = 2, accounting: Accounting | None = None, chunk: int | None = None) -> list[dict[str, Any]]:
    """One summary row per parameter set, in the order of `sets`; with `accounting` (a set's outputs -> its
    figures in money, see `money`), those figures too. Every set names the same parameters; the others
    keep the graph's values."""
    return [row for part in chunks(cg, columns, sets, threads, accounting, chunk) for row in part]


def chunks(cg: CompiledGraph, columns: Mapping[str, np.ndarray], sets: list[dict[str, Scalar]], threads: int = 2,
           accounting: Accounting | None = None, chunk: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """`sweep`'s rows, one list per chunk of `chunk` sets (by default as many as CHUNK_BYTES of outputs
    holds), in order: each chunk's instances run in one call of the population kernel on `threads` cores,
    its summaries (and accounting, on `threads` threads) computed before the next chunk runs."""
    if not sets:
        return
    names = list(sets[0])
    if any(list(s) != names for s in sets):
        raise ValueError("every parameter set must name the same parameters, in the same order")
    pop = cg.population(names)
    n_rows = input_shape(cg.ir, columns, rows=True)[0]
    size = chunk or max(1, CHUNK_BYTES // max(1, n_rows * 8 * len(population_outputs(cg.ir))))
    with _numba_threads(threads), ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        shared = pop.shared(columns)
        for start in range(0, len(sets), size):
            part = sets[start:start + size]
            outs = pop.run(columns, shared, {name: _column(cg.ir, name, [s[name] for s in part]) for name in names})

            def row(k: int, part: list[dict[str, Scalar]] = part, outs: dict[str, np.ndarray] = outs
                    ) -> dict[str, Any]:
                outputs = {name: values[k] for name, values in outs.items()}
                return {**part[k], **summarize(cg.ir, outputs), **(accounting(outputs) if accounting else {})}

            yield list(pool.map(row, range(len(part))))


def _column(ir: IR, name: str, values: list[Scalar]) -> np.ndarray:
    """One swept parameter's values, one per set, as the kernel's array of the parameter's type."""
    return np.array(values, dtype=next(p.type.dtype.value for p in ir.params if p.name == name))


@contextmanager
def _numba_threads(threads: int) -> Iterator[None]:
    """Numba's parallel kernels on `threads` cores (at most the ones it started with), restored after."""
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def summarize(ir: IR, outputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """A run's summary: trade-stream figures if the graph has one, then each scalar float output's mean."""
    row: dict[str, Any] = {}
    if "trade" in outputs and "trade_pnl" in outputs:
        pnl = outputs["trade_pnl"][outputs["trade"].astype(bool)]
        row.update(trades=len(pnl), pnl_sum=float(pnl.sum()), pnl_mean=float(pnl.mean()) if len(pnl) else np.nan,
                   winners=int((pnl > 0).sum()))
    for name in ir.output_names:
        values = outputs.get(name)
        if values is not None and values.dtype == np.float64 and values.ndim == 1 and not name.startswith("trade_"):
            finite = values[~np.isnan(values)]
            row[f"mean_{name}"] = float(finite.mean()) if len(finite) else np.nan
    return row


MONEY = ("net_pnl", "total_return", "annualised_return", "max_drawdown", "sharpe", "sortino", "hit_rate", "turnover")


def money(ir: IR, columns: Mapping[str, np.ndarray], costs: Costs, symbols: list[str], price: str = "price"
          ) -> Accounting:
    """A set's outputs -> the backtest's figures (violet.tools.backtest) on the same scans and costs."""
    def account(outputs: Mapping[str, np.ndarray]) -> dict[str, float]:
        stream = trade_rows(ir, outputs)
        assert stream is not None
        summary = backtest(columns[price], columns["scan_id"], columns["ts_us"], stream, costs, symbols).summary
        return {name: summary[name] for name in MONEY}
    return account


class Ranking:
    """What a streamed sweep keeps of its rows to report at the end: the k best by `metric` so far (a chunk
    at a time, so never every row) and, for a heatmap, every row's metric value (one number a set)."""

    def __init__(self, metric: str | None, k: int, keep_all: bool = False) -> None:
        self.metric, self.k, self.keep_all = metric, k, keep_all
        self.best: list[dict[str, Any]] = []
        self.values: list[float] = []

    def add(self, rows: list[dict[str, Any]]) -> None:
        """Take in one chunk's rows; the first names the columns (and the heatmap's metric, if none was given)."""
        if self.metric is None and self.keep_all:
            self.metric = next(k for k, v in rows[0].items() if isinstance(v, float))
        if self.metric is not None:
            self.best = top([*self.best, *rows], self.metric, self.k)
            if self.keep_all:
                self.values += [row[self.metric] for row in rows]

    def lines(self, axes: list[str]) -> list[str]:
        """The k best sets, one line each: the swept parameters, the metric, and the run's return, drawdown
        and trades where the rows have them."""
        assert self.metric is not None
        rows = self.best
        extra = [m for m in ("total_return", "max_drawdown", "trades") if rows and m in rows[0] and m != self.metric]
        return ["  " + "  ".join(f"{name}={row[name]:.6g}" if isinstance(row[name], float) else f"{name}={row[name]}"
                                 for name in [*axes, self.metric, *extra]) for row in rows]

    def heatmap(self, grid: Mapping[str, list[Scalar]], path: str, title: str) -> None:
        """The metric of every set of a 2-D grid as a heatmap PNG (`heatmap`)."""
        assert self.metric is not None
        heatmap(np.array(self.values, dtype=float), grid, self.metric, path, title)


def top(rows: list[dict[str, Any]], metric: str, k: int) -> list[dict[str, Any]]:
    """The k best rows by `metric` (highest first; NaN last)."""
    if rows and metric not in rows[0]:
        raise InputError(f"no metric {metric!r} in a sweep row", where="--metric",
                         fix=f"one of: {', '.join(n for n in rows[0] if isinstance(rows[0][n], float))}")
    return sorted(rows, key=lambda row: (not row[metric] == row[metric], -row[metric]))[:k]


def heatmap(metric_values: np.ndarray, grid: Mapping[str, list[Scalar]], metric: str, path: str, title: str) -> None:
    """A 2-D grid's `metric` as a coloured table, the first parameter down, the second across (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (down, ys), (across, xs) = grid.items()
    values = metric_values.reshape(len(ys), len(xs))
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(xs), 1.0 + 0.45 * len(ys)))
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(xs)), [f"{x:g}" if isinstance(x, float) else str(x) for x in xs], rotation=45)
    ax.set_yticks(range(len(ys)), [f"{y:g}" if isinstance(y, float) else str(y) for y in ys])
    ax.set_xlabel(across)
    ax.set_ylabel(down)
    ax.set_title(f"{title}: {metric}")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
