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

from violet.errors import InputError, quote
from violet.files import is_file, shown
from violet.table_io import parquet_names, read_table

SHARED_PANEL = Path(__file__).resolve().parents[3] / "shared" / "data" / "binance_perp_1h_close.parquet"


@dataclass(frozen=True)
class Panel:
    """Closes (bars x symbols), their UTC times in microseconds, the symbols, and where each is listed.

    `listed[t, i]` is false where the file has no close (null: the symbol is not listed yet, any more,
    or not traded that hour); `close` is NaN there. A close that is present but NaN, infinite or not
    positive is listed: it is poison, and the scan that carries it is rejected at the boundary."""

    close: np.ndarray
    ts_us: np.ndarray
    symbols: list[str]
    source: str
    listed: np.ndarray


def read_panel(path: Path) -> Panel:
    """A panel from Parquet: index `ts` (or a `ts` column), one numeric column per symbol.

    Refused, naming what is wrong: a file that cannot be read, two columns of one symbol, a
    column that is not numbers, no symbol at all, timestamps that repeat or go back in time
    (the correlation windows and every scan's ts_us assume bars in strictly increasing time)."""
    if not is_file(path):
        raise InputError("no such price panel", where=shown(path), fix="give --prices PANEL.parquet, or --generate")
    names = parquet_names(path)
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise InputError(f"symbol column(s) given twice: {quote(', '.join(duplicated))}", where=shown(path),
                         fix="keep one column per symbol")
    table = read_table(path)
    df = table.to_pandas()
    if "ts" in df.columns:
        df = df.set_index("ts")
    if not isinstance(df.index, pd.DatetimeIndex):
        raise InputError("the panel's index is not a timestamp", where=shown(path), fix="index the closes by `ts` (UTC)")
    not_numbers = [str(c) for c, dt in df.dtypes.items() if not (pd.api.types.is_float_dtype(dt) or pd.api.types.is_integer_dtype(dt))]
    if not_numbers:
        raise InputError(f"column(s) that are not numbers: {quote(', '.join(not_numbers))}", where=shown(path),
                         fix="a panel holds one float column of closes per symbol (and the ts index)")
    if not len(df.columns):
        raise InputError("the panel has no symbol columns", where=shown(path), fix="add one column of closes per symbol")
    ts_us = df.index.as_unit("us").asi8.astype(np.int64)
    _check_increasing(ts_us, df.index, shown(path))
    symbols = [str(c) for c in df.columns]
    listed = np.column_stack([table.column(name).is_valid().to_numpy(zero_copy_only=False) for name in symbols])
    return Panel(df.to_numpy(dtype=np.float64, na_value=np.nan), ts_us, symbols, str(path), listed)


def _check_increasing(ts_us: np.ndarray, index: pd.DatetimeIndex, where: str) -> None:
    """Every bar strictly after the one before: name the first that is not (repeated or earlier)."""
    back = np.flatnonzero(np.diff(ts_us) <= 0)
    if len(back):
        k = int(back[0]) + 1
        how = "repeats" if ts_us[k] == ts_us[k - 1] else "is earlier than"
        raise InputError(f"bar {k}'s timestamp {index[k]} {how} bar {k - 1}'s ({index[k - 1]})", where=where,
                         fix="one row per bar, sorted by time, no duplicates")


def generate_panel(n_symbols: int = 60, n_bars: int = 600, seed: int = 0) -> Panel:
    """A synthetic universe, deterministic from `seed`.

    Hourly geometric random walks driven by a common market factor whose weight
    drifts (so the correlation structure, and its largest eigenvalue, move);
    three stablecoins pinned near 1.0 (USDCUSDT, FDUSDUSDT, USDEUSDT); one
    listing spike (a +150% hour, log return 0.92... 1.25) on the fourth symbol;
    one flat series (a constant close) on the fifth; a late listing (the sixth
    symbol has no close before a third of the bars) and a delisting (the seventh
    has none after three quarters), so the universe changes over time.
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
    listed = np.ones(close.shape, dtype=bool)
    listed[: n_bars // 3, 5] = False  # a late listing
    listed[3 * n_bars // 4:, 6] = False  # a delisting
    close[~listed] = np.nan
    symbols = [stables.get(k, f"SYN{k:03d}USDT") for k in range(n_symbols)]
    ts_us = 1_758_654_000_000_000 + np.arange(n_bars, dtype=np.int64) * 3_600_000_000
    return Panel(close, ts_us, symbols, f"generated universe ({n_symbols} symbols x {n_bars} bars, seed {seed})", listed)


def default_panel() -> Panel:
    """The shared real panel when it is there, else the generated universe (never a silent skip)."""
    return read_panel(SHARED_PANEL) if SHARED_PANEL.is_file() else generate_panel()
