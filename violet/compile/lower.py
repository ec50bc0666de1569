"""Lower a validated Graph to the IR, checking the type of every edge.

Expressions, library node bodies and composed graphs all end up as one flat
SSA list. Library nodes and composed graphs are inlined; each op remembers
the graph node it came from (`sz.base` is node `base` of instance `sz`).

The op order is canonical: inputs and params by name, then nodes in
lexicographic topological order, then outputs by name. So the file's
formatting and the order of its tables never change the IR or its hash.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from violet.compile.ir import IR, Op, ParamSpec, Scalar, StateSpec, literal_text
from violet.compile.ops import BY_BUILTIN, result_type
from violet.dag.builtins import arity_problem
from violet.dag.expr import ATTRIBUTE_FIX, BINOPS, CMPOPS, MAX_NESTING, recursion_room
from violet.dag.graph import Bound, Graph, NodeInstance, Param, literal_type
from violet.dag.types import BOOL, F64, I64, INT64_MIN, DType, ValueType
from violet.errors import GraphError, quote, where
from violet.dag.library import Libraries, NodeDef, lookup

MAX_POWER = 8  # x ** n is lowered as a multiply chain for 1 <= n <= MAX_POWER
MAX_INLINE = 32  # library nodes calling library nodes: inlining recurses once per level
# frames the lowering can need: per level of inlining, an expression nested MAX_NESTING deep (a few frames a
# level), plus the composed graphs around it (MAX_COMPOSITION levels of a few frames each)
LOWERING_FRAMES = (MAX_INLINE + 1) * (MAX_NESTING + 10) * 6 + 1000


def canonical_literal(value: Scalar) -> Scalar:
    """A value written in a graph file as the IR holds it: every NaN (TOML's `nan`, `+nan`, `-nan`)
    is the one quiet NaN 0x7FF8000000000000. A NaN's sign is not part of VIOLET's identity
    (docs/semantics.md), so `-nan` and `nan` are one constant, and which one a file wrote first
    must not decide the bits its outputs carry."""
    return math.nan if isinstance(value, float) and math.isnan(value) else value


@dataclass(frozen=True)
class Ref:
    """A lowered value: its op id and type, and its value if it is a literal."""

    id: int
    type: ValueType
    literal: Scalar | None = None


@dataclass(frozen=True)
class EnumType:
    """A name of [enums]: `reason.TAKE_PROFIT` is a constant of this type."""

    type: ValueType


Value = Ref | dict[str, Ref] | EnumType  # a value, the outputs of a multi-output node, or an enum


class Builder:
    """Appends ops to the SSA list; constants are shared by value (bit pattern)."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.params: list[ParamSpec] = []
        self.labels: dict[str, str] = {}
        self.state: list[StateSpec] = []
        self.next_state: list[tuple[str, int]] = []
        self.typical: list[tuple[int, float, float]] = []
        self._consts: dict[tuple[str, str], Ref] = {}

    def leaf(self, kind: str, vtype: ValueType, name: str, node: str = "") -> Ref:
        self.ops.append(Op(len(self.ops), kind, vtype, name=name, node=node or name))
        return Ref(len(self.ops) - 1, vtype)

    def state_field(self, name: str, vtype: ValueType, init: Scalar, doc: str, node: str = "") -> Ref:
        """Declare a state field and return its leaf (this row's value); its next value is set apart."""
        self.state.append(StateSpec(name, vtype, canonical_literal(init), doc))
        return self.leaf("state", vtype, name, node)

    def const(self, value: Scalar, vtype: ValueType) -> Ref:
        value = canonical_literal(value)
        key = (str(vtype), literal_text(value))
        if key not in self._consts:
            self.ops.append(Op(len(self.ops), "const", vtype, value=value))
            self._consts[key] = Ref(len(self.ops) - 1, vtype, value)
        return self._consts[key]

    def emit(self, kind: str, args: list[Ref], node: str, at: str) -> Ref:
        vtype = result_type(kind, [a.type for a in args])
        if isinstance(vtype, str):
            raise GraphError(f"type error: {vtype}", where=at, fix="convert explicitly, or bind a value of the right type")
        self.ops.append(Op(len(self.ops), kind, vtype, tuple(a.id for a in args), node=node))
        return Ref(len(self.ops) - 1, vtype)


@dataclass
class Scope:
    """What names mean while lowering one expression, and where errors point."""

    builder: Builder
    values: dict[str, Value]
    node: str
    locate: Callable[[ast.AST], str]
    libraries: Libraries = field(default_factory=dict)  # the graph file's [libraries], for module.node(...) calls
    inlining: tuple[str, ...] = ()  # the library nodes whose bodies this expression is inside, outermost first

    def emit(self, kind: str, args: list[Ref], at: ast.AST) -> Ref:
        return self.builder.emit(kind, args, self.node, self.locate(at))

    def error(self, what: str, at: ast.AST, fix: str = "") -> GraphError:
        return GraphError(what, where=self.locate(at), fix=fix)


# ---------------------------------------------------------------- expressions


def lower_expr(e: ast.expr, s: Scope) -> Ref:
    """Lower one checked expression to ops; return the value it denotes."""
    if isinstance(e, ast.Constant):
        return _constant(e, s)
    if isinstance(e, (ast.Name, ast.Attribute)):
        return _name(e, s)
    if isinstance(e, ast.UnaryOp):
        return _unary(e, s)
    if isinstance(e, ast.BinOp):
        return _binop(e, s)
    if isinstance(e, ast.BoolOp):
        kind = "and" if isinstance(e.op, ast.And) else "or"
        return _fold(kind, [lower_expr(v, s) for v in e.values], e, s)
    if isinstance(e, ast.Compare):
        return _compare(CMPOPS[type(e.ops[0])], e.left, e.comparators[0], e, s)
    if isinstance(e, ast.IfExp):
        return _select(lower_expr(e.test, s), lower_expr(e.body, s), lower_expr(e.orelse, s), e, s)
    if isinstance(e, ast.Call):
        return _call(e, s)
    if isinstance(e, ast.Subscript):
        return s.emit("gather", [lower_expr(e.value, s), lower_expr(e.slice, s)], e)
    raise s.error(f"cannot lower {type(e).__name__}", e)


def _constant(e: ast.Constant, s: Scope) -> Ref:
    v = e.value
    if isinstance(v, str):
        raise s.error(f"the string {quote(v)} is only meaningful as an enum value",
                      e, "compare it with an enum (posture == \"STALKER\") or use it as a match(...) key")
    return s.builder.const(v, literal_type(v))  # an integer is an int64: the subset checked it


def _name(e: ast.Name | ast.Attribute, s: Scope) -> Ref:
    if isinstance(e, ast.Name):
        value = s.values.get(e.id)
        if isinstance(value, EnumType):
            raise s.error(f"'{e.id}' is an enum type, not a value", e, f"name one of its values: {e.id}.{value.type.enum[0]}")
        if isinstance(value, dict):
            raise s.error(f"node '{e.id}' has several outputs ({', '.join(value)})", e,
                          f"name one of them: {e.id}.{next(iter(value))}")
        if value is None:
            raise s.error(f"unknown name '{e.id}'", e)
        return value
    assert isinstance(e.value, ast.Name)
    group = s.values.get(e.value.id)
    if isinstance(group, EnumType):
        if e.attr not in group.type.enum:
            raise s.error(f"'{e.attr}' is not a value of enum {e.value.id}", e, f"use one of: {', '.join(group.type.enum)}")
        return s.builder.const(group.type.enum.index(e.attr), group.type)
    if not isinstance(group, dict):
        raise s.error(f"attribute access {quote('.' + e.attr)} on '{e.value.id}', a single value", e, ATTRIBUTE_FIX)
    if e.attr not in group:
        raise s.error(f"'{e.value.id}' has no output '{e.attr}'", e, f"its outputs: {', '.join(group)}")
    return group[e.attr]


def _unary(e: ast.UnaryOp, s: Scope) -> Ref:
    if isinstance(e.op, ast.USub) and isinstance(e.operand, ast.Constant) and type(e.operand.value) is int \
            and e.operand.value == -INT64_MIN:
        return s.builder.const(INT64_MIN, I64)  # -9223372036854775808: 2**63 itself is no int64
    x = lower_expr(e.operand, s)
    if isinstance(e.op, ast.UAdd):
        return x
    if isinstance(e.op, ast.Not):
        return s.emit("not", [x], e)
    if x.literal is not None and not isinstance(x.literal, bool) and x.literal != INT64_MIN:
        return s.builder.const(-x.literal, x.type)  # negating a literal is exact
    return s.emit("neg", [x], e)


def _binop(e: ast.BinOp, s: Scope) -> Ref:
    """A chain a + b - c * d ... (nested to the left by Python: ((a + b) - c) ...) lowered in a loop
    down its left spine, never one recursion per term, so a sum of thousands of terms lowers; the
    ops come out as recursion would emit them (left operand, right operand, op), left to right."""
    spine = [e]
    while isinstance(spine[-1].left, ast.BinOp):
        spine.append(spine[-1].left)
    a = lower_expr(spine[-1].left, s)
    for link in reversed(spine):
        a = _apply(a, link, s)
    return a


def _apply(a: Ref, e: ast.BinOp, s: Scope) -> Ref:
    """`a <op> e.right`, with `a` the lowered left operand of `e`."""
    kind = BINOPS[type(e.op)]
    if kind == "pow":
        return _power(a, e, s)
    b = lower_expr(e.right, s)
    if kind == "div":
        return s.emit("div", [to_float(a, e, s), to_float(b, e, s)], e)
    return s.emit(kind, list(promote(a, b, e, s)), e)


def _power(base: Ref, e: ast.BinOp, s: Scope) -> Ref:
    n = e.right.value if isinstance(e.right, ast.Constant) else None
    if not (isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_POWER):
        raise s.error("'**' needs a literal integer exponent from 1 to 8", e,
                      "it is lowered as a multiply chain (x**3 is (x*x)*x); write other powers out, or call "
                      "pow(x, y), the C library's")
    result = base
    for _ in range(n - 1):
        result = s.emit("mul", [result, base], e)
    return result


def _fold(kind: str, refs: list[Ref], e: ast.AST, s: Scope) -> Ref:
    """Left fold: min(a, b, c) is min(min(a, b), c), as Python's min is."""
    result = refs[0]
    for r in refs[1:]:
        result = s.emit(kind, list(promote(result, r, e, s)), e)
    return result


def _compare(kind: str, left: ast.expr, right: ast.expr, e: ast.AST, s: Scope) -> Ref:
    if isinstance(right, ast.Constant) and isinstance(right.value, str):
        a = lower_expr(left, s)
        return s.emit(kind, [a, enum_code(a, right.value, right, s)], e)
    if isinstance(left, ast.Constant) and isinstance(left.value, str):
        b = lower_expr(right, s)
        return s.emit(kind, [enum_code(b, left.value, left, s), b], e)
    a, b = lower_expr(left, s), lower_expr(right, s)
    return s.emit(kind, list(promote(a, b, e, s, literals_only=True)), e)


def enum_code(enum: Ref, name: str, at: ast.AST, s: Scope) -> Ref:
    """The const code of enum value `name` in `enum`'s type."""
    values = enum.type.enum
    if values is None:
        raise s.error(f"compared with the string {quote(name)}, but the value is {enum.type}, not an enum", at)
    if name not in values:
        raise s.error(f"{quote(name)} is not a value of {enum.type}", at, f"use one of: {', '.join(values)}")
    return s.builder.const(values.index(name), enum.type)


def _select(c: Ref, a: Ref, b: Ref, e: ast.AST, s: Scope) -> Ref:
    return s.emit("select", [c, *promote(a, b, e, s)], e)


def promote(a: Ref, b: Ref, e: ast.AST, s: Scope, *, literals_only: bool = False) -> tuple[Ref, Ref]:
    """Mixed int64/float64 operands: the int64 one becomes float64 (exactly, for a literal)."""
    if {a.type.dtype, b.type.dtype} != {DType.F64, DType.I64} or a.type.is_enum or b.type.is_enum:
        return a, b
    if literals_only and (a if a.type.dtype == DType.I64 else b).literal is None:
        return a, b  # the op's type check names the mismatch
    return (to_float(a, e, s), b) if a.type.dtype == DType.I64 else (a, to_float(b, e, s))


def to_float(r: Ref, e: ast.AST, s: Scope) -> Ref:
    """r as float64: literals converted exactly, int64 values through `i2f`."""
    if r.type.scalar == F64:
        return r
    if r.type.scalar != I64:
        raise s.error(f"cannot use {r.type} as a number", e, "compare it, or convert with select(c, 1.0, 0.0)")
    if r.literal is not None:
        if float(r.literal) != r.literal:
            raise s.error(f"integer literal {r.literal} has no exact float64 value", e)
        return s.builder.const(float(r.literal), F64)
    return s.emit("i2f", [r], e)


# ---------------------------------------------------------------- calls


def _call(e: ast.Call, s: Scope) -> Ref:
    if isinstance(e.func, ast.Attribute):
        assert isinstance(e.func.value, ast.Name)
        nd = lookup(f"{e.func.value.id}.{e.func.attr}", s.locate(e), s.libraries)
        if not nd.single:
            raise s.error(f"node {nd.name} has several outputs; use it as a [nodes.<name>] entry", e)
        if len(e.args) != len(nd.ports):
            raise s.error(f"{nd.name} takes {len(nd.ports)} argument(s), got {len(e.args)}", e,
                          f"its ports: {', '.join(nd.port_names)}")
        args = {p: lower_expr(a, s) for p, a in zip(nd.port_names, e.args)}
        return inline_node(nd, args, s.node, s.builder, s.locate(e), s.libraries, s.inlining)[0]
    assert isinstance(e.func, ast.Name)
    name = e.func.id
    if name == "match":
        return _match(e, s)
    if (problem := arity_problem(name, len(e.args))) is not None:
        raise s.error(problem, e)
    if name in WINDOWS:
        return WINDOWS[name](name, e, s)
    return _builtin(name, [lower_expr(a, s) for a in e.args], e, s)


def _builtin(name: str, args: list[Ref], e: ast.Call, s: Scope) -> Ref:
    """A built-in: written out in ops (WRITTEN_OUT), or else the catalog op of that name."""
    if name in WRITTEN_OUT:
        return WRITTEN_OUT[name](name, args, e, s)
    return s.emit(BY_BUILTIN[name].name, args, e)


def _convert(name: str, x: Ref, e: ast.Call, s: Scope) -> Ref:
    """floor, ceil and int to int64 (an int64 is itself), float to float64 (docs/semantics.md)."""
    if name in ("floor", "ceil"):
        return x if x.type.scalar == I64 else s.emit("f2i", [s.emit(name, [x], e)], e)
    if name == "float":
        return to_float(x, e, s)
    if x.type.dtype == DType.BOOL:
        return _select(x, s.builder.const(1, I64), s.builder.const(0, I64), e, s)
    if x.type.scalar == F64:
        return s.emit("f2i", [x], e)
    if x.type.enum is None:
        return x
    # an enum's code, as an int64 op of its own (adding 0 is exact): the same op id retyped would
    # leave an output `int(e)` typed as the enum, and `violet run` would write its name
    code = Ref(x.id, ValueType(DType.I64, vector=x.type.vector))
    return s.emit("add", [code, s.builder.const(0, I64)], e)


def _mask(args: list[Ref], s: Scope) -> Ref:
    """A reduction's mask: the one given, or every asset (the constant true) when it is omitted."""
    return args[1] if len(args) > 1 else s.builder.const(True, BOOL)


def _mean(name: str, args: list[Ref], e: ast.Call, s: Scope) -> Ref:
    """mean(x, mask) = sum(x, mask) / float(n), n the masked assets: count(mask) for a bool[N] mask, N
    (size(x)) for the mask omitted, select(mask, N, 0) for a scalar one; 0 / 0 (NaN) when none."""
    x, mask = args[0], _mask(args, s)
    if x.type != F64.as_vector():
        raise s.error(f"mean() needs a float64 vector, got {x.type}", e, "convert an int64 vector: mean(float(x))")
    total = s.emit("sum", [x, mask], e)
    if mask.type.vector:
        n = s.emit("count", [mask], e)
    elif mask.literal is True:
        n = s.emit("size", [x], e)
    else:
        n = _select(mask, s.emit("size", [x], e), s.builder.const(0, I64), e, s)
    return s.emit("div", [total, s.emit("i2f", [n], e)], e)


# built-ins that are not one op as called: min and max fold left over any number of arguments, clamp
# is a max then a min, select promotes an int64 branch, the conversions (docs/semantics.md), the
# reductions whose mask may be omitted, and mean
WRITTEN_OUT: dict[str, Callable[[str, list[Ref], ast.Call, Scope], Ref]] = {
    "min": lambda name, args, e, s: _fold(name, args, e, s),
    "max": lambda name, args, e, s: _fold(name, args, e, s),
    "clamp": lambda name, args, e, s: _fold("min", [_fold("max", args[:2], e, s), args[2]], e, s),
    "select": lambda name, args, e, s: _select(args[0], args[1], args[2], e, s),
    **dict.fromkeys(("floor", "ceil", "float", "int"), lambda name, args, e, s: _convert(name, args[0], e, s)),
    **dict.fromkeys(("sum", "min_of", "max_of", "rank"), lambda name, args, e, s: s.emit(name, [args[0], _mask(args, s)], e)),
    "mean": _mean,
}


# ---------------------------------------------------------------- windows: history as hidden state

MAX_WINDOW = 256  # the longest lag or window: each row of history is a state field (a register in HDL)


def _lag(name: str, e: ast.Call, s: Scope) -> Ref:
    """lag(x, k[, fill]): x as it was k rows ago, `fill` until k rows have been seen."""
    x = lower_expr(e.args[0], s)
    k = _window_length(e.args[1], "lag's k", 1, s)
    fill = _fill(x, e.args[2] if len(e.args) > 2 else None, s)
    return _history(x, k, fill, name, s)[-1]


def _rolling(name: str, e: ast.Call, s: Scope) -> Ref:
    """rolling_sum/mean/min/max/std(x, K) over the last K rows, this one included, folded from the oldest
    (docs/semantics.md, "State and windows"); the rows before the first are NaN."""
    x = _float_series(name, e, s)
    size = _window_length(e.args[1], f"{name}'s K", 2 if name == "rolling_std" else 1, s)
    window = [*reversed(_history(x, size - 1, math.nan, name, s)), x]  # oldest first
    if name in ("rolling_min", "rolling_max"):
        return _fold(name.removeprefix("rolling_"), window, e, s)
    total = _fold("add", window, e, s)
    if name == "rolling_sum":
        return total
    mean = s.emit("div", [total, s.builder.const(float(size), F64)], e)
    if name == "rolling_mean":
        return mean
    deviations = [s.emit("sub", [value, mean], e) for value in window]
    squares = _fold("add", [s.emit("mul", [d, d], e) for d in deviations], e, s)
    return s.emit("sqrt", [s.emit("div", [squares, s.builder.const(float(size - 1), F64)], e)], e)


def _ewma(name: str, e: ast.Call, s: Scope) -> Ref:
    """ewma(x, alpha): e = x if the previous e is NaN (the first row, or after a NaN) else
    alpha * x + (1.0 - alpha) * e, in that order."""
    x = _float_series(name, e, s)
    alpha = check_edge(lower_expr(e.args[1], s), F64, s.builder, "ewma's alpha", s.locate(e.args[1]))
    prev = s.builder.state_field(_hidden_names(name, s, 1)[0], x.type, math.nan,
                                 f"{name} in {s.node}: its value on the previous row", s.node)
    fresh = s.emit("isnan", [prev], e)  # nothing to blend with
    blended = s.emit("add", [s.emit("mul", [alpha, x], e),
                             s.emit("mul", [s.emit("sub", [s.builder.const(1.0, F64), alpha], e), prev], e)], e)
    value = s.emit("select", [fresh, x, blended], e)
    s.builder.next_state.append((s.builder.ops[prev.id].name, value.id))
    return value


def _history(x: Ref, rows: int, fill: Scalar, name: str, s: Scope) -> list[Ref]:
    """`rows` hidden state fields holding x as it was 1, 2, ... rows ago (a shift register), each
    starting at `fill`. Every call has fields of its own, named after its node and its first op."""
    fields = []
    for j, field_name in enumerate(_hidden_names(name, s, rows), start=1):
        doc = f"{name} in {s.node}: the value {j} row{'s' if j > 1 else ''} ago"
        fields.append(s.builder.state_field(field_name, x.type, fill, doc, s.node))
    for newer, field_ in zip([x, *fields], fields):
        s.builder.next_state.append((s.builder.ops[field_.id].name, newer.id))
    return fields


def _hidden_names(name: str, s: Scope, count: int) -> list[str]:
    """The names of a call's `count` fields, declared next: `<node path>.<window><op id>_<j>` (op id: the
    first field's), identifiers joined by dots, unique in the graph as op ids are (lower() checks)."""
    first = len(s.builder.ops)
    return [f"{s.node}.{name}{first}_{j}" for j in range(1, count + 1)]


def _window_length(e: ast.expr, what: str, least: int, s: Scope) -> int:
    if isinstance(e, ast.Constant) and type(e.value) is int and least <= e.value <= MAX_WINDOW:
        return e.value
    raise s.error(f"{what} must be an integer literal from {least} to {MAX_WINDOW}", e,
                  "each row of history is a state field: write the length as a number, e.g. 20")


def _float_series(name: str, e: ast.Call, s: Scope) -> Ref:
    x = lower_expr(e.args[0], s)
    if x.type.scalar != F64:
        raise s.error(f"{name}() takes a float64 value, got {x.type}", e.args[0],
                      "convert it: float(x)" if x.type.scalar == I64 else "window a float64 value")
    return x


def _fill(x: Ref, e: ast.expr | None, s: Scope) -> Scalar:
    """lag's fill in x's type: a literal or a [consts] name; by default NaN, 0, false or an enum's first value."""
    scalar = x.type.scalar
    if e is None:
        return {DType.F64: math.nan, DType.I64: 0, DType.BOOL: False}[scalar.dtype]
    if scalar.enum is not None and isinstance(e, ast.Constant) and isinstance(e.value, str):
        if e.value not in scalar.enum:
            raise s.error(f"{quote(e.value)} is not a value of {scalar}", e, f"use one of: {', '.join(scalar.enum)}")
        return scalar.enum.index(e.value)
    value = _literal_value(e, s)
    if value is not None and not scalar.is_enum and literal_type(value) == scalar:
        return value
    if value is not None and scalar == F64 and literal_type(value) == I64 and float(value) == value:
        return float(value)
    raise s.error(f"lag's fill must be a literal of the lagged value's type, {scalar}", e,
                  "write a number, true/false, an enum value's name, or a [consts] name")


def _literal_value(e: ast.expr, s: Scope) -> Scalar | None:
    """The value of a literal (a number, True/False, a negated number) or of a constant's name, emitting no op."""
    if isinstance(e, ast.Constant) and not isinstance(e.value, str):
        return e.value
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub) and isinstance(e.operand, ast.Constant) \
            and type(e.operand.value) in (int, float):
        return -e.operand.value
    value = s.values.get(e.id) if isinstance(e, ast.Name) else None
    return value.literal if isinstance(value, Ref) else None


# built-ins that read the rows before this one: each call declares hidden state fields (their literal
# arguments are read as written, not lowered to ops)
WINDOWS: dict[str, Callable[[str, ast.Call, Scope], Ref]] = {
    "lag": _lag, "ewma": _ewma,
    **dict.fromkeys(("rolling_sum", "rolling_mean", "rolling_min", "rolling_max", "rolling_std"), _rolling),
}


def _match(e: ast.Call, s: Scope) -> Ref:
    """match(enum, A=x, B=y, ...): one value per enum name, all names covered."""
    if len(e.args) != 1:
        raise s.error("match() takes one enum and one keyword per value: match(e, A=x, B=y)", e)
    subject = lower_expr(e.args[0], s)
    values = subject.type.enum
    if values is None:
        raise s.error(f"match() needs an enum, got {subject.type}", e)
    given = [k.arg for k in e.keywords]
    missing = [v for v in values if v not in given]
    unknown = [g for g in given if g not in values]
    if missing or unknown:
        raise s.error(f"match() must give each value of {subject.type} exactly once "
                      f"(missing: {', '.join(missing) or '-'}; unknown: {', '.join(map(str, unknown)) or '-'})", e)
    cases = {k.arg: lower_expr(k.value, s) for k in e.keywords}
    if any(c.type.dtype == DType.F64 for c in cases.values()):
        cases = {k: to_float(c, e, s) for k, c in cases.items()}
    result = cases[values[-1]]
    for code in range(len(values) - 2, -1, -1):
        hit = s.emit("eq", [subject, s.builder.const(code, subject.type)], e)
        result = _select(hit, cases[values[code]], result, e, s)
    return result


# ---------------------------------------------------------------- nodes and graphs


def inline_node(nd: NodeDef, args: dict[str, Ref], node: str, builder: Builder, at: str,
                libraries: Libraries, inlining: tuple[str, ...] = ()) -> list[Ref]:
    """Inline a library node's body with its ports bound to `args`; a node it calls is looked up as the
    graph file using it looks one up (its `libraries`, then VIOLET's node modules). `inlining` names the
    nodes being inlined around this call: a node that calls itself, directly or not, is refused."""
    if nd.name in inlining or len(inlining) >= MAX_INLINE:
        chain = " -> ".join((*inlining, nd.name))
        if nd.name in inlining:
            raise GraphError(f"node {nd.name} calls itself: {chain}", where=at, fix="a node body calls other nodes, never back")
        raise GraphError(f"nodes call nodes more than {MAX_INLINE} deep: {chain}", where=at,
                         fix="call fewer nodes inside one another: name intermediate values as [nodes] entries")
    for (port, ptype), ref in zip(nd.ports, args.values()):
        want = ptype.as_vector() if ref.type.vector else ptype  # a node applies per asset to vectors
        args[port] = check_edge(ref, want, builder, f"port '{port}' of node {nd.name}", at)
    scope = Scope(builder, dict(args), node, nd.locate, libraries, (*inlining, nd.name))
    for target, expr in nd.assigns:
        scope.values[target] = lower_expr(expr, scope)
    outs = [lower_expr(r, scope) for r in nd.returns]
    for (oname, otype), ref, expr in zip(nd.outputs, outs, nd.returns):
        if ref.type.scalar != otype:
            raise GraphError(f"returns {ref.type} for output '{oname}', but declares {otype}", where=nd.locate(expr),
                             fix="fix the return annotation or convert the value")
    return outs


def check_edge(ref: Ref, want: ValueType, builder: Builder, what: str, at: str) -> Ref:
    """A value flowing into a typed port: same type, or an int literal into float64."""
    if ref.type == want:
        return ref
    if want == F64 and ref.type == I64 and ref.literal is not None and float(ref.literal) == ref.literal:
        return builder.const(float(ref.literal), F64)
    raise GraphError(f"type mismatch on edge: {what} is {want}, but the value bound to it is {ref.type}",
                     where=at, fix=_edge_fix(ref.type, want))


def _edge_fix(got: ValueType, want: ValueType) -> str:
    if want.scalar == F64 and got.scalar == I64:
        return "convert explicitly: float(x)"
    if want.scalar == I64 and got.scalar == F64:
        return "convert explicitly: int(x), floor(x) or ceil(x)"
    return "bind a value of the port's type"


def _lower_nodes(graph: Graph, builder: Builder, values: dict[str, Value], prefix: str) -> None:
    for name in graph.order():
        inst = graph.nodes[name]
        path = prefix + name
        at = where(inst.file, inst.key)
        scope = Scope(builder, values, path, lambda n, at=at: at, graph.libraries)
        builder.labels[path] = describe_instance(inst)
        if inst.expr is not None:
            values[name] = lower_expr(inst.expr, _expr_scope(scope, inst.file, f"{inst.key}.expr"))
        elif inst.library is not None:
            args = {p: _bound(inst.bindings[p], scope, inst.file, f"{inst.key}.in.{p}") for p in inst.library.port_names}
            outs = inline_node(inst.library, args, path, builder, where(inst.file, f"{inst.key}.in"), graph.libraries)
            values[name] = outs[0] if inst.library.single else dict(zip([o for o, _ in inst.library.outputs], outs))
        else:
            values[name] = _lower_subgraph(inst, inst.file, scope, path)
        if inst.typical is not None:
            _declare_typical(inst, inst.typical, values[name], builder)


def _declare_typical(inst: NodeInstance, typical: tuple[float, float], value: Value, b: Builder) -> None:
    """Record a node's declared typical range against the op computing its value: one number of its own."""
    at = where(inst.file, f"{inst.key}.typical")
    if not isinstance(value, Ref) or value.type.enum is not None or value.type.dtype == DType.BOOL:
        raise GraphError(f"node {quote(inst.name)} has no numeric value for `typical` to bound", where=at,
                         fix="declare `typical` on a node whose value is one float64 or int64")
    if b.ops[value.id].kind in ("input", "param", "const", "state"):
        raise GraphError(f"node {quote(inst.name)} computes nothing of its own: it names a "
                         f"{b.ops[value.id].kind}", where=at, fix="declare the range where the value is computed")
    b.typical.append((value.id, *typical))


def describe_instance(inst: NodeInstance) -> str:
    """A one-line description of a node instance, for views of the graph."""
    if inst.expr is not None:
        return " ".join(inst.text.split())  # as written: ast.unparse recurses once per term of a long sum
    if inst.library is not None:
        return inst.library.name
    assert inst.subgraph is not None
    return f"graph {inst.subgraph.name}"


def _expr_scope(scope: Scope, file: str, key: str) -> Scope:
    def locate(n: ast.AST) -> str:
        col = getattr(n, "col_offset", None)
        line = getattr(n, "lineno", 2) - 1
        return where(file, key) + (f" ({f'line {line}, ' if line > 1 else ''}column {col + 1})" if col is not None else "")

    return Scope(scope.builder, scope.values, scope.node, locate, scope.libraries, scope.inlining)


def _bound(b: Bound, scope: Scope, file: str, key: str) -> Ref:
    if isinstance(b, ast.AST):
        return lower_expr(b, _expr_scope(scope, file, key))
    return scope.builder.const(b, literal_type(b))


def _lower_subgraph(inst: NodeInstance, file: str, outer: Scope, path: str) -> dict[str, Ref]:
    """Inline a composed graph: its inputs bound in the outer scope, its params bound or hoisted."""
    sub = inst.subgraph
    assert sub is not None
    b = outer.builder
    values: dict[str, Value] = {}
    for spec in sorted(sub.inputs, key=lambda i: i.name):
        key = f"{inst.key}.in.{spec.name}"
        ref = _enum_literal(inst.bindings[spec.name], spec.type, outer, file, key) or \
            _bound(inst.bindings[spec.name], outer, file, key)
        values[spec.name] = check_edge(ref, spec.type, b, f"input '{spec.name}' of graph {sub.name}", where(file, key))
    for pname in sorted(sub.params):
        if pname in inst.param_bindings:
            values[pname] = _param_binding(inst, pname, sub.params[pname], file, outer)
        else:
            values[pname] = _param(b, f"{path}.{pname}", sub.params[pname])
    for cname, v in sorted(sub.consts.items()):
        values[cname] = b.const(v, literal_type(v))
    values.update({name: EnumType(t) for name, t in sub.enums.items()})
    _declare_state(sub, b, values, path + ".")
    _lower_nodes(sub, b, values, path + ".")
    outs = {name: _output(sub, name, values, b, path + ".") for name in sorted(sub.outputs)}
    _lower_next_state(sub, b, values, path + ".")
    return outs


def _enum_literal(b: Bound, want: ValueType, outer: Scope, file: str, key: str) -> Ref | None:
    """A string bound to an enum input is that enum's value: `dc_status = "'NEUTRAL'"`."""
    if not (want.enum is not None and isinstance(b, ast.Constant) and isinstance(b.value, str)):
        return None
    if b.value not in want.enum:
        raise GraphError(f"{b.value!r} is not a value of {want}", where=where(file, key),
                         fix=f"use one of: {', '.join(want.enum)}")
    return outer.builder.const(want.enum.index(b.value), want)


def _param_binding(inst: NodeInstance, pname: str, param: Param, file: str, outer: Scope) -> Ref:
    """A composed graph's parameter bound in the including file: a literal, or an expression whose value
    depends on parameters and constants only (`vd_threshold = "-long_threshold"`), so it is the same on
    every row. The kernels compute such a value once per run, before the scan loop; `--set` on the
    parameters it reads moves it."""
    assert inst.subgraph is not None
    key = f"{inst.key}.params.{pname}"
    ref = check_edge(_bound(inst.param_bindings[pname], outer, file, key), param.type, outer.builder,
                     f"parameter '{pname}'", where(file, key))
    varying = _varying_leaf(outer.builder.ops, ref.id)
    if varying is not None:
        raise GraphError(f"parameter '{pname}' of graph {inst.subgraph.name} is bound to a "
                         f"value that depends on {varying.kind} '{varying.name}'", where=where(file, key),
                         fix="a parameter is one value per run: bind it to an expression of params, consts and "
                             "literals; a value that changes from row to row goes to an input of the composed graph")
    return ref


def _varying_leaf(ops: list[Op], top: int) -> Op | None:
    """An input or state leaf that op `top` reads, directly or through other ops (the first by id), or None
    when its value depends on params and consts only."""
    seen, todo = {top}, [top]
    leaves = []
    while todo:
        op = ops[todo.pop()]
        if op.kind in ("input", "state"):
            leaves.append(op)
        for arg in op.args:
            if arg not in seen:
                seen.add(arg)
                todo.append(arg)
    return min(leaves, key=lambda op: op.id, default=None)


def _param(b: Builder, name: str, param: Param) -> Ref:
    b.params.append(ParamSpec(name, param.type, canonical_literal(param.default), param.doc, param.refine))
    return b.leaf("param", param.type, name)


def _declare_state(graph: Graph, b: Builder, values: dict[str, Value], prefix: str) -> None:
    """State fields as leaves; a composed graph's fields are named `<instance>.<field>`."""
    for name in sorted(graph.state):
        vtype, init, doc = graph.state[name]
        values[name] = b.state_field(prefix + name, vtype, init, doc)


def _lower_next_state(graph: Graph, b: Builder, values: dict[str, Value], prefix: str) -> None:
    for name in sorted(graph.next_state):
        vtype = graph.state[name][0]
        scope = Scope(b, values, f"{prefix}next.{name}", lambda n: "", graph.libraries)
        at = where(graph.file, f"next_state.{name}")
        ref = lower_expr(graph.next_state[name], _expr_scope(scope, graph.file, f"next_state.{name}"))
        ref = check_edge(ref, vtype, b, f"state field '{name}'", at)
        b.next_state.append((prefix + name, ref.id))


def _output(graph: Graph, name: str, values: dict[str, Value], b: Builder, prefix: str) -> Ref:
    scope = Scope(b, values, f"{prefix}out.{name}", lambda n: "", graph.libraries)
    return lower_expr(graph.outputs[name], _expr_scope(scope, graph.file, f"outputs.{name}"))


def _check_state(graph: Graph, state: list[StateSpec]) -> None:
    """Every state field (declared, composed or a window's) has a name of its own, and a vector field a
    universe: a vector input giving N."""
    names = [st.name for st in state]
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise GraphError(f"two state fields are named '{twice}' (a window's hidden field and a declared one)",
                         where=graph.file, fix="rename the declared state field")
    vector = next((st.name for st in state if st.type.vector), None)
    if vector is not None and not any(spec.type.vector for spec in graph.inputs):
        raise GraphError(f"state field '{vector}' is a vector, but the graph has no vector input to give the "
                         "number of assets", where=graph.file,
                         fix="declare a vector input (one value per asset), or make the field a scalar")


def lower(graph: Graph) -> IR:
    """Lower a validated graph (and every graph it composes) to one IR: the recursion over expressions,
    node bodies and composed graphs is bounded by their limits, and given room for that bound."""
    with recursion_room(LOWERING_FRAMES):
        return _lower_graph(graph)


def _lower_graph(graph: Graph) -> IR:
    b = Builder()
    values: dict[str, Value] = {}
    for spec in sorted(graph.inputs, key=lambda i: i.name):
        values[spec.name] = b.leaf("input", spec.type, spec.name)
    for pname in sorted(graph.params):
        values[pname] = _param(b, pname, graph.params[pname])
    for cname, v in sorted(graph.consts.items()):
        values[cname] = b.const(v, literal_type(v))
    values.update({name: EnumType(t) for name, t in graph.enums.items()})
    _declare_state(graph, b, values, "")
    _lower_nodes(graph, b, values, "")
    outs = {name: _output(graph, name, values, b, "") for name in sorted(graph.outputs)}
    _lower_next_state(graph, b, values, "")
    _check_state(graph, b.state)
    return IR(
        name=graph.name,
        inputs=tuple(sorted(graph.inputs, key=lambda i: i.name)),
        params=tuple(sorted(b.params, key=lambda p: p.name)),
        ops=tuple(b.ops),
        outputs=tuple((name, outs[name].id) for name in graph.outputs),
        state=tuple(sorted(b.state, key=lambda st: st.name)),
        next_state=tuple(sorted(b.next_state)),
        source=graph.file,
        labels=tuple(sorted(b.labels.items())),
        record=graph.record,
        typical=tuple(b.typical),
    )
