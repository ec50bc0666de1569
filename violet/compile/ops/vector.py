"""Vectors over the universe: gather (x[i]), argmax, argmin, any, all (docs/semantics.md, "Vectors over the
universe"). They read whole vectors, so none is elementwise. The argmax/argmin rule (ties to the lowest
index, strictly greater (smaller) replaces) is written once, `semantics.arg_extreme`: the interpreter and
the fixed-point model call it, the kernels compile its source, and the Verilog comparator chain follows it.
A mask is a bool[N] or a scalar bool (true: every asset), here and in the reductions (ops/reduce.py)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from violet.compile import semantics as sem
from violet.compile.interval import BOOL as BOOL_INTERVAL
from violet.compile.interval import Interval, point
from violet.compile.ops.spec import Fn, OpSpec, jitted
from violet.compile.qformat import Fmt, LoweringError, saturate
from violet.dag.types import BOOL, I64, INT64_MAX, DType, ValueType

if TYPE_CHECKING:
    from violet.compile.ir import Op
    from violet.compile.verilog import Emitter

NUMBA_ZERO = {DType.F64: "0.0", DType.I64: "0", DType.BOOL: "False"}


def gather_type(kind: str, args: list[ValueType]) -> ValueType | str:
    vec, idx = args
    if not vec.vector or idx != I64:
        return f"x[i] needs a vector and an int64 index, got {vec} and {idx}"
    return vec.scalar


def masked_problem(kind: str, args: list[ValueType]) -> str | None:
    """Why (values, mask) does not fit a reduction: values a float64 or int64 vector, the mask a bool[N]
    or a scalar bool; None if they fit."""
    vals, mask = args
    if not (vals.vector and vals.dtype in (DType.F64, DType.I64) and not vals.is_enum):
        return f"{kind} needs a float64 or int64 vector, got {vals}"
    if mask.scalar != BOOL:
        return f"{kind}'s mask must be bool[N] or a bool, got {mask}"
    return None


def index_type(kind: str, args: list[ValueType]) -> ValueType | str:
    return masked_problem(kind, args) or I64


def mask_type(kind: str, args: list[ValueType]) -> ValueType | str:
    return BOOL if args[0] == BOOL.as_vector() else f"{kind}() needs a bool[N] vector, got {args[0]}"


def interp_gather(op: Op, args: list[ValueType]) -> Fn:
    return partial(sem.gather, default=sem.ZERO[op.type.dtype])


def fixed_gather(op: Op, a: list[Any], fa: list[Fmt], out: Fmt) -> int:
    """The IR's rule, one definition: outside [0, N) the type's zero (raw 0)."""
    return saturate(sem.gather(a[0], a[1], 0), out)


def fixed_argmax(op: Op, a: list[Any], fa: list[Fmt], out: Fmt) -> int:
    """The IR's rule on raw values (same order); the RTL refuses a format short of N - 1."""
    return saturate(sem.arg_extreme(a[0], a[1], op.kind == "argmin"), out)


def fixed_mask(op: Op, a: list[Any], fa: list[Fmt], out: Fmt) -> int:
    return int(sem.any_true(a[0]) if op.kind == "any" else sem.all_true(a[0]))


def verilog_mask(em: Emitter, op: Op) -> None:
    """An or (any) or and (all) chain over the assets."""
    join = " || " if op.kind == "any" else " && "
    em.decl(em.name("v", op.id), 1, join.join(em.elem(op.args[0], j) for j in range(em.assets)), signed=False)


def verilog_gather(em: Emitter, op: Op) -> None:
    """A multiplexer over the assets; an index matching none gives 0, the type's zero."""
    vec, idx = op.args
    out, elem = em.fmt(op.id), em.fmt(vec)
    width = max(out.width, elem.width)
    index, iw = em.gather_index(idx, em.assets)
    expr = em.const(0, width)
    for j in reversed(range(em.assets)):
        expr = f"({index} == {em.const(j, iw)}) ? {em.resize(em.elem(vec, j), elem.width, width)} : {expr}"
    em.decl(em.name("t", op.id), width, expr)
    em.fit(op, em.name("t", op.id), min(elem.lo, 0), max(elem.hi, 0), width)


def mask_bit(em: Emitter, mask: int, j: int) -> str:
    """Asset j's mask bit: element j of a bool[N] mask, or a scalar mask's one wire."""
    return em.elem(mask, j) if em.model.ir.ops[mask].type.vector else em.ref(mask)


def refuse_short_index(em: Emitter, op: Op) -> None:
    """An index (argmax, argmin, rank) reaches N - 1, which the analysis cannot know: refuse a format
    that cannot hold it, rather than saturate an index into another asset's."""
    n, out = em.assets, em.fmt(op.id)
    if n - 1 > out.hi:
        raise LoweringError(f"{op.kind} over {n} assets gives indices up to {n - 1}, its format {out} holds at "
                            f"most {out.hi}", where=f"node '{op.node}'",
                            fix=f"raise --int-bits to at least {(n - 1).bit_length()} (the analysis cannot bound "
                                "an index by the universe size)")


def verilog_argmax(em: Emitter, op: Op) -> None:
    """A comparator chain keeping the best index: semantics.arg_extreme's rule, asset by asset upward
    (taken only if masked and strictly greater (argmin: smaller), or the first masked one)."""
    (values, mask), n = op.args, em.assets
    vw, out = em.w(values), em.fmt(op.id)
    refuse_short_index(em, op)
    cmp = "<" if op.kind == "argmin" else ">"
    best, best_value = em.const(-1, out.width), em.elem(values, 0)
    for j in range(n):
        taken = f"{em.name('take', op.id)}_{j}"
        first = f"({best} == {em.const(-1, out.width)})" if j else "1'b1"
        em.decl(taken, 1, f"{mask_bit(em, mask, j)} && ({first} || ({em.elem(values, j)} {cmp} {best_value}))",
                signed=False)
        em.decl(f"{em.name('best', op.id)}_{j}", out.width, f"{taken} ? {em.const(j, out.width)} : {best}")
        if j < n - 1:  # the best value so far, for the next comparison (none after the last)
            em.decl(f"{em.name('bv', op.id)}_{j}", vw, f"{taken} ? {em.elem(values, j)} : {best_value}")
        best, best_value = f"{em.name('best', op.id)}_{j}", f"{em.name('bv', op.id)}_{j}"
        em.counts["comparators"] += 1
    em.decl(em.name("v", op.id), out.width, best)


ANY_HELPER = '''

@njit({jit})
def any_true(mask):
    """semantics.any_true, as a loop (Numba has no any() over an array)."""
    for k in range(mask.shape[0]):
        if mask[k]:
            return True
    return False
'''

ALL_HELPER = '''

@njit({jit})
def all_true(mask):
    """semantics.all_true, as a loop (Numba has no all() over an array)."""
    for k in range(mask.shape[0]):
        if not mask[k]:
            return False
    return True
'''


def _arg_extreme(kind: str, meaning: str, lowest: bool) -> OpSpec:
    """argmax or argmin: semantics.arg_extreme with `lowest` fixed, the same rule in every backend."""
    return OpSpec(kind, 2, meaning, index_type, lambda op, args: partial(sem.arg_extreme, lowest=lowest),
                  lambda op, a: f"arg_extreme({a[0]}, {a[1]}, {lowest})", lambda op, a: Interval(-1, INT64_MAX),
                  fixed_argmax, verilog_argmax, builtin=kind, elementwise=False,
                  numba_helper=jitted(sem.arg_extreme, inline=True))


OPS = (
    OpSpec("gather", 2, "x[i]: element i of a vector, the type's zero outside [0, N)", gather_type, interp_gather,
           lambda op, a: f"gather({a[0]}, {a[1]}, {NUMBA_ZERO[op.type.dtype]})",
           lambda op, a: a[0].union(point(0)), fixed_gather, verilog_gather, elementwise=False,
           numba_helper=jitted(sem.gather, inline=True)),
    _arg_extreme("argmax", "index of the largest masked value, ties to the lowest, -1 if none", False),
    _arg_extreme("argmin", "index of the smallest masked value, ties to the lowest, -1 if none", True),
    OpSpec("any", 1, "true if some asset's mask is true (false for no assets)", mask_type,
           lambda op, args: sem.any_true, lambda op, a: f"any_true({a[0]})", lambda op, a: BOOL_INTERVAL,
           fixed_mask, verilog_mask, builtin="any", elementwise=False, numba_helper=ANY_HELPER),
    OpSpec("all", 1, "true if every asset's mask is true (true for no assets)", mask_type,
           lambda op, args: sem.all_true, lambda op, a: f"all_true({a[0]})", lambda op, a: BOOL_INTERVAL,
           fixed_mask, verilog_mask, builtin="all", elementwise=False, numba_helper=ALL_HELPER),
)
