"""Close-price panels: the real one from Parquet, or a documented generated universe.

A panel is a table of hourly closes: a UTC timestamp index and one float64
column per symbol. The generated universe stands in where the shared Binance
file is absent (a clone elsewhere): it is deterministic from its seed and has
what real data has, so every rule of the builder is exercised.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from violet.errors import InputError

SHARED_PANEL = Path(__file__).resolve().parents[3] / "shared" / "data" / "binance_perp_1h_close.parquet"


@dataclass(frozen=True)
class Panel:
    """Closes (bars x symbols), their UTC times in microseconds, and the symbols."""

    close: np.ndarray
    ts_us: np.ndarray
    symbols: list[str]
    source: str


def read_panel(path: Path) -> Panel:
    """A panel from Parquet: index `ts` (or a `ts` column), one float column per symbol."""
    if not path.is_file():
        raise InputError("no such price panel", where=str(path), fix="give --prices PANEL.parquet, or --generate")
    df = pd.read_parquet(path)
    if "ts" in df.columns:
        df = df.set_index("ts")
    if not isinstance(df.index, pd.DatetimeIndex):
        raise InputError("the panel's index is not a timestamp", where=str(path), fix="index the closes by `ts` (UTC)")
    if not df.index.is_monotonic_increasing:
        raise InputError("the panel's timestamps are not increasing", where=str(path), fix="sort the panel by time")
    ts_us = df.index.as_unit("us").asi8.astype(np.int64)
    return Panel(df.to_numpy(dtype=np.float64), ts_us, [str(c) for c in df.columns], str(path))


def generate_panel(n_symbols: int = 60, n_bars: int = 600, seed: int = 0) -> Panel:
    """A synthetic universe, deterministic from `seed`.

    Hourly geometric random walks driven by a common market factor whose weight
    drifts (so the correlation structure, and its largest eigenvalue, move);
    three stablecoins pinned near 1.0 (USDCUSDT, FDUSDUSDT, USDEUSDT); one
    listing spike (a +150% hour, log return 0.92... 1.25) on the fourth symbol;
    one flat series (a constant close) on the fifth.
    """
    rng = np.random.default_rng(seed)
    beta = 0.5 + 0.4 * np.sin(np.linspace(0, 6 * np.pi, n_bars))[:, None]  # market weight drifts over time
    market = rng.normal(0, 0.01, (n_bars, 1))
    own = rng.normal(0, 0.01, (n_bars, n_symbols))
    log_ret = beta * market + own
    log_ret[n_bars // 3, 3] = 1.25  # a listing spike
    close = 10.0 * np.exp(np.cumsum(log_ret, axis=0)) * rng.uniform(0.1, 10, n_symbols)
    stables = {0: "USDCUSDT", 1: "FDUSDUSDT", 2: "USDEUSDT"}
    for k in stables:
        close[:, k] = 1.0 + rng.normal(0, 1e-4, n_bars)
    close[:, 4] = 7.0  # a flat series
    symbols = [stables.get(k, f"SYN{k:03d}USDT") for k in range(n_symbols)]
    ts_us = 1_758_654_000_000_000 + np.arange(n_bars, dtype=np.int64) * 3_600_000_000
    return Panel(close, ts_us, symbols, f"generated universe ({n_symbols} symbols x {n_bars} bars, seed {seed})")


def default_panel() -> Panel:
    """The shared real panel when it is there, else the generated universe (never a silent skip)."""
    return read_panel(SHARED_PANEL) if SHARED_PANEL.is_file() else generate_panel()
