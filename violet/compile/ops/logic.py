"""Comparisons, logic and selection: eq ne lt le gt ge, and or not, select (docs/semantics.md,
"Comparisons and logic"). Each gives one bit; `select` evaluates both branches, then takes one."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

from violet.compile.interval import BOOL as BOOL_INTERVAL
from violet.compile.interval import Interval
from violet.compile.netlist import Expr, carry
from violet.compile.ops.spec import OpSpec, by_dtype, names
from violet.compile.qformat import Fmt
from violet.dag.types import BOOL, DType, ValueType

if TYPE_CHECKING:
    from violet.compile.ir import Op
    from violet.compile.verilog import Builder

SYMBOL = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
FUNCTION = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
            "ge": operator.ge}


def compare_type(kind: str, args: list[ValueType]) -> ValueType | str:
    """Both operands are looked at alike, so `e == i` and `i == e` are refused the same way:
    an enum is an int64 code underneath, and only its declared names may meet it."""
    a, b = args
    if a.dtype != b.dtype:
        return f"cannot compare {a} with {b}: convert explicitly with float(x) or int(x)"
    if a.enum != b.enum:
        return f"cannot compare {a} with {b}: an enum compares only with a value of the same enum"
    if (a.is_enum or a.dtype == DType.BOOL) and kind not in ("eq", "ne"):
        return f"only == and != are defined on {a}"
    return BOOL


def logic_type(kind: str, args: list[ValueType]) -> ValueType | str:
    return BOOL if all(a.dtype == DType.BOOL for a in args) else f"'{kind}' needs bool operands, got {names(args)}"


def select_type(kind: str, args: list[ValueType]) -> ValueType | str:
    if args[0] != BOOL:
        return f"select's condition must be bool, got {args[0]}"
    return args[1] if args[1] == args[2] else f"select's branches differ: {args[1]} vs {args[2]}"


def interval_bool(op: Op, a: list[Interval]) -> Interval:
    return BOOL_INTERVAL


def interval_select(op: Op, a: list[Interval]) -> Interval:
    return a[1].union(a[2])


def fixed_compare(op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
    return int(FUNCTION[op.kind](a[0], a[1]))


def fixed_logic(op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
    if op.kind == "not":
        return int(not a[0])
    return int(bool(a[0]) and bool(a[1])) if op.kind == "and" else int(bool(a[0]) or bool(a[1]))


def fixed_select(op: Op, a: list[Any], fa: list[Fmt], out: Fmt) -> Any:
    return a[1] if a[0] else a[2]


def verilog_compare(em: Builder, op: Op) -> None:
    """A 1-bit comparator over operands sign-extended to a common width (bools compared as they are)."""
    a, f, sym = op.args, [em.fmt(x) for x in op.args], f" {SYMBOL[op.kind]} "
    em.counts["comparators"] += 1
    if f[0].boolean:
        em.decl(em.name("v", op.id), 1, Expr(em.ref(a[0]), sym, em.ref(a[1])), signed=False)
        return
    width = max(f[0].width, f[1].width)
    em.decl(em.name("v", op.id), 1, Expr(em.ext(a[0], width), sym, em.ext(a[1], width)), signed=False,
            delay=carry(width))


def verilog_logic(em: Builder, op: Op) -> None:
    a = op.args
    expr = (Expr("!", em.ref(a[0])) if op.kind == "not"
            else Expr(em.ref(a[0]), " && " if op.kind == "and" else " || ", em.ref(a[1])))
    em.decl(em.name("v", op.id), 1, expr, signed=False)


def verilog_select(em: Builder, op: Op) -> None:
    """A multiplexer; a 'missing' NaN constant's flag is chosen alongside the value."""
    a, f = op.args, [em.fmt(x) for x in op.args]
    if op.id in em.model.missing:
        em.decl(f"m{op.id}", 1, Expr(em.ref(a[0]), " ? ", em.missing_flag(a[1]), " : ", em.missing_flag(a[2])),
                signed=False)
    if em.fmt(op.id).boolean:
        em.decl(em.name("v", op.id), 1, Expr(em.ref(a[0]), " ? ", em.ref(a[1]), " : ", em.ref(a[2])), signed=False)
        return
    width = max(f[1].width, f[2].width)
    t = em.decl(em.name("t", op.id), width, Expr(em.ref(a[0]), " ? ", em.ext(a[1], width), " : ", em.ext(a[2], width)))
    em.fit(op, t, min(f[1].lo, f[2].lo), max(f[1].hi, f[2].hi), width)


def _compare(kind: str) -> OpSpec:
    symbol = SYMBOL[kind]
    return OpSpec(kind, 2, f"a {symbol} b: IEEE on float64 (false with NaN but for !=), exact on int64",
                  compare_type, by_dtype(any=FUNCTION[kind]), lambda op, a: f"{a[0]} {symbol} {a[1]}",
                  interval_bool, fixed_compare, verilog_compare)


def _logic(kind: str, meaning: str, fn: Any, render: Any) -> OpSpec:
    return OpSpec(kind, 1 if kind == "not" else 2, meaning, logic_type, by_dtype(any=fn), render, interval_bool,
                  fixed_logic, verilog_logic)


OPS = (
    *(_compare(kind) for kind in SYMBOL),
    _logic("and", "a and b on bools (both always evaluated)", lambda a, b: a and b,
           lambda op, a: f"{a[0]} and {a[1]}"),
    _logic("or", "a or b on bools (both always evaluated)", lambda a, b: a or b, lambda op, a: f"{a[0]} or {a[1]}"),
    _logic("not", "not a on a bool", lambda a: not a, lambda op, a: f"not {a[0]}"),
    OpSpec("select", 3, "a if c else b: both branches evaluated, one taken", select_type,
           by_dtype(any=lambda c, a, b: a if c else b), lambda op, a: f"{a[1]} if {a[0]} else {a[2]}",
           interval_select, fixed_select, verilog_select, builtin="select"),
)
