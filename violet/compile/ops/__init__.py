"""The op catalog: every IR op declared once, with its type rule, meaning, built-in name, and every
backend's rule or refusal beside it (`spec.OpSpec`).

Ops live in small modules by family (arith, logic, convert, vector, ...); each
exports `OPS`, a tuple of `OpSpec`. The backends (interp, numba_codegen,
ranges, fixed, verilog) read an op's rule here by its kind and hold no table of
their own, so adding an op is adding its entry (and its built-in's name to
`violet.dag.builtins` if the expression language calls it).
"""

from __future__ import annotations

from violet.compile.ops import arith, convert, logic, mathfn, reduce, sqrt, transcendental, vector
from violet.compile.ops.spec import BACKENDS, OpSpec, Refusal
from violet.dag.types import ValueType

__all__ = ["BACKENDS", "BY_BUILTIN", "CATALOG", "OpSpec", "Refusal", "numba_helpers", "result_type", "spec"]

FAMILIES = (arith, logic, convert, vector, sqrt, reduce, transcendental, mathfn)
CATALOG: dict[str, OpSpec] = {op.name: op for family in FAMILIES for op in family.OPS}
BY_BUILTIN: dict[str, OpSpec] = {op.builtin: op for op in CATALOG.values() if op.builtin}


def spec(kind: str) -> OpSpec:
    """The catalog entry of an IR op kind."""
    try:
        return CATALOG[kind]
    except KeyError:
        raise KeyError(f"unknown op kind '{kind}'") from None


def result_type(kind: str, args: list[ValueType]) -> ValueType | str:
    """Type of `kind` applied to `args`, or a sentence saying why it is ill-typed.

    An elementwise op applies per asset when any operand is a vector; a scalar
    operand is then used for every asset."""
    if kind not in CATALOG:
        return f"unknown op kind '{kind}'"
    op = CATALOG[kind]
    if not op.elementwise:
        return op.typing(kind, args)
    result = op.typing(kind, [a.scalar for a in args])
    if isinstance(result, str) or not any(a.vector for a in args):
        return result
    return result.as_vector()


def numba_helpers() -> str:
    """The jitted helpers the ops' Numba renderings call, in catalog order (a `{jit}` slot each), each
    once: ops sharing a rule (argmax and argmin, min_of and max_of) declare the same helper."""
    return "".join(dict.fromkeys(op.numba_helper for op in CATALOG.values()))
