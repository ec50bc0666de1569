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
    (T x N, a rate per bar, positive: longs pay shorts) is optional."""
    missing = [f for f in TRADE_FIELDS if f not in trades]
    if missing:
        raise InputError(f"the trade stream lacks trade_{missing[0]}", where="backtest",
                         fix="a backtest needs a graph with trade, trade_entry_scan, trade_exit_scan, trade_asset, "
                             "trade_notional and trade_pnl outputs")
    row_of = {int(s): t for t, s in enumerate(scan_ids.tolist())}
    cash = np.zeros(len(scan_ids))  # booked at each bar: realized pnl, costs, funding
    marks = np.zeros(len(scan_ids))  # unrealized value of the trades open at each bar
    valued = _value_trades(prices, row_of, trades, costs, funding, cash, marks)
    equity = costs.capital + np.cumsum(cash) + marks
    curve = _curve(equity, scan_ids, ts_us, costs.capital)
    summary = _summary(curve, valued, costs, ts_us)
    return Backtest(curve, valued, summary, _per_symbol(valued, symbols))


def _value_trades(prices: np.ndarray, row_of: Mapping[int, int], trades: Mapping[str, Sequence[Any]], costs: Costs,
                  funding: np.ndarray | None, cash: np.ndarray, marks: np.ndarray) -> dict[str, list[Any]]:
    """Book each trade into `cash` (by bar) and `marks` (while open); the trades as valued."""
    rate = (costs.fee_bps + costs.slippage_bps) / 1e4
    out: dict[str, list[Any]] = {k: [] for k in ("entry_scan", "exit_scan", "asset", "notional", "bars", "gross",
                                                 "fees", "slippage", "funding", "net")}
    declared = trades.get("side", np.zeros(len(trades["pnl"]), dtype=np.int64))
    for (entry_scan, exit_scan, asset, notional, pnl), faces in zip(zip(*(trades[f] for f in TRADE_FIELDS)), declared):
        e, x, a, q = row_of[int(entry_scan)], row_of[int(exit_scan)], int(asset), float(notional)
        side = int(faces) or costs.side
        gross = q * float(pnl)  # the graph's own return on the trade, in money
        fees, slip = 2 * q * costs.fee_bps / 1e4, 2 * q * costs.slippage_bps / 1e4
        cash[e] -= q * rate
        cash[x] += gross - q * rate
        held = prices[e:x, a]
        marks[e:x] += side * q * (held - prices[e, a]) / prices[e, a]
        paid = 0.0
        if funding is not None:
            flows = -side * q * funding[e + 1:x + 1, a]  # each bar held, at the bar's rate
            cash[e + 1:x + 1] += flows
            paid = float(flows.sum())
        for key, value in zip(out, (int(entry_scan), int(exit_scan), a, q, x - e, gross, fees, slip, paid,
                                    gross - fees - slip + paid)):
            out[key].append(value)
    return out


def _curve(equity: np.ndarray, scan_ids: np.ndarray, ts_us: np.ndarray, capital: float) -> dict[str, np.ndarray]:
    before = np.concatenate([[capital], equity[:-1]])
    peak = np.maximum.accumulate(np.concatenate([[capital], equity]))[1:]
    return {"scan_id": scan_ids, "ts_us": ts_us, "equity": equity, "bar_return": equity / before - 1.0,
            "drawdown": 1.0 - equity / peak}


def _summary(curve: Mapping[str, np.ndarray], trades: Mapping[str, list[Any]], costs: Costs,
             ts_us: np.ndarray) -> dict[str, float]:
    r, equity = curve["bar_return"], curve["equity"]
    bars = len(r)
    steps = np.diff(ts_us)
    per_year = YEAR_US / float(np.median(steps)) if len(steps) and np.median(steps) > 0 else math.nan
    total = equity[-1] / costs.capital - 1.0 if bars else 0.0
    std = float(np.std(r, ddof=1)) if bars > 1 else math.nan
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2))) if bars else math.nan
    net = np.asarray(trades["net"], dtype=float)
    return {
        "start_equity": costs.capital, "end_equity": float(equity[-1]) if bars else costs.capital,
        "bars": float(bars), "bars_per_year": per_year, "total_return": total,
        "annualised_return": (1.0 + total) ** (per_year / bars) - 1.0 if bars and total > -1.0 else -1.0,
        "max_drawdown": float(curve["drawdown"].max()) if bars else 0.0,
        "sharpe": float(np.mean(r)) / std * math.sqrt(per_year) if std and std == std else math.nan,
        "sortino": float(np.mean(r)) / downside * math.sqrt(per_year) if downside else math.nan,
        "trades": float(len(net)), "hit_rate": float((net > 0).mean()) if len(net) else math.nan,
        "average_hold_bars": float(np.mean(trades["bars"])) if len(net) else math.nan,
        "turnover": 2.0 * float(np.sum(trades["notional"])) / costs.capital,
        "fees": float(np.sum(trades["fees"])), "slippage": float(np.sum(trades["slippage"])),
        "funding": float(np.sum(trades["funding"])), "net_pnl": float(net.sum()),
    }


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
