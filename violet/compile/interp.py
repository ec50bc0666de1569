"""The reference interpreter: the IR's semantics, executed one op at a time in Python.

It is deliberately plain: a loop over the SSA list calling the functions of
`violet.compile.semantics`. It is the definition every other backend is
measured against, and `trace` gives every intermediate value, which is how
`violet diff` names the first op whose values differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from violet.compile.ir import IR, Scalar
from violet.compile.semantics import op_function
from violet.dag.types import DType

Program = list[tuple[int, Callable[..., Scalar], tuple[int, ...]]]


def python_value(value: Scalar | np.generic, dtype: DType) -> Scalar:
    """A value as the interpreter holds it: a Python float, int or bool."""
    if dtype == DType.F64:
        return float(value)
    if dtype == DType.I64:
        return int(value)
    return bool(value)


class Interpreter:
    """Evaluates one IR row by row; build once, call many times."""

    def __init__(self, ir: IR) -> None:
        self.ir = ir
        self._program: Program = [
            (op.id, op_function(op.kind, ir.ops[op.args[0]].type.dtype), op.args)
            for op in ir.ops if op.kind not in ("input", "param", "const")
        ]
        self._consts = [op.value if op.kind == "const" else None for op in ir.ops]
        self._inputs = [(op.id, op.name, op.type.dtype) for op in ir.ops if op.kind == "input"]
        self._params = [(op.id, op.name, op.type.dtype) for op in ir.ops if op.kind == "param"]

    def trace(self, inputs: Mapping[str, Scalar], params: Mapping[str, Scalar] | None = None) -> list[Scalar]:
        """Every op's value for one row of inputs (params default to the IR's)."""
        v = self._with_params(params)
        for i, name, dtype in self._inputs:
            v[i] = python_value(inputs[name], dtype)
        return self._run(v)

    def step(self, inputs: Mapping[str, Scalar], params: Mapping[str, Scalar] | None = None) -> dict[str, Scalar]:
        """The outputs for one row."""
        v = self.trace(inputs, params)
        return {name: v[i] for name, i in self.ir.outputs}

    def batch(self, columns: Mapping[str, np.ndarray], params: Mapping[str, Scalar] | None = None
              ) -> dict[str, np.ndarray]:
        """The outputs for every row of equal-length input columns."""
        base = self._with_params(params)
        slots = [i for i, _, _ in self._inputs]
        cols = [[python_value(x, dtype) for x in columns[name].tolist()] for _, name, dtype in self._inputs]
        n = len(cols[0]) if cols else 0
        results = [[] for _ in self.ir.outputs]
        for row in zip(*cols):
            v = list(base)
            for i, x in zip(slots, row):
                v[i] = x
            self._run(v)
            for out, (_, i) in zip(results, self.ir.outputs):
                out.append(v[i])
        return {name: np.array(vals, dtype=self.ir.output_type(name).dtype.value).reshape(n)
                for (name, _), vals in zip(self.ir.outputs, results)}

    def _with_params(self, params: Mapping[str, Scalar] | None) -> list[Scalar]:
        values = {**self.ir.param_defaults, **(params or {})}
        v = list(self._consts)
        for i, name, dtype in self._params:
            v[i] = python_value(values[name], dtype)
        return v

    def _run(self, v: list[Scalar]) -> list[Scalar]:
        for i, fn, args in self._program:
            v[i] = fn(*[v[a] for a in args])
        return v
