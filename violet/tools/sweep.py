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
import os
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
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

CHUNK_BYTES = 64 << 20  # two chunks' outputs (points x scans x scalar outputs) stay under this
PIPELINED = 6  # from this many chunks the pipeline (its threads and hand-offs paid for): 500 BLUE points, three
# chunks, take 10 ms with each step on both cores in turn and 15-25 ms pipelined
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
    outputs holds, two chunks' at once), in order: each chunk's points run in one call of the population
    kernel on `threads` cores, then its figures in compiled loops (that release the GIL). With more than one
    thread and PIPELINED chunks or more these are a pipeline: the kernels run on one thread of their own, the
    figures on another, and the caller takes (writes) the rows on its own, so no core waits on a step's
    slowest thread or on the writing. Without `means`, a graph with a trade stream writes and summarises only
    its stream, on its trade rows (no mean of every output): the kernel then does only the work the stream
    needs, about a quarter of BLUE's."""
    grid = points if isinstance(points, Grid) else Grid.of_points(cg.ir, points)
    if not grid.size:
        return
    # OpenMP's threads (numba's threading layer here) would spin between chunks, on the core the figures use
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when OpenMP starts: the first parallel kernel
    pop = population(cg, grid.names, means)
    n_rows = input_shape(cg.ir, columns, rows=True)[0]
    size = chunk or max(1, CHUNK_BYTES // max(1, 2 * n_rows * 8 * len(population_outputs(cg.ir, pop.outputs))))
    with _numba_threads(threads):
        shared = pop.shared(columns)
    shape = (min(size, grid.size), n_rows)
    buffers = [pop.lend(*shape) for _ in range(2)]  # each reused by every other chunk
    try:
        starts = range(0, grid.size, size)

        def kernel(k: int, start: int, freed: Future[Columns] | None = None
                   ) -> tuple[Columns, Mapping[str, np.ndarray]]:
            if freed is not None:
                freed.result()  # the chunk two before is valued: its buffers are free
            with _numba_threads(threads):
                values = grid.columns(start, start + size)
                return values, pop.run(columns, shared, values, into=buffers[k % 2])

        def figures(values: Columns, outs: Mapping[str, np.ndarray], cores: int = 1) -> Columns:
            with _numba_threads(cores):
                trades = Trades.of(cg.ir, outs)  # once: the summaries and the money both read it
                money_ = accounting.figures(cg.ir, outs, trades) if accounting else {}
                return {**values, **summaries(cg.ir, outs, trades), **money_}

        if threads == 1 or len(starts) < PIPELINED:  # each step on every core in turn
            yield from (figures(*kernel(k, start), threads) for k, start in enumerate(starts))
            return
        with ThreadPoolExecutor(max_workers=1) as kernels, ThreadPoolExecutor(max_workers=1) as beside:
            recent: deque[Future[Columns]] = deque(maxlen=2)  # the last two chunks' figures: who holds the buffers
            ahead: deque[Future[Columns]] = deque()
            for k, start in enumerate(starts):
                ran = kernels.submit(kernel, k, start, recent[0] if len(recent) == 2 else None)
                valued = beside.submit(lambda ran=ran: figures(*ran.result()))
                recent.append(valued)
                ahead.append(valued)
                if len(ahead) > 3:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()
    finally:
        pop.give_back(*shape, *buffers)  # nothing yielded is a view of them


STREAM = ("trade", *(f"trade_{name}" for name in TRADE_FIELDS))  # what the stream's figures and money read


def has_stream(ir: IR) -> bool:
    """The graph declares a trade stream: a `trade` output and every trade_* field the accounting reads."""
    return set(STREAM) <= set(ir.output_names)


def population(cg: CompiledGraph, names: list[str], means: bool) -> Population:
    """The population kernels a sweep of `names` runs: writing every scalar output on every row (`means`, or
    no trade stream to summarise instead), else the trade stream alone, on the rows where `trade` is true."""
    if means or not has_stream(cg.ir):
        return cg.population(names)
    return cg.population(names, STREAM, where="trade")


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
    """`work(lo, hi)` over runs 0..n_runs-1, cut in as many consecutive parts as numba's thread count (of the
    calling thread: numba's setting is per thread), each on a thread of its own: the compiled loops release
    the GIL (nogil), each writes only its runs' rows. Threads, not a numba prange: a parallel kernel costs
    tens of seconds to compile, a serial one a few."""
    parts = max(1, min(numba.get_num_threads(), n_runs))
    cuts = [n_runs * k // parts for k in range(parts + 1)]
    if parts == 1:
        work(0, n_runs)
        return
    with ThreadPoolExecutor(max_workers=parts) as pool:
        list(pool.map(lambda k: work(cuts[k], cuts[k + 1]), range(parts)))


@dataclass(frozen=True)
class Trades:
    """Each run's closed trades, one after another: run i's are the first `count[i]` values of row i of each
    field (TRADE_FIELDS: entry and exit scan and asset as int64, notional and pnl as float64), in row order.
    What a sweep's trade figures and money read, whichever way the kernel wrote its outputs."""

    count: np.ndarray
    fields: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, ir: IR, outs: Mapping[str, np.ndarray]) -> Trades | None:
        """The runs' trades: as the population wrote them where `trade` is true (a count per run), or taken
        from rows of every scan (a (P, T) `trade` flag); None without a `trade` flag and `trade_pnl`."""
        if "trade" not in outs or "trade_pnl" not in outs:
            return None
        names = [f"trade_{f}" for f in TRADE_FIELDS]
        arrays = [np.ascontiguousarray(outs[n], dtype=np.int64 if k < 3 else np.float64) if n in outs else None
                  for k, n in enumerate(names)]
        if outs["trade"].ndim == 1:
            return cls(outs["trade"], tuple(a for a in arrays if a is not None))
        flag = np.ascontiguousarray(outs["trade"], dtype=np.bool_)
        count = flag.sum(axis=1, dtype=np.int64)
        return cls(count, tuple(_one_after_another(flag, a, np.empty_like(a)) for a in arrays if a is not None))

    @property
    def pnl(self) -> np.ndarray:
        return self.fields[-1]


@njit(**JIT)
def _one_after_another(flag: np.ndarray, values: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Each run's values on its flagged rows, moved to the front of its row of `out`, in row order."""
    for i in range(flag.shape[0]):
        m = 0
        for t in range(flag.shape[1]):
            if flag[i, t]:
                out[i, m] = values[i, t]
                m += 1
    return out


def summaries(ir: IR, outs: Mapping[str, np.ndarray], trades: Trades | None = None) -> Columns:
    """Each run's summary, runs down the first axis of `outs`: trade-stream figures if the graph has one, then
    each scalar float output's mean (NaN skipped) where the outputs are every row's ((P, T) each); one compiled
    loop per thread (`spread`). `trades`: `Trades.of(ir, outs)`, if the caller has it already."""
    trades = trades or Trades.of(ir, outs)
    means = [name for name in ir.output_names if name in outs and outs[name].dtype == np.float64
             and outs[name].ndim == 2 and not name.startswith("trade_")]
    n_runs = len(next(iter(outs.values())))
    none = np.empty((n_runs, 0))
    count = trades.count if trades else np.zeros(n_runs, np.int64)
    pnl = trades.pnl if trades else none
    counts, sums, averages = np.empty((n_runs, 2), np.int64), np.empty((n_runs, 2)), np.empty((n_runs, len(means)))
    floats = tuple(np.ascontiguousarray(outs[name]) for name in means) or (none,)
    spread(lambda lo, hi: _summaries(count, pnl, floats, counts, sums, averages, lo, hi), n_runs)
    result: Columns = {}
    if trades:
        result.update(trades=counts[:, 0], pnl_sum=sums[:, 0], pnl_mean=sums[:, 1], winners=counts[:, 1])
    return {**result, **{f"mean_{name}": averages[:, k] for k, name in enumerate(means)}}


def summarize(ir: IR, outputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """One run's summary (`summaries` of a single run, its per-row outputs (T,) as one row of P = 1)."""
    one = {name: values[np.newaxis] for name, values in outputs.items() if values.ndim == 1}
    return rows(summaries(ir, one))[0]


@njit(**JIT)
def _summaries(count: np.ndarray, pnl: np.ndarray, floats: tuple[np.ndarray, ...], counts: np.ndarray,
               sums: np.ndarray, means: np.ndarray, lo: int, hi: int) -> None:
    """For runs lo..hi-1: (trades, winners) and (sum, mean) of their trades' pnl (`count[i]` of row i of `pnl`),
    and the mean of each of the first `means.shape[1]` arrays of `floats` over its values that are not NaN
    (NaN if none), each sum and mean as numpy computes it (`total`)."""
    n_means = means.shape[1]
    kept = np.empty(floats[0].shape[1])
    for i in range(lo, hi):
        k, wins = count[i], 0
        for j in range(k):
            wins += pnl[i, j] > 0
        counts[i, 0], counts[i, 1] = k, wins
        sums[i, 0] = total(pnl[i], k) if k else 0.0
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

    def figures(self, ir: IR, outs: Mapping[str, np.ndarray], trades: Trades | None = None) -> Columns:
        """MONEY's figures per run (runs down the first axis of `outs`): each run's trade stream valued by
        `account`, the function `violet backtest` values one run with. A graph whose stream is one lane of
        one position named `trade`/`trade_*` (BLUE's) is read and valued in a compiled loop over the runs;
        any other stream (several lanes, per-asset lanes: table_io.TradeStream) run by run in Python.
        `trades`: `Trades.of(ir, outs)`, if the caller has it already."""
        stream = trade_stream(ir)
        assert stream is not None
        lane = stream.lanes[0]
        if len(stream.lanes) > 1 or lane.per_asset or lane.flag != "trade" or not has_stream(ir):
            return self._per_run(ir, outs)
        trades = trades or Trades.of(ir, outs)
        assert trades is not None
        led, c = self.ledger, self.costs
        out, ok = np.empty((len(trades.count), len(FIGURES))), np.empty(len(trades.count), np.bool_)
        spread(lambda lo, hi: _accounts(led.args, trades.count, *trades.fields, lane.side, c.capital, c.fee_bps,
                                        c.slippage_bps, c.side, out, ok, lo, hi), len(trades.count))
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
def _accounts(ledger: tuple, count: np.ndarray, entry_scan: np.ndarray, exit_scan: np.ndarray,  # type: ignore[type-arg]
              asset: np.ndarray, notional: np.ndarray, pnl: np.ndarray, declared: int, capital: float, fee_bps: float,
              slippage_bps: float, side: int, out: np.ndarray, ok: np.ndarray, lo: int, hi: int) -> None:
    """`account` for runs lo..hi-1 (their `count[i]` trades, `Trades`; every trade facing the lane's `declared`
    side, or `side` where that is 0) on the scans of `ledger` (`Ledger.args`): figures into `out`, and into
    `ok` whether every trade's scans were found."""
    sides = np.full(entry_scan.shape[1], declared, np.int64)
    curve = np.empty((3, ledger[0].shape[1]))
    for i in range(lo, hi):
        k = count[i]
        ok[i] = account(*ledger, entry_scan[i, :k], exit_scan[i, :k], asset[i, :k], notional[i, :k], pnl[i, :k],
                        sides[:k], capital, fee_bps, slippage_bps, side, curve, np.empty((6, k)), out[i])


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
