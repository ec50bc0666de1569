"""Parameter grids: which P parameter points a sweep evaluates (docs/sweep.md, "Grids").

A grid is named on the command line (`--grid name=a,b,c`, `--grid name=lo:hi:n`) or in a TOML file
(`--grid GRID.toml`): per parameter a list of values, a range (decimal-exact, like `lo:hi:n`), or
random draws (uniform or log-uniform floats, integers, a choice among values) from a seed, so the same
file always gives the same points. The points are the product of the axes (the last varying fastest),
or, with `samples = P`, a joint random design: every parameter drawn P times, point k taking each
parameter's k-th draw.

A `Grid` never lists its points: `columns(start, stop)` computes the parameter values of points
start..stop-1 from the axes (a product of a million points is a few axes of a hundred values), so the
sweep builds one chunk's columns at a time. Every value is checked as `--set` checks one (its type, an
exact value, the parameter's refinement) where it is written, and every mistake in a file is one
message naming the file and the key.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np

from violet.compile.ir import IR, Scalar
from violet.dag.schema import NAME_RE
from violet.dag.types import DType
from violet.errors import InputError, quote

INT64_MAX = 2**63 - 1
MAX_AXIS = 100_000_000  # values one axis may hold (its array is in memory; the product's points are not)
RANDOM = ("uniform", "log-uniform", "integers", "choice")
RANGE_KEYS = {"lo", "hi", "n", "step"}
RANDOM_KEYS = {"random", "lo", "hi", "n", "values", "seed"}
FILE_KEYS = {"params", "seed", "samples"}


@dataclass(frozen=True)
class Grid:
    """P parameter points: the product of `axes` (each a typed array of values, the last axis varying
    fastest), or, `joint`, point k = every axis's k-th value (axes of one length P)."""

    axes: Mapping[str, np.ndarray]
    joint: bool = False

    @property
    def names(self) -> list[str]:
        return list(self.axes)

    @property
    def size(self) -> int:
        """P, the number of points."""
        lengths = [len(v) for v in self.axes.values()]
        return (lengths[0] if lengths else 0) if self.joint else math.prod(lengths)

    def columns(self, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """The values of points start..stop-1, one array per parameter (of the parameter's dtype)."""
        stop = self.size if stop is None else min(stop, self.size)
        if self.joint:
            return {name: values[start:stop] for name, values in self.axes.items()}
        index = np.arange(start, max(start, stop), dtype=np.int64)
        out: dict[str, np.ndarray] = {}
        stride = 1
        for name, values in reversed(list(self.axes.items())):
            out[name] = values[(index // stride) % len(values)]
            stride *= len(values)
        return {name: out[name] for name in self.axes}

    def points(self, start: int = 0, stop: int | None = None) -> list[dict[str, Scalar]]:
        """Points start..stop-1 as dicts of Python values (for a few points: a run, a test)."""
        cols = self.columns(start, stop)
        n = len(next(iter(cols.values()))) if cols else 0
        return [{name: values[k].item() for name, values in cols.items()} for k in range(n)]

    @classmethod
    def of_points(cls, ir: IR, points: list[dict[str, Scalar]]) -> Grid:
        """Points given one by one (each naming the same parameters, in the same order) as a joint grid."""
        names = list(points[0]) if points else []
        if any(list(p) != names for p in points):
            raise ValueError("every parameter point must name the same parameters, in the same order")
        return cls({name: np.array([p[name] for p in points], dtype=param_dtype(ir, name)) for name in names},
                   joint=True)


def param_dtype(ir: IR, name: str) -> Any:
    """The numpy dtype of parameter `name`'s kernel argument."""
    return next(p.type.dtype.value for p in ir.params if p.name == name)


def product(ir: IR, axes: Mapping[str, list[Scalar]]) -> Grid:
    """The product grid of typed value lists (as `--grid` items give them)."""
    return Grid({name: np.array(values, dtype=param_dtype(ir, name)) for name, values in axes.items()})


def grid_values(name: str, text: str, dtype: DType) -> list[str]:
    """The values one `--grid` item names, as text: `a,b,c`, or `lo:hi:n` (n evenly spaced, both ends in)."""
    if text.count(":") == 2:
        parts = text.split(":")
        try:
            lo, hi, count = Decimal(parts[0]), Decimal(parts[1]), int(parts[2])
        except (InvalidOperation, ValueError):
            count = 0
        if count < 2 or dtype != DType.F64 or not (lo.is_finite() and hi.is_finite()):
            raise InputError(f"bad range {text!r} for '{name}'", where="--grid",
                             fix="write lo:hi:n with n >= 2 for a float64 parameter, or list the values: a,b,c")
        return [repr(v) for v in _spaced(lo, hi, count)]
    return [v.strip() for v in text.split(",") if v.strip()]


def _spaced(lo: Decimal, hi: Decimal, count: int) -> list[float]:
    """n points from lo to hi, both in, in decimal, then each to its nearest double: -0.01:-0.1:10 gives
    -0.02, not -0.020000000000000004."""
    return [float(lo + (hi - lo) * k / (count - 1)) for k in range(count)]


# ---------------------------------------------------------------- grid files


def read_grid(ir: IR, path: Path) -> Grid:
    """The grid a TOML file describes (module docstring; docs/sweep.md "Grids"); any mistake is one
    InputError naming the file and the key."""
    from violet.api import param_type

    where = str(path)
    try:
        data = tomllib.loads(path.read_text(), parse_float=Decimal)
    except OSError as err:
        raise InputError(f"cannot read the grid file ({err.strerror or type(err).__name__})", where=where,
                         fix="give the path of a TOML grid file (docs/sweep.md, Grids)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not a TOML file: {str(err).splitlines()[0] if str(err) else type(err).__name__}",
                         where=where, fix="write the grid as TOML (docs/sweep.md, Grids)") from None
    _only(data, FILE_KEYS, where, "")
    seed = _int(data.get("seed", 0), where, "seed", lo=0)
    samples = _int(data["samples"], where, "samples", lo=1) if "samples" in data else None
    params = data.get("params")
    if not isinstance(params, dict) or not params:
        raise InputError("no [params] table, or an empty one", where=where,
                         fix='name each swept parameter under [params], e.g. "pos.tp_pct" = [0.01, 0.02]')
    rng = np.random.default_rng(seed)
    axes: dict[str, np.ndarray] = {}
    for name, spec in _flat(params):
        key = f"{where}: params.{name if NAME_RE.fullmatch(name.replace('.', '_')) else quote(name)}"
        dtype = param_type(ir, name, key)
        axes[name] = _axis(ir, name, dtype, spec, key, rng, samples)
    grid = Grid(axes, joint=samples is not None)
    if not grid.joint and grid.size > INT64_MAX:
        raise InputError(f"the product of the axes is {grid.size:,} points, more than an int64 counts", where=where,
                         fix="sweep fewer values per parameter, or draw a joint random design (samples = P)")
    return grid


def _flat(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(parameter name, spec) pairs: a TOML dotted key (pos.tp_pct = ...) is a nested table, which names a
    parameter `pos.tp_pct`; a table holding spec keys (lo, values, random, ...) is a spec."""
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and not (set(value) & (RANGE_KEYS | RANDOM_KEYS)):
            yield from _flat(value, name + ".")
        else:
            yield name, value


def _axis(ir: IR, name: str, dtype: DType, spec: Any, key: str, rng: np.random.Generator,
          samples: int | None) -> np.ndarray:
    """One parameter's values, checked as --set checks a value."""
    if samples is not None and not (isinstance(spec, dict) and "random" in spec):
        raise InputError("in a joint design (samples = P) every parameter is drawn", where=key,
                         fix='write a random axis, e.g. { random = "choice", values = [...] }, or drop samples')
    if isinstance(spec, list):
        values = _listed(ir, name, dtype, spec, key)
    elif isinstance(spec, dict) and "random" in spec:
        values = _drawn(ir, name, dtype, spec, key, rng, samples)
    elif isinstance(spec, dict) and spec:
        values = _range(ir, name, dtype, spec, key)
    else:
        raise InputError(f"a parameter's grid is a list of values, a range or random draws, got {quote(spec)}",
                         where=key, fix="write [a, b, c], { lo = .., hi = .., n = .. } or { random = \"uniform\", "
                                        "lo = .., hi = .., n = .. } (docs/sweep.md, Grids)")
    return np.array(values, dtype=dtype.value)


def _listed(ir: IR, name: str, dtype: DType, values: list[Any], key: str) -> list[Scalar]:
    if not values:
        raise InputError("an empty list of values", where=key, fix="give at least one value")
    if len(values) > MAX_AXIS:
        raise InputError(f"{len(values):,} values, more than {MAX_AXIS:,} on one axis", where=key, fix="give fewer")
    return [_value(ir, name, v, key) for v in values]


def _value(ir: IR, name: str, value: Any, key: str) -> Scalar:
    """One value of the file as the parameter's type, checked (type, exactness, refinement)."""
    from violet.api import param_value

    if isinstance(value, Decimal):
        value = float(value)
    if not isinstance(value, (bool, int, float)):
        raise InputError(f"a value of {type(value).__name__} {quote(value)}, not a number or a boolean",
                         where=key, fix="write numbers (or true/false for a bool parameter)")
    return param_value(ir, name, value, key)


def _only(spec: Mapping[str, Any], allowed: set[str], key: str, what: str) -> None:
    unknown = sorted(set(spec) - allowed, key=str)
    if unknown:
        raise InputError(f"unknown key {quote(unknown[0])}{what}", where=key,
                         fix=f"the keys here are: {', '.join(sorted(allowed))}")


def _int(value: Any, key: str, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= INT64_MAX:
        raise InputError(f"{name} must be an integer >= {lo}, got {quote(value)}", where=key,
                         fix=f"write {name} = {max(lo, 1)} or another integer >= {lo}")
    return value


def _number(spec: Mapping[str, Any], field: str, key: str, integer: bool) -> Decimal | int:
    """spec[field], a finite number (an integer where `integer`)."""
    if field not in spec:
        raise InputError(f"no {field}", where=key, fix=f"write {field} = ... (docs/sweep.md, Grids)")
    value = spec[field]
    ok = (isinstance(value, int) and not isinstance(value, bool)) or (
        not integer and isinstance(value, Decimal) and value.is_finite())
    if not ok:
        kind = "an integer (the parameter is int64)" if integer else "a finite number"
        raise InputError(f"{field} must be {kind}, got {quote(value)}", where=key, fix=f"write {field} = ...")
    return value


def _range(ir: IR, name: str, dtype: DType, spec: Mapping[str, Any], key: str) -> list[Scalar]:
    """lo..hi, both in, by n points or by step; decimal-exact for a float64, exact integers for an int64."""
    _only(spec, RANGE_KEYS, key, " in a range")
    if dtype == DType.BOOL:
        raise InputError("a range of a bool parameter", where=key, fix="list the values: [true, false]")
    integer = dtype == DType.I64
    lo, hi = Decimal(_number(spec, "lo", key, integer)), Decimal(_number(spec, "hi", key, integer))
    if ("n" in spec) == ("step" in spec):
        raise InputError("a range needs exactly one of n and step", where=key,
                         fix="write { lo = .., hi = .., n = 10 } or { lo = .., hi = .., step = .. }")
    if "n" in spec:
        count = _int(spec["n"], key, "n", lo=2)
        if count > MAX_AXIS:
            raise InputError(f"n = {count:,}, more than {MAX_AXIS:,} on one axis", where=key, fix="give a smaller n")
        if integer and (hi - lo) % (count - 1):
            raise InputError(f"{count} evenly spaced integers cannot go from {lo} to {hi}", where=key,
                             fix="give step = .. for an int64 parameter, or an n - 1 that divides hi - lo")
        values: list[Any] = [int(lo + (hi - lo) / (count - 1) * k) for k in range(count)] if integer else \
            _spaced(lo, hi, count)
    else:
        step = Decimal(_number(spec, "step", key, integer))
        count = int((hi - lo) / step) + 1 if step else 0
        if count < 1:
            raise InputError(f"an empty range: from {lo} to {hi} by {step}", where=key,
                             fix="give a step of the sign of hi - lo, not 0")
        if count > MAX_AXIS:
            raise InputError(f"{count:,} values, more than {MAX_AXIS:,} on one axis", where=key,
                             fix="give a larger step")
        values = [int(lo + step * k) if integer else float(lo + step * k) for k in range(count)]
    for end in {0, len(values) - 1}:  # a range is monotone: its ends meet the refinement, so every value does
        _value(ir, name, values[end], key)
    return values


def _drawn(ir: IR, name: str, dtype: DType, spec: Mapping[str, Any], key: str, rng: np.random.Generator,
           samples: int | None) -> np.ndarray:
    """n draws (or `samples` in a joint design) of the spec's distribution, from the file's random stream
    (axes in file order) or the axis's own `seed`."""
    _only(spec, RANDOM_KEYS, key, " in random draws")
    kind = spec["random"]
    if kind not in RANDOM:
        raise InputError(f"unknown random draw {quote(kind)}", where=key, fix=f"one of: {', '.join(RANDOM)}")
    if samples is not None and "n" in spec:
        raise InputError("n in a joint design: every parameter is drawn `samples` times", where=key,
                         fix="drop n here, or drop samples for a product of axes")
    count = samples if samples is not None else _int(spec.get("n"), key, "n", lo=1)
    if count > MAX_AXIS and samples is None:
        raise InputError(f"n = {count:,}, more than {MAX_AXIS:,} on one axis", where=key, fix="give a smaller n")
    if "seed" in spec:
        rng = np.random.default_rng(_int(spec["seed"], key, "seed", lo=0))
    if kind == "choice":
        _only(spec, {"random", "values", "n", "seed"}, key, " in a choice")
        values = spec.get("values")
        if not isinstance(values, list):
            raise InputError("a choice needs values = [...]", where=key, fix='write { random = "choice", '
                                                                            'values = [a, b], n = .. }')
        options = np.array(_listed(ir, name, dtype, values, key), dtype=dtype.value)
        return options[rng.integers(0, len(options), count)]
    _only(spec, {"random", "lo", "hi", "n", "seed"}, key, f" in {kind} draws")
    integer = kind == "integers"
    if integer != (dtype == DType.I64):
        raise InputError(f"{kind} draws for a {dtype.value} parameter", where=key,
                         fix="draw integers for an int64 parameter, uniform or log-uniform for a float64, "
                             "choice for a bool")
    lo, hi = _number(spec, "lo", key, integer), _number(spec, "hi", key, integer)
    if not lo < hi or (kind == "log-uniform" and lo <= 0):
        raise InputError(f"an empty interval for {kind} draws: lo = {lo}, hi = {hi}", where=key,
                         fix="give lo < hi" + (", lo > 0" if kind == "log-uniform" else ""))
    for end in (lo, hi):  # draws lie between the ends: checked there, they meet the refinement
        _value(ir, name, int(end) if integer else float(end), key)
    if integer:
        return rng.integers(int(lo), int(hi), count, endpoint=True)
    a, b = float(lo), float(hi)
    if kind == "uniform":
        return np.clip(rng.uniform(a, b, count), a, b)
    return np.clip(np.exp(rng.uniform(math.log(a), math.log(b), count)), a, b)
