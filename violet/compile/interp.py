"""The reference interpreter: the IR's semantics, executed one op at a time in Python.

It is deliberately plain: a loop over the SSA list calling the functions of
`violet.compile.semantics`, vectors as Python lists, state carried from one
row to the next in a dict. It is the definition every other backend is
measured against, and `trace` gives every intermediate value, which is how
`violet diff` names the first op whose values differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from violet.compile import semantics as sem
from violet.compile.ir import IR, LEAVES, Op, input_shape
from violet.compile.ops import spec
from violet.dag.types import DType, ValueType

Program = list[tuple[int, Callable[..., Any], tuple[int, ...]]]
Values = Mapping[str, Any]


def python_value(value: Any, vtype: ValueType) -> Any:
    """A value as the interpreter holds it: a Python float, int or bool, or a list of them."""
    if vtype.vector:
        return np.asarray(value, dtype=np.dtype(vtype.dtype.value)).tolist()
    if vtype.dtype == DType.F64:
        return float(value)
    return int(value) if vtype.dtype == DType.I64 else bool(value)


def op_callable(ir: IR, op: Op) -> Callable[..., Any]:
    """The function computing `op` from its argument values: its catalog rule, lifted over the
    assets for an elementwise op on vectors."""
    args = [ir.ops[a].type for a in op.args]
    entry = spec(op.kind)
    fn = entry.interp(op, args)
    return sem.lift(fn, tuple(a.vector for a in args)) if entry.elementwise and op.type.vector else fn


class Interpreter:
    """Evaluates one IR row by row (scan by scan); build once, call many times."""

    def __init__(self, ir: IR) -> None:
        self.ir = ir
        self._program: Program = [(op.id, op_callable(ir, op), op.args) for op in ir.ops if op.kind not in LEAVES]
        self._consts = [op.value if op.kind == "const" else None for op in ir.ops]

    def trace(self, inputs: Values, params: Values | None = None, state: Values | None = None) -> list[Any]:
        """Every op's value for one row (params and state default to the IR's)."""
        v = self._base(params, state, input_shape(self.ir, inputs, rows=False)[1])
        self._load(v, inputs, "input")
        return self._run(v)

    def advance(self, inputs: Values, state: Values | None = None, params: Values | None = None
                ) -> tuple[dict[str, Any], dict[str, Any]]:
        """One scan: the outputs and the next state."""
        v = self.trace(inputs, params, state)
        return self._outputs(v), {name: v[i] for name, i in self.ir.next_state}

    def step(self, inputs: Values, params: Values | None = None, state: Values | None = None) -> dict[str, Any]:
        """The outputs for one row."""
        return self._outputs(self.trace(inputs, params, state))

    def scan(self, columns: Mapping[str, np.ndarray], params: Values | None = None, state: Values | None = None
             ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Run T rows in order, carrying the state; universe inputs are given once (length N)."""
        assets = input_shape(self.ir, columns, rows=True)[1]
        base = self._base(params, None, assets)
        per_run, per_row = self.ir.input_leaves(universe=True), self.ir.input_leaves(universe=False)
        self._load(base, {op.name: columns[op.name] for op in per_run}, "input")
        rows = [[python_value(x, op.type.scalar) for x in columns[op.name].tolist()] if not op.type.vector
                else columns[op.name].tolist() for op in per_row]
        current = {**self.ir.initial_state(assets), **(state or {})}
        results: list[list[Any]] = [[] for _ in self.ir.outputs]
        for row in zip(*rows):
            v = list(base)
            for op, x in zip(per_row, row):
                v[op.id] = x
            for op in self.ir.leaves("state"):
                v[op.id] = python_value(current[op.name], op.type)
            self._run(v)
            for out, (_, i) in zip(results, self.ir.outputs):
                out.append(v[i])
            current = {name: v[i] for name, i in self.ir.next_state}
        n = len(rows[0]) if rows else 0
        outs = {name: _array(vals, self.ir.output_type(name), n) for (name, _), vals in zip(self.ir.outputs, results)}
        return outs, current

    def batch(self, columns: Mapping[str, np.ndarray], params: Values | None = None) -> dict[str, np.ndarray]:
        """The outputs for every row (a stateful graph starts from its initial state)."""
        return self.scan(columns, params)[0]

    def _base(self, params: Values | None, state: Values | None, assets: int) -> list[Any]:
        v = list(self._consts)
        self._load(v, {**self.ir.param_defaults, **(params or {})}, "param")
        self._load(v, {**self.ir.initial_state(assets), **(state or {})}, "state")
        return v

    def _load(self, v: list[Any], values: Values, kind: str) -> None:
        for op in self.ir.leaves(kind):
            if op.name in values:
                v[op.id] = python_value(values[op.name], op.type)

    def _run(self, v: list[Any]) -> list[Any]:
        for i, fn, args in self._program:
            v[i] = fn(*[v[a] for a in args])
        return v

    def _outputs(self, v: list[Any]) -> dict[str, Any]:
        return {name: v[i] for name, i in self.ir.outputs}


def _array(values: list[Any], vtype: ValueType, n: int) -> np.ndarray:
    arr = np.array(values, dtype=np.dtype(vtype.dtype.value))
    return arr if vtype.vector else arr.reshape(n)
