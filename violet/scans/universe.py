"""The universe table: symbols, the stablecoin mask and each symbol's exchange leverage limit.

A symbol is a stablecoin when its base asset (the symbol less its USDT/USDC
quote) is one of ALPHA_SPEC.md's stablecoins, or when it is a pair of two of
them (USDCUSDT). Leverage limits come from an optional file of
`symbol,max_leverage`; a symbol not in it gets the default (20).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from violet.dag.types import INT64_MAX
from violet.errors import InputError, quote
from violet.table_io import read_table

STABLECOINS = ("USDT", "USDC", "BUSD", "TUSD", "DAI", "FDUSD", "USDP", "USDD", "PYUSD", "USDE")
QUOTES = ("USDT", "USDC", "BUSD")
DEFAULT_MAX_LEVERAGE = 20


def base_asset(symbol: str) -> str:
    """The symbol less its quote currency (BTCUSDT -> BTC); a leading 1000 multiplier is kept."""
    for currency in QUOTES:
        if symbol.endswith(currency) and len(symbol) > len(currency):
            return symbol[: -len(currency)]
    return symbol


def is_stable(symbol: str) -> bool:
    return base_asset(symbol.upper()) in STABLECOINS


def universe_table(symbols: list[str], limits: Path | None = None) -> pa.Table:
    """index, symbol, stable, exchange_max_leverage for each symbol, in panel order."""
    max_lev = {s: DEFAULT_MAX_LEVERAGE for s in symbols}
    if limits is not None:
        table = read_table(limits)
        if not {"symbol", "max_leverage"} <= set(table.column_names):
            raise InputError("a leverage-limits table needs columns symbol, max_leverage", where=str(limits))
        listed = table.column("symbol").to_pylist()
        repeated = sorted({str(s) for s in listed if listed.count(s) > 1})
        if repeated:
            raise InputError(f"symbol(s) listed twice: {quote(', '.join(repeated))}", where=str(limits),
                             fix="give each symbol one max_leverage")
        for s, m in zip(listed, table.column("max_leverage").to_pylist()):
            if s in max_lev:
                if not isinstance(m, int) or not 1 <= m <= INT64_MAX:
                    raise InputError(f"max_leverage of {s} is {quote(m)}, not an integer >= 1", where=str(limits))
                max_lev[s] = m
    return pa.table({"index": np.arange(len(symbols), dtype=np.int64), "symbol": symbols,
                     "stable": [is_stable(s) for s in symbols],
                     "exchange_max_leverage": np.array([max_lev[s] for s in symbols], dtype=np.int64)})
