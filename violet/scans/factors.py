"""The sizing factors and dc_status/posture of each scan, joined as of the scan's time from a factors table.

A factors table has a `ts_us` column (when each row became known, UTC microseconds) and any of the
factor columns. Each factor is joined on its own: a scan at time t takes the factor's latest non-null
value at or before t, never one after (a value published later was not known when the scan was
decided). A factor with no value yet, or whose latest value is older than `max_age_us`, is neutral on
that scan; the stale ones are named in the scan's `stale_factors` column and counted in the report, so
a feed that stopped is seen rather than silently sized with an old number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from violet.errors import InputError, quote

NEUTRAL = {"acb_boost": 1.0, "acb_beta": 0.0, "mc_scale": 1.0, "ob_mult": 1.0, "esof_score": 0.0,
           "dc_status": "NEUTRAL", "posture": "APEX"}
FACTORS = tuple(NEUTRAL)
DEFAULT_MAX_AGE_S = 7200.0  # two hourly bars: an hourly feed that missed one update is still fresh

_INTEGERS = (pa.types.is_integer, "integers")
_NUMBERS = (lambda t: pa.types.is_integer(t) or pa.types.is_floating(t), "numbers")
_NAMES = (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), "strings (enum names)")
FACTOR_TYPES = {"ts_us": _INTEGERS, **{name: _NUMBERS if isinstance(value, float) else _NAMES
                                       for name, value in NEUTRAL.items()}}


@dataclass(frozen=True)
class AsOf:
    """A checked factors table and the age beyond which a factor's value is stale."""

    table: pa.Table
    max_age_us: int

    @classmethod
    def of(cls, table: pa.Table, max_age_s: float = DEFAULT_MAX_AGE_S) -> AsOf:
        if not (max_age_s >= 0 and math.isfinite(max_age_s)):
            raise InputError(f"--factor-max-age is {max_age_s!r}, not a number of seconds >= 0", where="--factors",
                             fix="give the age in seconds beyond which a factor is stale")
        check_factors(table)
        return cls(table, int(max_age_s * 1_000_000))


@dataclass(frozen=True)
class Joined:
    """Per-scan factor columns, the names stale on each scan, and per factor how many scans were stale."""

    columns: dict[str, object]
    stale: list[str]
    stale_counts: dict[str, int]


def join_factors(ts: np.ndarray, factors: AsOf | None) -> Joined:
    """Each factor as of each scan time `ts` (neutral without a table, a value yet, or a fresh value)."""
    n = len(ts)
    columns: dict[str, object] = {name: neutral_column(name, n) for name in FACTORS}
    stale = np.zeros((n, len(FACTORS)), dtype=bool)
    if factors is not None:
        for k, name in enumerate(FACTORS):
            if name in factors.table.column_names:
                columns[name], stale[:, k] = _as_of(ts, factors, name)
    labels = [",".join(name for name, hit in zip(FACTORS, row) if hit) for row in stale.tolist()]
    return Joined(columns, labels, {name: int(stale[:, k].sum()) for k, name in enumerate(FACTORS) if stale[:, k].any()})


def neutral_column(name: str, n: int) -> np.ndarray | list[str]:
    value = NEUTRAL[name]
    return np.full(n, value) if isinstance(value, float) else [str(value)] * n


def _as_of(ts: np.ndarray, factors: AsOf, name: str) -> tuple[np.ndarray | list[str], np.ndarray]:
    """One factor's latest non-null value at or before each time, and where it is stale (then neutral)."""
    table = factors.table.select(["ts_us", name]).filter(pc.is_valid(factors.table.column(name)))
    order = np.argsort(table.column("ts_us").to_numpy(zero_copy_only=False), kind="stable")
    known = table.column("ts_us").to_numpy(zero_copy_only=False)[order].astype(np.int64)
    values = np.array(table.column(name).to_pylist(), dtype=object)[order]
    at = np.searchsorted(known, ts, side="right") - 1  # the last row at or before each scan; -1: none yet
    have = at >= 0
    stale = have & (ts - known[np.maximum(at, 0)] > factors.max_age_us)
    use = have & ~stale
    out = neutral_column(name, len(ts))
    picked = values[at[use]] if len(values) else values
    if isinstance(out, list):
        for row, value in zip(np.flatnonzero(use).tolist(), picked.tolist()):
            out[row] = value
        return out, stale
    out[use] = picked.astype(np.float64)
    return out, stale


def check_factors(factors: pa.Table) -> None:
    """A factors table is keyed by distinct integer ts_us, and holds only known factors of their
    types: numbers for the five scales, names (strings) for dc_status and posture. A misspelt
    column would otherwise be ignored and its factor left neutral without a word."""
    names = factors.column_names
    if "ts_us" not in names:
        raise InputError("a factors table needs a ts_us column", where="--factors", fix="key each row by ts_us")
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise InputError(f"column(s) given twice: {quote(', '.join(repeated))}", where="--factors", fix="keep one of each")
    unknown = [c for c in names if c not in FACTOR_TYPES]
    if unknown:
        raise InputError(f"unknown factor column(s) {quote(', '.join(unknown))}", where="--factors",
                         fix=f"the factors are: {', '.join(FACTORS)} (keyed by ts_us)")
    for name in names:
        fits, want = FACTOR_TYPES[name]
        if not fits(factors.column(name).type):
            raise InputError(f"column {name} is {factors.column(name).type}, not {want}", where="--factors",
                             fix=f"store {name} as {want}")
    ts = factors.column("ts_us")
    if ts.null_count or len(pc.unique(ts)) != len(ts):
        raise InputError("ts_us is empty or repeated in some rows", where="--factors",
                         fix="one row per time a factor became known, each with its ts_us")


def with_factors(scans: pa.Table, factors: AsOf) -> tuple[pa.Table, Joined]:
    """A scans table with its factor columns (and stale_factors) replaced by the as-of join on its ts_us."""
    joined = join_factors(scans.column("ts_us").to_numpy(zero_copy_only=False).astype(np.int64), factors)
    for name, values in {**joined.columns, "stale_factors": joined.stale}.items():
        column = pa.array(values)
        if name in scans.column_names:
            scans = scans.set_column(scans.column_names.index(name), name, column)
        else:
            scans = scans.append_column(name, column)
    return scans, joined
