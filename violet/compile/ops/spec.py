"""What one IR op is: its arity, type rule, meaning, built-in name, and every backend's rule or refusal.

An `OpSpec` is the one place an op is defined. Each backend reads its field
and nothing else about the op:

- `interp(op, arg_types) -> fn`: the function of `violet.compile.semantics`
  defining the op (per element for an elementwise op; the interpreter lifts it);
- `numba(op, args) -> str`: the Python expression the Numba kernels assign,
  from the rendered argument names (`numba_helper`: the source of a jitted
  function it calls, written once into every kernel module's header);
- `interval(op, arg_intervals) -> Interval`: the range analysis' transfer rule;
- `fixed(op, raw_args, arg_formats, out_format) -> raw`: the fixed-point model;
- `verilog(em, op) -> None`: declares the op's wires through the emitter.

`universe(n) -> Interval`, for an op whose range depends on the number of assets
(an index, a count): its range over a universe of n assets, which the analysis
intersects with `interval`'s when it knows n (the hardware is built for one).

A backend that cannot take an op holds a `Refusal` saying why, never a gap:
the dataclass has no defaults for them, and tests/test_catalog.py checks each.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from violet.compile.interval import Interval
from violet.compile.qformat import Fmt
from violet.dag.types import ValueType

if TYPE_CHECKING:  # the rules receive these; importing them at run time would import the backends
    from violet.compile.ir import Op
    from violet.compile.verilog import Builder

Fn = Callable[..., Any]
TypeRule = Callable[[str, list[ValueType]], "ValueType | str"]
InterpRule = Callable[["Op", list[ValueType]], Fn]
NumbaRule = Callable[["Op", list[str]], str]
IntervalRule = Callable[["Op", list[Interval]], Interval]
FixedRule = Callable[["Op", list[Any], list[Fmt], Fmt], Any]
VerilogRule = Callable[["Builder", "Op"], None]

BACKENDS = ("interp", "numba", "interval", "fixed", "verilog")


@dataclass(frozen=True)
class Refusal:
    """A backend's explicit no: the op has no rule there, and `reason` says why (shown to the user)."""

    reason: str


@dataclass(frozen=True)
class OpSpec:
    """One IR op, defined once (see the module docstring for each backend's rule)."""

    name: str
    arity: int
    meaning: str
    typing: TypeRule  # (kind, per-element arg types) for an elementwise op, else the whole arg types
    interp: InterpRule | Refusal
    numba: NumbaRule | Refusal
    interval: IntervalRule | Refusal
    fixed: FixedRule | Refusal
    verilog: VerilogRule | Refusal
    builtin: str = ""  # the expression built-in whose call is exactly this op ("" if none)
    elementwise: bool = True  # applied per asset over vectors, a scalar operand shared by every asset
    numba_helper: str = ""
    universe: Callable[[int], Interval] | None = None  # the range over n assets, where it depends on n

    def rule(self, backend: str) -> Any:
        """The backend's rule or refusal, by backend name (one of BACKENDS)."""
        return getattr(self, backend)


def by_dtype(**fns: Fn) -> InterpRule:
    """An interpreter rule picking the semantics function by the first argument's dtype
    (`f64=`, `i64=`, `bool=`; `any=` for every dtype)."""

    def rule(op: Op, args: list[ValueType]) -> Fn:
        fn = fns.get(args[0].dtype.name.lower(), fns.get("any"))
        if fn is None:
            raise KeyError(f"no semantics for {op.kind} on {args[0].dtype.value}")
        return fn

    return rule


def jitted(fn: Fn, inline: bool = False) -> str:
    """A `numba_helper` compiling a function of `violet.compile.semantics` from its own source, so the
    kernels run the very rule the interpreter runs (its globals are the kernel header's constants)."""
    options = 'inline="always", {jit}' if inline else "{jit}"
    return f"\n\n@njit({options})\n" + inspect.getsource(fn)


def names(args: list[ValueType]) -> str:
    """Argument types for an error message."""
    return ", ".join(str(a) for a in args)
