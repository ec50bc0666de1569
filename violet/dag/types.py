"""Value types of the graph language.

Three machine types flow on edges: float64, int64 and bool. An enum is an
int64 code with its list of names attached, so `posture == "STALKER"` can be
checked and lowered to an integer compare. Refinements (finite, bounds) live
on graph *inputs* only: they are checked at the boundary, row by row, and
feed the samplers of `violet diff`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from violet.errors import quote


class DType(str, Enum):
    """A machine type: what one value is made of in every backend."""

    F64 = "float64"
    I64 = "int64"
    BOOL = "bool"


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def int_text(value: int) -> str:
    """An integer for an error message: its digits, or its size when it has too many to print
    (Python refuses to turn an integer of more than 4,300 digits into text)."""
    return quote(value) if value.bit_length() <= 1000 else f"of {value.bit_length():,} bits"


def int64_problem(value: int) -> str | None:
    """Why an integer cannot be an int64 value, or None if it can.

    Python's integers are unbounded and the machine's are not: an integer outside int64 written
    in a graph would make the interpreter and the compiled kernel disagree (or crash the kernel's
    typing), so it is refused where it is written."""
    if INT64_MIN <= value <= INT64_MAX:
        return None
    return f"the integer {int_text(value)} is outside int64 [-2**63, 2**63 - 1]"


def float64_problem(value: int) -> str | None:
    """Why an integer written for a float64 cannot be one, or None: it must be an int64 with an exact
    float64 value (every integer up to 2**53 is; 2**53 + 1 is not), as an expression literal must."""
    if (problem := int64_problem(value)) is not None:
        return problem
    return None if float(value) == value else f"the integer {value} has no exact float64 value (nearest: {float(value)!r})"


@dataclass(frozen=True)
class ValueType:
    """The type of an edge: a machine type, the names if it is an enum, and
    whether it is one value or a vector with one value per universe asset."""

    dtype: DType
    enum: tuple[str, ...] | None = None
    vector: bool = False

    def __str__(self) -> str:
        base = "enum{" + ",".join(self.enum) + "}" if self.enum is not None else self.dtype.value
        return base + "[N]" if self.vector else base

    @property
    def is_enum(self) -> bool:
        return self.enum is not None

    @property
    def scalar(self) -> ValueType:
        """The type of one element."""
        return ValueType(self.dtype, self.enum) if self.vector else self

    def as_vector(self) -> ValueType:
        return ValueType(self.dtype, self.enum, vector=True)


F64 = ValueType(DType.F64)
I64 = ValueType(DType.I64)
BOOL = ValueType(DType.BOOL)


@dataclass(frozen=True)
class Refinement:
    """Constraints an input value must meet at the boundary.

    `finite` rules out NaN and +-inf; `ge/gt/le/lt` are inclusive or strict
    bounds, held in the input's own type (an int64 input's bounds are ints, so
    `le = 1e18` refuses 10**18 + 1: the comparison never goes through float64).
    `typical` is a sampling hint for `violet diff`, never a check.
    """

    finite: bool = False
    ge: float | int | None = None
    gt: float | int | None = None
    le: float | int | None = None
    lt: float | int | None = None
    typical: tuple[float, float] | None = None

    def violation(self, value: float | int) -> str | None:
        """Return why `value` breaks this refinement, or None if it holds."""
        if isinstance(value, float) and math.isnan(value):
            return "is NaN" if self.finite or self.bounded else None
        if self.finite and isinstance(value, float) and math.isinf(value):
            return f"is {value}, not finite"
        for bound, ok, text in (
            (self.ge, lambda b: value >= b, ">="),
            (self.gt, lambda b: value > b, ">"),
            (self.le, lambda b: value <= b, "<="),
            (self.lt, lambda b: value < b, "<"),
        ):
            if bound is not None and not ok(bound):
                return f"is {value!r}, must be {text} {bound!r}"
        return None

    def violations(self, values: np.ndarray) -> np.ndarray:
        """Vectorized `violation`: a mask of the values that break this refinement."""
        bad = np.zeros(values.shape, dtype=bool)
        if values.dtype.kind == "f":
            if self.finite:
                bad |= ~np.isfinite(values)
            elif self.bounded:
                bad |= np.isnan(values)
        with np.errstate(invalid="ignore"):
            for bound, ok in ((self.ge, np.greater_equal), (self.gt, np.greater),
                              (self.le, np.less_equal), (self.lt, np.less)):
                if bound is not None:
                    bad |= ~ok(values, bound)
        return bad

    @property
    def bounded(self) -> bool:
        return any(b is not None for b in (self.ge, self.gt, self.le, self.lt))

    def float_bounds(self, unbounded: float) -> tuple[float, float]:
        """[lo, hi] of the floats admitted (a strict bound moves one ULP in); `unbounded` stands
        for a missing bound (the largest finite float, or infinity)."""
        lo = self.ge if self.ge is not None else math.nextafter(self.gt, math.inf) if self.gt is not None else -unbounded
        hi = self.le if self.le is not None else math.nextafter(self.lt, -math.inf) if self.lt is not None else unbounded
        return float(lo), float(hi)

    def int_bounds(self) -> tuple[int, int]:
        """[lo, hi] of the int64 values admitted."""
        lo = math.ceil(self.ge) if self.ge is not None else math.floor(self.gt) + 1 if self.gt is not None else INT64_MIN
        hi = math.floor(self.le) if self.le is not None else math.ceil(self.lt) - 1 if self.lt is not None else INT64_MAX
        return int(lo), int(hi)

    def describe(self) -> str:
        parts = ["finite"] if self.finite else []
        for name, bound in (("ge", self.ge), ("gt", self.gt), ("le", self.le), ("lt", self.lt)):
            if bound is not None:
                parts.append(f"{name} {bound!r}")
        return ", ".join(parts)


@dataclass(frozen=True)
class InputSpec:
    """One graph input: its name, type and boundary refinement.

    A `universe` input is a vector fixed for a whole run (a column of the
    universe table, e.g. the stablecoin mask); other inputs change per row/scan.
    A `mask` names a per-scan bool vector input (e.g. `tradable`): where it is
    false the asset has no value on that scan (null in a table), the boundary
    does not check it and the graph sees NaN (int64 0, bool false) there.
    """

    name: str
    type: ValueType
    refine: Refinement = Refinement()
    universe: bool = False
    mask: str = ""
    doc: str = field(default="", compare=False)  # for people (violet check); not part of the graph's meaning

    def describe(self) -> str:
        text = str(self.type)
        extra = ", ".join(part for part in (self.refine.describe(), f"where {self.mask}" if self.mask else "") if part)
        return f"{text} ({extra})" if extra else text


TRADE_PREFIX = "trade_"  # a one-lane record's trade fields: its outputs named trade_* (prefix dropped)


@dataclass(frozen=True)
class Lane:
    """One lane of a decision graph's `[record]`: the outputs its host reads for one book of positions.

    A lane with an `asset` output holds one position at a time (its outputs are scalars); a lane without
    one is per-asset: its action, trade flag and trade fields are vectors over the universe, the asset
    being the index. Its trade fields are its outputs named `<trades>*` (prefix dropped)."""

    name: str  # "" for the one lane of a flat `[record]`
    action: str
    actions: tuple[tuple[str, str], ...]  # action enum value -> role (enter_long, enter_short, exit_long, exit_short)
    asset: str  # "" for a per-asset lane
    leverage: str
    notional: str
    exit_leverage: str  # the size of the position an exit closes
    exit_notional: str
    trade: str
    exit_check: str = ""  # a composed exit graph node run alone between scans ("" for none)
    trades: str = TRADE_PREFIX

    @property
    def per_asset(self) -> bool:
        return not self.asset

    def names(self) -> dict[str, str]:
        """Record key -> the output it names (no `asset` for a per-asset lane)."""
        keys = ("action", "asset", "leverage", "notional", "exit_leverage", "exit_notional", "trade")
        return {key: getattr(self, key) for key in keys if getattr(self, key)}

    def canonical(self) -> list[str | list[list[str]]]:
        """Plain data for the content hash (a flat record's, as before lanes existed)."""
        return [self.action, sorted(list(a) for a in self.actions), self.asset, self.leverage, self.notional,
                self.exit_leverage, self.exit_notional, self.trade, self.exit_check]


@dataclass(frozen=True)
class Record:
    """A decision graph's `[record]`: its lanes, in the file's order (names checked by the loader, types by
    the host that reads them; docs/runtime.md, "The record contract"), and the most positions the whole
    portfolio holds at once (a number, a parameter's name, or None for no limit)."""

    lanes: tuple[Lane, ...]
    max_positions: int | str | None = None

    def canonical(self) -> list | dict:
        """Plain data for the content hash: a flat one-lane record hashes as it did before lanes existed."""
        (first, *others) = self.lanes
        if not others and not first.name and self.max_positions is None and first.trades == TRADE_PREFIX:
            return first.canonical()
        return {"lanes": [[lane.name, lane.trades, *lane.canonical()] for lane in self.lanes],
                "max_positions": self.max_positions}
