"""Parameter sweeps: the whole history once per parameter set, each run in one compiled loop.

Parameters are kernel arguments, so a sweep compiles nothing new: every set runs
the same scan kernel, which releases the GIL (`nogil=True`), spread over threads.
Each set gets a summary row: its parameter values; for a graph with a trade
stream (a `trade` output and `trade_*` outputs) the trades, their summed and
mean `trade_pnl` and the winners; and the mean of every scalar float output
(NaN skipped: blue_decision's breakdown is NaN off an entry).
"""

from __future__ import annotations

import itertools
from decimal import Decimal, InvalidOperation
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from violet.compile.ir import IR, Scalar
from violet.compile.numba_backend import CompiledGraph
from violet.dag.types import DType
from violet.errors import InputError


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


def sweep(cg: CompiledGraph, columns: Mapping[str, np.ndarray], sets: list[dict[str, Scalar]],
          threads: int = 2) -> list[dict[str, Any]]:
    """One summary row per parameter set, in the order of `sets`."""
    def one(params: dict[str, Scalar]) -> dict[str, Any]:
        outputs, _ = cg.scan(columns, params)
        return {**params, **summarize(cg.ir, outputs)}

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        return list(pool.map(one, sets))


def summarize(ir: IR, outputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """A run's summary: trade-stream figures if the graph has one, then each scalar float output's mean."""
    row: dict[str, Any] = {}
    if "trade" in outputs and "trade_pnl" in outputs:
        pnl = outputs["trade_pnl"][outputs["trade"].astype(bool)]
        row.update(trades=len(pnl), pnl_sum=float(pnl.sum()), pnl_mean=float(pnl.mean()) if len(pnl) else np.nan,
                   winners=int((pnl > 0).sum()))
    for name in ir.output_names:
        values = outputs[name]
        if values.dtype == np.float64 and values.ndim == 1 and not name.startswith("trade_"):
            finite = values[~np.isnan(values)]
            row[f"mean_{name}"] = float(finite.mean()) if len(finite) else np.nan
    return row
