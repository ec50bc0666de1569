"""Backtest accounting: a graph's trade stream valued in money, bar by bar (docs/backtest.md).

A decision graph with a trade stream (a `trade` output and `trade_entry_scan`, `trade_exit_scan`,
`trade_asset`, `trade_notional`, `trade_pnl`) closes trades; this module values them on the scans' own
prices: each open trade is marked to market every bar, a closed one books the graph's own `trade_pnl`
times its notional, fees and slippage are charged in basis points of the notional on entry and on
exit, and an optional per-asset funding rate is paid or received every bar a trade is held. From the
equity curve come the run's figures: total and annualised return, maximum drawdown, Sharpe and
Sortino on the bar returns, hit rate, average hold, turnover, and a breakdown per symbol.

Trades still open after the last scan are not in the stream, and are not valued.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from violet.errors import InputError

YEAR_US = 365.25 * 24 * 3600 * 1e6
TRADE_FIELDS = ("entry_scan", "exit_scan", "asset", "notional", "pnl")


@dataclass(frozen=True)
class Costs:
    """What trading costs, and which way the trades face where the decision record declares no side."""

    capital: float = 10_000.0
    fee_bps: float = 0.0  # per side, of the notional
    slippage_bps: float = 0.0  # per side, of the notional
    side: int = -1  # a trade of no declared side: -1 a short, +1 a long


@dataclass
class Backtest:
    """An equity curve (one value per bar), the trades valued, the run's figures and a breakdown per symbol."""

    curve: dict[str, np.ndarray]
    trades: dict[str, list[Any]]
    summary: dict[str, float]
    per_symbol: dict[str, dict[str, float]] = field(default_factory=dict)

    def render(self) -> str:
        s = self.summary
        lines = [f"equity {s['start_equity']:,.2f} -> {s['end_equity']:,.2f}: total {s['total_return']:+.4%}, "
                 f"annualised {s['annualised_return']:+.4%} over {s['bars']:,.0f} bars",
                 f"max drawdown {s['max_drawdown']:.4%}, Sharpe {s['sharpe']:.3f}, Sortino {s['sortino']:.3f} "
                 f"(bar returns, {s['bars_per_year']:,.0f} bars a year)",
                 f"trades {s['trades']:,.0f}: hit rate {s['hit_rate']:.2%}, average hold {s['average_hold_bars']:.1f} "
                 f"bars, turnover {s['turnover']:.2f}x capital; fees {s['fees']:,.2f}, slippage {s['slippage']:,.2f}, "
                 f"funding {s['funding']:+,.2f}"]
        top = sorted(self.per_symbol.items(), key=lambda kv: -abs(kv[1]["net"]))[:10]
        lines += [f"  {sym:<16} {v['trades']:>5,.0f} trades  net {v['net']:+12,.2f}  hit {v['hit_rate']:.0%}"
                  for sym, v in top]
        return "\n".join(lines)


def backtest(prices: np.ndarray, scan_ids: np.ndarray, ts_us: np.ndarray, trades: Mapping[str, Sequence[Any]],
             costs: Costs, symbols: Sequence[str], funding: np.ndarray | None = None) -> Backtest:
    """Value `trades` (the graph's trade stream) over T bars of `prices` (T x N) with `costs`; `funding`
    (T x N, a rate per bar, positive: longs pay shorts) is optional. The arithmetic is `book` and
    `figures`, compiled, the same functions the sweep runs per instance (violet.tools.sweep)."""
    missing = [f for f in TRADE_FIELDS if f not in trades]
    if missing:
        raise InputError(f"the trade stream lacks trade_{missing[0]}", where="backtest",
                         fix="a backtest needs a graph with trade, trade_entry_scan, trade_exit_scan, trade_asset, "
                             "trade_notional and trade_pnl outputs")
    ledger = Ledger.of(prices, scan_ids, ts_us, costs, funding)
    fields = [np.ascontiguousarray(trades[f], dtype=np.int64 if k < 3 else np.float64)
              for k, f in enumerate(TRADE_FIELDS)]
    n_rows, n_trades = len(scan_ids), len(fields[0])
    curve = np.empty((3, n_rows))
    valued = np.empty((len(VALUED), n_trades))
    summary = np.empty(len(FIGURES))
    sides = np.ascontiguousarray(trades.get("side", np.zeros(n_trades, np.int64)), dtype=np.int64)
    ok = account(*ledger.args, *fields, sides, costs.capital, costs.fee_bps, costs.slippage_bps, costs.side,
                 curve, valued, summary)
    if not ok:
        raise InputError("a trade enters or exits on a scan id that is not in the scans", where="backtest",
                         fix="value the trades on the scans the graph ran on")
    out: dict[str, list[Any]] = {"entry_scan": fields[0].tolist(), "exit_scan": fields[1].tolist(),
                                 "asset": fields[2].tolist(), "notional": fields[3].tolist()}
    out.update({name: (values.astype(np.int64) if name == "bars" else values).tolist()
                for name, values in zip(VALUED, valued)})
    curves = {"scan_id": scan_ids, "ts_us": ts_us, **dict(zip(("equity", "bar_return", "drawdown"), curve))}
    return Backtest(curves, out, dict(zip(FIGURES, summary.tolist())), _per_symbol(out, symbols))


# ---------------------------------------------------------------- the compiled accounting

JIT = {"cache": True, "error_model": "numpy", "nogil": True}  # never fastmath: no reassociation, no FMA
VALUED = ("bars", "gross", "fees", "slippage", "funding", "net")  # per trade, beside its stream fields
FIGURES = ("start_equity", "end_equity", "bars", "bars_per_year", "total_return", "annualised_return", "max_drawdown",
           "sharpe", "sortino", "trades", "hit_rate", "average_hold_bars", "turnover", "fees", "slippage", "funding",
           "net_pnl")


@dataclass(frozen=True)
class Ledger:
    """What valuing trades needs of the scans, prepared once for every run (or sweep instance) on them: each
    asset's prices as one contiguous row (a trade is marked on one asset's bars), where each scan id's row is,
    the bars a year and the funding rates (by asset too)."""

    by_asset: np.ndarray  # (N, T)
    rows: Rows
    per_year: float
    funding: np.ndarray  # (N, T); (0, 0): no funding

    @classmethod
    def of(cls, prices: np.ndarray, scan_ids: np.ndarray, ts_us: np.ndarray, costs: Costs,
           funding: np.ndarray | None = None) -> Ledger:
        steps = np.diff(ts_us)
        step = float(np.median(steps)) if len(steps) else math.nan
        return cls(np.ascontiguousarray(np.asarray(prices, dtype=np.float64).T), Rows.of(scan_ids),
                   YEAR_US / step if step > 0 else math.nan,
                   np.zeros((0, 0)) if funding is None else np.ascontiguousarray(np.asarray(funding, np.float64).T))

    @property
    def args(self) -> tuple[Any, ...]:
        """`account`'s leading arguments."""
        return (self.by_asset, *self.rows.args, self.funding, self.per_year)


@dataclass(frozen=True)
class Rows:
    """Where each scan id is: the last row holding it. A table indexed by id (from the lowest) where the ids
    are dense enough for one (scan ids counted up, as `violet scans build` writes them), else the ids sorted,
    searched (`_rows`)."""

    low: int
    table: np.ndarray  # table[id - low]: the row, -1 for none; empty: search `sorted_ids`
    order: np.ndarray
    sorted_ids: np.ndarray

    @classmethod
    def of(cls, scan_ids: np.ndarray) -> Rows:
        ids = np.asarray(scan_ids, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        low = int(ids.min()) if len(ids) else 0
        span = int(ids.max()) - low + 1 if len(ids) else 0
        table = np.empty(0, np.int64)
        if span <= 4 * len(ids) + 1024:
            table = np.full(span, -1, np.int64)
            table[ids - low] = np.arange(len(ids))  # a repeated id: its last row wins
        return cls(low, table, order, np.ascontiguousarray(ids[order]))

    @property
    def args(self) -> tuple[Any, ...]:
        return self.low, self.table, self.order, self.sorted_ids


@njit(**JIT)
def _block(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's pairwise summation of a block of n <= 128 values (its leaves): under 8, in order from -0.0;
    else 8 accumulators, combined in pairs, then the rest in order. Read through a slice by indices LLVM
    can see are not negative (no wraparound test), so it adds the 8 accumulators as vectors, each lane the
    same additions in the same order."""
    b = a[lo:lo + n]
    if n < 8:
        res = -0.0
        for i in range(n):
            res += b[i]
        return res
    r0, r1, r2, r3, r4, r5, r6, r7 = b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
    for i in range(8, n - n % 8, 8):
        r0 += b[i]
        r1 += b[i + 1]
        r2 += b[i + 2]
        r3 += b[i + 3]
        r4 += b[i + 4]
        r5 += b[i + 5]
        r6 += b[i + 6]
        r7 += b[i + 7]
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(n - n % 8, n):
        res += b[i]
    return res


@njit(**JIT)
def _pairwise(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's pairwise summation of a[lo:lo+n] (its float64 add.reduce), bit for bit: blocks of up to 128
    values (`_block`), larger spans the sum of their halves (cut at a multiple of 8). Written with a stack
    of its own, not recursion: Numba's disk cache does not hold recursive functions safely."""
    if n <= 128:
        return _block(a, lo, n)
    los, ns = np.empty(64, np.int64), np.empty(64, np.int64)
    stage, left = np.zeros(64, np.int64), np.empty(64)
    top, value = 0, 0.0
    los[0], ns[0] = lo, n
    while True:
        m = ns[top]
        half = m // 2 - (m // 2) % 8
        if m <= 128:  # a leaf: its value goes back to the frame below
            value = _block(a, los[top], m)
            top -= 1
        elif stage[top] == 0:  # descend into the left half
            stage[top] = 1
            top += 1
            los[top], ns[top], stage[top] = los[top - 1], half, 0
            continue
        elif stage[top] == 1:  # the left half's value is in: descend into the right half
            left[top], stage[top] = value, 2
            top += 1
            los[top], ns[top], stage[top] = los[top - 1] + half, m - half, 0
            continue
        else:  # both halves in
            value = left[top] + value
            top -= 1
        if top < 0:
            return value


@njit(**JIT)
def total(a: np.ndarray, n: int) -> float:
    """The sum of a[:n] as numpy's `sum` computes it (0.0 plus the pairwise sum)."""
    return 0.0 + _pairwise(a, 0, n)


@njit(**JIT)
def _rows(low: int, table: np.ndarray, order: np.ndarray, sorted_ids: np.ndarray, ids: np.ndarray,
          out: np.ndarray) -> bool:
    """The row of each scan id (`Rows`: the last row holding it); False if one is not a scan's."""
    for k in range(len(ids)):
        if table.size:
            j = ids[k] - low
            out[k] = table[j] if 0 <= j < table.size else -1
            if out[k] < 0:
                return False
            continue
        j = np.searchsorted(sorted_ids, ids[k], side="right") - 1
        if j < 0 or sorted_ids[j] != ids[k]:
            return False
        out[k] = order[j]
    return True


@njit(**JIT)
def book(by_asset: np.ndarray, entry: np.ndarray, exit_: np.ndarray, asset: np.ndarray, notional: np.ndarray,
         pnl: np.ndarray, sides: np.ndarray, fee_bps: float, slippage_bps: float, undeclared: int,
         funding: np.ndarray, cash: np.ndarray, marks: np.ndarray, valued: np.ndarray, flows: np.ndarray) -> None:
    """Book each trade (rows `entry`, `exit_`) into `cash` (by bar) and `marks` (while open), and write its
    VALUED figures (docs/backtest.md, the rules); a trade faces its declared side (`sides`: +1 long, -1
    short), or `undeclared` where that is 0; `flows` is scratch of T values. Prices and funding by asset
    (N x T): a trade's marks read one contiguous row, independent bars LLVM computes several at a time."""
    rate = (fee_bps + slippage_bps) / 1e4
    for k in range(len(entry)):
        e, x, a, q = entry[k], exit_[k], asset[k], notional[k]
        side = sides[k] if sides[k] != 0 else undeclared
        gross = q * pnl[k]  # the graph's own return on the trade, in money
        fees, slip = 2 * q * fee_bps / 1e4, 2 * q * slippage_bps / 1e4
        cash[e] -= q * rate
        cash[x] += gross - q * rate
        sq, pe = side * q, by_asset[a, e]
        held, prices = marks[e:x], by_asset[a, e:x]
        for t in range(x - e):
            held[t] += sq * (prices[t] - pe) / pe
        paid = 0.0
        if funding.shape[0]:
            rates = funding[a]
            for j in range(x - e):  # each bar held, at the bar's rate
                flows[j] = -side * q * rates[e + 1 + j]
                cash[e + 1 + j] += flows[j]
            paid = total(flows, x - e)
        valued[0, k], valued[1, k], valued[2, k], valued[3, k] = x - e, gross, fees, slip
        valued[4, k], valued[5, k] = paid, gross - fees - slip + paid


@njit(**JIT)
def figures(cash: np.ndarray, marks: np.ndarray, capital: float, per_year: float, valued: np.ndarray,
            notional: np.ndarray, curve: np.ndarray, out: np.ndarray) -> None:
    """The equity curve (curve rows: equity, bar return, drawdown) and the run's FIGURES into `out`
    (docs/backtest.md), each as the numpy expression the docs give computes it, bit for bit. The sequential
    work (the booked sum, the running peak, the worst drawdown) is apart from the divisions, which are
    independent bar by bar, so LLVM computes several at a time."""
    n = len(cash)
    equity, r, drawdown = curve[0], curve[1], curve[2]
    booked, peak = 0.0, capital
    for t in range(n):  # selects, not branches: a new peak comes at random
        booked = cash[t] if t == 0 else booked + cash[t]
        e = capital + booked + marks[t]
        equity[t] = e
        peak = e if peak == peak and (e != e or e > peak) else peak
        drawdown[t] = peak  # the peak so far, for now
    if n:
        r[0] = equity[0] / capital - 1.0
    for t in range(1, n):
        r[t] = equity[t] / equity[t - 1] - 1.0
    for t in range(n):
        drawdown[t] = 1.0 - equity[t] / drawdown[t]
    worst = drawdown[0] if n else 0.0  # the first, then a larger one (or a NaN, which stays)
    for t in range(1, n):
        d = drawdown[t]
        worst = d if worst == worst and (d != d or d > worst) else worst
    mean = total(r, n) / n if n else math.nan
    squares, lows = np.empty(n), np.empty(n)
    for t in range(n):
        squares[t] = (r[t] - mean) * (r[t] - mean)
        low = r[t] if r[t] != r[t] or r[t] < 0.0 else 0.0
        lows[t] = low * low
    std = math.sqrt(total(squares, n) / (n - 1)) if n > 1 else math.nan
    downside = math.sqrt(total(lows, n) / n) if n else math.nan
    ret = equity[n - 1] / capital - 1.0 if n else 0.0
    trades = valued.shape[1]
    wins = 0
    for k in range(trades):
        wins += valued[5, k] > 0
    out[0], out[1], out[2], out[3], out[4] = capital, equity[n - 1] if n else capital, n, per_year, ret
    out[5] = (1.0 + ret) ** (per_year / n) - 1.0 if n and ret > -1.0 else -1.0
    out[6] = worst
    out[7] = mean / std * math.sqrt(per_year) if std != 0.0 and std == std else math.nan
    out[8] = mean / downside * math.sqrt(per_year) if downside != 0.0 else math.nan
    out[9] = trades
    out[10] = wins / trades if trades else math.nan
    out[11] = total(valued[0], trades) / trades if trades else math.nan
    out[12] = 2.0 * total(notional, trades) / capital
    out[13], out[14], out[15] = total(valued[2], trades), total(valued[3], trades), total(valued[4], trades)
    out[16] = total(valued[5], trades)


@njit(**JIT)
def account(by_asset: np.ndarray, low: int, table: np.ndarray, order: np.ndarray, sorted_ids: np.ndarray,
            funding: np.ndarray, per_year: float, entry_scan: np.ndarray, exit_scan: np.ndarray, asset: np.ndarray,
            notional: np.ndarray, pnl: np.ndarray, sides: np.ndarray, capital: float, fee_bps: float,
            slippage_bps: float, side: int, curve: np.ndarray, valued: np.ndarray, out: np.ndarray) -> bool:
    """One run's trades valued (`book`) and its curve and figures (`figures`): the whole accounting of a
    run, for `backtest` and for each instance of a sweep (the scans' part first: `Ledger.args`). False if a
    trade's scan id is not a scan's."""
    n = by_asset.shape[1]
    entry, exit_ = np.empty(len(entry_scan), np.int64), np.empty(len(exit_scan), np.int64)
    if not (_rows(low, table, order, sorted_ids, entry_scan, entry) and _rows(low, table, order, sorted_ids,
                                                                              exit_scan, exit_)):
        return False
    cash, marks = np.zeros(n), np.zeros(n)
    book(by_asset, entry, exit_, asset, notional, pnl, sides, fee_bps, slippage_bps, side, funding, cash, marks,
         valued, np.empty(n))
    figures(cash, marks, capital, per_year, valued, notional, curve, out)
    return True


def _per_symbol(trades: Mapping[str, list[Any]], symbols: Sequence[str]) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for asset, net in zip(trades["asset"], trades["net"]):
        row = table.setdefault(symbols[asset] if 0 <= asset < len(symbols) else str(asset),
                               {"trades": 0.0, "net": 0.0, "wins": 0.0})
        row["trades"] += 1
        row["net"] += net
        row["wins"] += net > 0
    return {sym: {**v, "hit_rate": v["wins"] / v["trades"]} for sym, v in table.items()}


def draw(result: Backtest, path: str, title: str) -> None:
    """Equity and drawdown, one above the other, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    curve = result.curve
    when = curve["ts_us"].astype("datetime64[us]")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=[3, 1])
    top.plot(when, curve["equity"], lw=1.0, color="#4c1d95")
    top.set_ylabel("equity")
    top.set_title(title)
    bottom.fill_between(when, -100 * curve["drawdown"], 0, color="#b91c1c", lw=0)
    bottom.set_ylabel("drawdown %")
    locator = mdates.AutoDateLocator()
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
