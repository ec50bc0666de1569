"""Parameter sweeps: P parameter points over the whole history, in one compiled kernel (docs/sweep.md).

Parameters are kernel arguments, so a sweep compiles no new code per point: the swept parameters become
arrays of one value per point (a `Grid`'s columns, violet.tools.grid), and the graph's population kernels
(violet.compile.numba_codegen, `generate_population`) run every point at once. What depends on no swept
parameter and no state is computed once per scan and shared by every point (`shared`, a compiler pass over
the IR); each point then runs the history in one compiled loop, the points spread over the cores (numba's
prange). Points go through in chunks: a chunk's outputs (one value per point and scan) are summarised and
dropped before the next, so memory is bounded by the chunk, never P x T decisions.

Each point gets a summary row: its parameter values; for a graph with a trade stream (a `trade` output
and `trade_*` outputs) the trades, their summed and mean `trade_pnl` and the winners, and, valued in money
on the scans' prices, the backtest's figures (docs/backtest.md); with `means` (or no trade stream), the
mean of every scalar float output (NaN skipped: blue_decision's breakdown is NaN off an entry). Every
figure is computed by compiled code, points spread over threads, with no Python per point: the money by the backtest's own `account` (so a point's
figures are `violet backtest --set`'s, bit for bit), the sums and means by numpy's pairwise summation
(`total`). `chunks` (columns chunk by chunk, for streaming) and `sweep` (rows) are the seam other runners
(violet.tools.distributed) call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numba import njit

from violet.compile.ir import IR, Scalar, input_shape
from violet.compile.numba_backend import CompiledGraph, Population
from violet.compile.numba_codegen import population_outputs
from violet.errors import InputError
from violet.table_io import trade_rows, trade_stream
from violet.tools.backtest import FIGURES, JIT, TRADE_FIELDS, Costs, Ledger, account, backtest, total
from violet.tools.grid import Grid

CHUNK_BYTES = 64 << 20  # a chunk's outputs (points x scans x scalar outputs) stay under this
Columns = dict[str, np.ndarray]


def sweep(cg: CompiledGraph, columns: Mapping[str, np.ndarray], points: Grid | list[dict[str, Scalar]],
          threads: int = 2, accounting: Money | None = None, chunk: int | None = None, means: bool = True
          ) -> list[dict[str, Any]]:
    """One summary row per point, in point order; with `accounting` (`money`), the backtest's figures
    too. Every point names the same parameters; the others keep the graph's values."""
    return [row for part in chunks(cg, columns, points, threads, accounting, chunk, means) for row in rows(part)]


def rows(part: Columns) -> list[dict[str, Any]]:
    """A chunk's columns as rows of Python values."""
    lists = {name: values.tolist() for name, values in part.items()}
    return [dict(zip(lists, values)) for values in zip(*lists.values())]


def chunks(cg: CompiledGraph, columns: Mapping[str, np.ndarray], points: Grid | list[dict[str, Scalar]],
           threads: int = 2, accounting: Money | None = None, chunk: int | None = None, means: bool = True
           ) -> Iterator[Columns]:
    """`sweep`'s rows as columns, one dict per chunk of `chunk` points (by default as many as CHUNK_BYTES of
    outputs holds), in order: each chunk's points run in one call of the population kernel, then their
    figures in compiled loops, on `threads` threads, before the next chunk runs. Without `means`, a graph
    with a trade stream writes and summarises only its stream (no mean of every output): the kernel then
    does only the work the stream needs, about a quarter of BLUE's."""
    grid = points if isinstance(points, Grid) else Grid.of_points(cg.ir, points)
    if not grid.size:
        return
    pop = population(cg, grid.names, means)
    n_rows = input_shape(cg.ir, columns, rows=True)[0]
    size = chunk or max(1, CHUNK_BYTES // max(1, n_rows * 8 * len(population_outputs(cg.ir, pop.outputs))))
    with _numba_threads(threads):
        shared = pop.shared(columns)
        buffers = pop.buffers(min(size, grid.size), n_rows)  # one chunk's outputs, reused by every chunk
        for start in range(0, grid.size, size):
            values = grid.columns(start, start + size)
            outs = pop.run(columns, shared, values, into=buffers)
            yield {**values, **summaries(cg.ir, outs), **(accounting.figures(cg.ir, outs) if accounting else {})}


STREAM = ("trade", *(f"trade_{name}" for name in TRADE_FIELDS))  # what the stream's figures and money read


def has_stream(ir: IR) -> bool:
    """The graph declares a trade stream: a `trade` output and every trade_* field the accounting reads."""
    return set(STREAM) <= set(ir.output_names)


def population(cg: CompiledGraph, names: list[str], means: bool) -> Population:
    """The population kernels a sweep of `names` runs: writing every scalar output (`means`, or no trade
    stream to summarise instead), else the trade stream alone."""
    return cg.population(names, None if means or not has_stream(cg.ir) else STREAM)


@contextmanager
def _numba_threads(threads: int) -> Iterator[None]:
    """Numba's parallel kernels on `threads` cores (at most the ones it started with), restored after."""
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def spread(work: Callable[[int, int], None], n_runs: int) -> None:
    """`work(lo, hi)` over runs 0..n_runs-1, cut in as many consecutive parts as numba's thread count (the
    sweep's cores), each on a thread of its own: the compiled loops release the GIL (nogil), each writes
    only its runs' rows. Threads, not a numba prange: a parallel kernel costs tens of seconds to compile,
    a serial one a few."""
    parts = max(1, min(numba.get_num_threads(), n_runs))
    cuts = [n_runs * k // parts for k in range(parts + 1)]
    if parts == 1:
        work(0, n_runs)
        return
    with ThreadPoolExecutor(max_workers=parts) as pool:
        list(pool.map(lambda k: work(cuts[k], cuts[k + 1]), range(parts)))


def summaries(ir: IR, outs: Mapping[str, np.ndarray]) -> Columns:
    """Each run's summary, runs down the first axis of `outs` (each output P x T): trade-stream figures if
    the graph has one, then each scalar float output's mean (NaN skipped); one compiled loop per thread
    (`spread`)."""
    n_runs = len(next(iter(outs.values())))
    stream = "trade" in outs and "trade_pnl" in outs
    means = [name for name in ir.output_names if name in outs and outs[name].dtype == np.float64
             and outs[name].ndim == 2 and not name.startswith("trade_")]
    none = np.empty((n_runs, 0))
    trade = np.ascontiguousarray(outs["trade"], dtype=np.bool_) if stream else np.empty((n_runs, 0), np.bool_)
    counts, sums, averages = np.empty((n_runs, 2), np.int64), np.empty((n_runs, 2)), np.empty((n_runs, len(means)))
    floats = tuple(np.ascontiguousarray(outs[name]) for name in means) or (none,)
    pnl = outs["trade_pnl"] if stream else none
    spread(lambda lo, hi: _summaries(trade, pnl, floats, counts, sums, averages, lo, hi), n_runs)
    result: Columns = {}
    if stream:
        result.update(trades=counts[:, 0], pnl_sum=sums[:, 0], pnl_mean=sums[:, 1], winners=counts[:, 1])
    return {**result, **{f"mean_{name}": averages[:, k] for k, name in enumerate(means)}}


def summarize(ir: IR, outputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """One run's summary (`summaries` of a single run, its per-row outputs (T,) as one row of P = 1)."""
    one = {name: values[np.newaxis] for name, values in outputs.items() if values.ndim == 1}
    return rows(summaries(ir, one))[0]


@njit(**JIT)
def _summaries(trade: np.ndarray, pnl: np.ndarray, floats: tuple[np.ndarray, ...], counts: np.ndarray,
               sums: np.ndarray, means: np.ndarray, lo: int, hi: int) -> None:
    """For runs lo..hi-1: (trades, winners) and (sum, mean) of `trade_pnl` on the trade rows, and the mean of
    each of the first `means.shape[1]` arrays of `floats` over its values that are not NaN (NaN if none),
    each sum and mean as numpy computes it (`total`)."""
    n_means = means.shape[1]
    for i in range(lo, hi):
        kept = np.empty(max(trade.shape[1], floats[0].shape[1]))
        k, wins = 0, 0
        for t in range(trade.shape[1]):
            if trade[i, t]:
                kept[k] = pnl[i, t]
                wins += kept[k] > 0
                k += 1
        counts[i, 0], counts[i, 1] = k, wins
        sums[i, 0] = total(kept, k)
        sums[i, 1] = sums[i, 0] / k if k else math.nan
        for f in range(n_means):
            values, k = floats[f], 0
            for t in range(values.shape[1]):
                if values[i, t] == values[i, t]:
                    kept[k] = values[i, t]
                    k += 1
            means[i, f] = total(kept, k) / k if k else math.nan


MONEY = ("net_pnl", "total_return", "annualised_return", "max_drawdown", "sharpe", "sortino", "hit_rate", "turnover")


@dataclass(frozen=True)
class Money:
    """The backtest's accounting of every run of a chunk, on one set of scans and costs (`money`)."""

    ledger: Ledger
    costs: Costs
    prices: np.ndarray  # (T, N) as given, for the per-run path
    scan_id: np.ndarray
    ts_us: np.ndarray

    def figures(self, ir: IR, outs: Mapping[str, np.ndarray]) -> Columns:
        """MONEY's figures per run (runs down the first axis of `outs`): each run's trade stream valued by
        `account`, the function `violet backtest` values one run with. A graph whose stream is one lane of
        one position named `trade`/`trade_*` (BLUE's) is read and valued in a compiled loop over the runs;
        any other stream (several lanes, per-asset lanes: table_io.TradeStream) run by run in Python."""
        stream = trade_stream(ir)
        assert stream is not None
        lane = stream.lanes[0]
        if len(stream.lanes) > 1 or lane.per_asset or lane.flag != "trade" or not has_stream(ir):
            return self._per_run(ir, outs)
        trade = np.ascontiguousarray(outs["trade"], dtype=np.bool_)
        fields = [np.ascontiguousarray(outs[f"trade_{f}"], dtype=np.int64 if k < 3 else np.float64)
                  for k, f in enumerate(TRADE_FIELDS)]
        led, c = self.ledger, self.costs
        out, ok = np.empty((len(trade), len(FIGURES))), np.empty(len(trade), np.bool_)
        spread(lambda lo, hi: _accounts(led.prices, led.order, led.sorted_ids, trade, *fields, lane.side, c.capital,
                                        c.fee_bps, c.slippage_bps, c.side, led.funding, led.per_year, out, ok, lo, hi),
               len(trade))
        if not ok.all():
            raise InputError("a trade enters or exits on a scan id that is not in the scans", where="sweep",
                             fix="sweep a graph whose trade_entry_scan and trade_exit_scan are its scan_id")
        return {name: out[:, FIGURES.index(name)] for name in MONEY}

    def _per_run(self, ir: IR, outs: Mapping[str, np.ndarray]) -> Columns:
        """`figures` for any trade stream: each run's trades extracted and valued by `backtest`, one by one."""
        summaries_ = [backtest(self.prices, self.scan_id, self.ts_us,
                               trade_rows(ir, {name: values[i] for name, values in outs.items()}) or {}, self.costs,
                               []).summary for i in range(len(next(iter(outs.values()))))]
        return {name: np.array([s[name] for s in summaries_], dtype=np.float64) for name in MONEY}


def money(columns: Mapping[str, np.ndarray], costs: Costs, price: str = "price") -> Money:
    """Runs' outputs -> the backtest's figures (violet.tools.backtest) on these scans and costs."""
    return Money(Ledger.of(columns[price], columns["scan_id"], columns["ts_us"], costs), costs, columns[price],
                 columns["scan_id"], columns["ts_us"])


@njit(**JIT)
def _accounts(prices: np.ndarray, order: np.ndarray, sorted_ids: np.ndarray, trade: np.ndarray,
              entry_scan: np.ndarray, exit_scan: np.ndarray, asset: np.ndarray, notional: np.ndarray,
              pnl: np.ndarray, declared: int, capital: float, fee_bps: float, slippage_bps: float, side: int,
              funding: np.ndarray, per_year: float, out: np.ndarray, ok: np.ndarray, lo: int, hi: int) -> None:
    """`account` for runs lo..hi-1 (a row of `trade` and of each trade_* output; every trade facing the
    lane's `declared` side, or `side` where that is 0): figures into `out`, and into `ok` whether every
    trade's scans were found."""
    n_rows = trade.shape[1]
    for i in range(lo, hi):
        rows_ = np.flatnonzero(trade[i])
        k = len(rows_)
        e, x, a = np.empty(k, np.int64), np.empty(k, np.int64), np.empty(k, np.int64)
        q, p = np.empty(k), np.empty(k)
        for j in range(k):
            t = rows_[j]
            e[j], x[j], a[j], q[j], p[j] = entry_scan[i, t], exit_scan[i, t], asset[i, t], notional[i, t], pnl[i, t]
        ok[i] = account(prices, order, sorted_ids, e, x, a, q, p, np.full(k, declared, np.int64), capital, fee_bps,
                        slippage_bps, side, funding, per_year, np.empty((3, n_rows)), np.empty((6, k)), out[i])


class Ranking:
    """What a streamed sweep keeps of its rows to report at the end: the k best by `metric` so far (a chunk
    at a time, so never every row) and, for a heatmap, every row's metric value (one number a set)."""

    def __init__(self, metric: str | None, k: int, keep_all: bool = False) -> None:
        self.metric, self.k, self.keep_all = metric, k, keep_all
        self.best: list[dict[str, Any]] = []
        self.values: list[np.ndarray] = []

    def add(self, part: Columns) -> None:
        """Take in one chunk's columns (the first float column is the heatmap's metric, if none was given)."""
        if self.metric is None and self.keep_all:
            self.metric = next(name for name, v in part.items() if v.dtype == np.float64)
        if self.metric is None:
            return
        if self.metric not in part:
            raise InputError(f"no metric {self.metric!r} in a sweep row", where="--metric",
                             fix=f"one of: {', '.join(n for n, v in part.items() if v.dtype == np.float64)}")
        values = part[self.metric]
        best = np.lexsort((-values, np.isnan(values)))[:self.k]  # stable: ties keep the point order
        self.best = top([*self.best, *rows({name: v[best] for name, v in part.items()})], self.metric, self.k)
        if self.keep_all:
            self.values.append(values)

    def lines(self, axes: list[str]) -> list[str]:
        """The k best sets, one line each: the swept parameters, the metric, and the run's return, drawdown
        and trades where the rows have them."""
        assert self.metric is not None
        best = self.best
        extra = [m for m in ("total_return", "max_drawdown", "trades") if best and m in best[0] and m != self.metric]
        return ["  " + "  ".join(f"{name}={row[name]:.6g}" if isinstance(row[name], float) else f"{name}={row[name]}"
                                 for name in [*axes, self.metric, *extra]) for row in best]

    def heatmap(self, grid: Grid, path: str, title: str) -> None:
        """The metric of every point of a 2-D product grid as a heatmap PNG (`heatmap`)."""
        assert self.metric is not None
        heatmap(np.concatenate(self.values), grid.axes, self.metric, path, title)


def top(rows: list[dict[str, Any]], metric: str, k: int) -> list[dict[str, Any]]:
    """The k best rows by `metric` (highest first; NaN last; ties in their order)."""
    return sorted(rows, key=lambda row: (not row[metric] == row[metric], -row[metric]))[:k]


def heatmap(metric_values: np.ndarray, grid: Mapping[str, np.ndarray], metric: str, path: str, title: str) -> None:
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
