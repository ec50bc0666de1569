"""The IR: one flat, typed SSA list of primitive ops that every backend reads.

An op's id is its index in the list; its args are ids of earlier ops, so the
list is already in a valid evaluation order. Leaves are `input`, `param` and
`const`; every other kind is declared once in the op catalog
(`violet.compile.ops`, with every backend's rule) and defined exactly in
`docs/semantics.md`. No backend ever calls a node's Python
function: the IR is the contract.

Two hashes identify a graph:
- `content_hash`: everything that can change a result (ops, constants,
  parameter values, inputs, refinements of inputs and parameters, outputs
  and their names). It is
  stable across processes and across formatting and ordering of the file.
- `code_hash`: the same without parameter values and refinements, because
  parameters are kernel arguments: changing one must not recompile.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from violet.dag.types import InputSpec, Record, Refinement, ValueType
from violet.errors import InputError

Scalar = float | int | bool

LEAVES = frozenset({"input", "param", "const", "state"})  # every other kind is in violet.compile.ops


@dataclass(frozen=True)
class Op:
    """One SSA value: `%id = kind(args...)` of type `type`.

    `value` holds a const's value, `name` an input's or param's name, and
    `node` the path of the graph node that produced it (for attribution:
    `sz/base` is node `base` inside the composed graph instance `sz`).
    """

    id: int
    kind: str
    type: ValueType
    args: tuple[int, ...] = ()
    value: Scalar | None = None
    name: str = ""
    node: str = ""

    def render(self) -> str:
        """One line of IR text, e.g. `%7 = mul f64 %5, %6    ; sz/base`."""
        if self.kind == "const":
            rhs = f"const {self.type} {literal_text(self.value)}"
        elif self.kind in ("input", "param", "state"):
            rhs = f"{self.kind} {self.type} {self.name}"
        else:
            rhs = f"{self.kind} {self.type} " + ", ".join(f"%{a}" for a in self.args)
        return f"%{self.id} = {rhs}" + (f"    ; {self.node}" if self.node else "")


@dataclass(frozen=True)
class ParamSpec:
    """A parameter: a named run-time constant with a default value, and the refinement (finite, bounds)
    every value given to it must meet (checked where values are bound: violet.api.param_value)."""

    name: str
    type: ValueType
    default: Scalar
    doc: str = ""
    refine: Refinement = Refinement()


@dataclass(frozen=True)
class StateSpec:
    """A state field: carried from one scan to the next, starting at `init` (a vector field: one value
    per universe asset, each starting at `init`)."""

    name: str
    type: ValueType
    init: Scalar
    doc: str = ""

    def start(self, assets: int) -> Scalar | np.ndarray:
        """The field's initial value for a universe of `assets` assets: `init`, or `assets` copies of it."""
        if self.type.vector:
            return np.full(assets, self.init, dtype=self.type.dtype.value)
        return self.init


@dataclass(frozen=True)
class IR:
    """A lowered graph: inputs, params, ops in evaluation order, named outputs."""

    name: str
    inputs: tuple[InputSpec, ...]
    params: tuple[ParamSpec, ...]
    ops: tuple[Op, ...]
    outputs: tuple[tuple[str, int], ...]
    state: tuple[StateSpec, ...] = ()
    next_state: tuple[tuple[str, int], ...] = ()  # state field -> op computing its next value
    source: str = ""
    labels: tuple[tuple[str, str], ...] = ()  # node path -> what it is (display only, not hashed)
    record: Record | None = None  # a decision graph's [record]: the outputs its host reads
    typical: tuple[tuple[int, float, float], ...] = ()  # op id -> its node's declared typical range (hardware)
    _hashes: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def canonical_outputs(self) -> list[tuple[str, int]]:
        """Outputs sorted by name: the order kernels return them in (file order is display only)."""
        return sorted(self.outputs)

    @property
    def output_names(self) -> list[str]:
        return [name for name, _ in self.outputs]

    def output_type(self, name: str) -> ValueType:
        return self.ops[dict(self.outputs)[name]].type

    @property
    def stateful(self) -> bool:
        return bool(self.state)

    def initial_state(self, assets: int) -> dict[str, Scalar | np.ndarray]:
        """Every state field's initial value for a universe of `assets` assets (vector fields as arrays):
        the one way every backend starts a stateful graph."""
        return {s.name: s.start(assets) for s in self.state}

    def input_spec(self, name: str) -> InputSpec:
        return next(spec for spec in self.inputs if spec.name == name)

    def input_leaves(self, universe: bool) -> list[Op]:
        """The input ops read once per run (universe columns) or once per row, in op order."""
        per_run = {spec.name for spec in self.inputs if spec.universe}
        return [op for op in self.leaves("input") if (op.name in per_run) == universe]

    def downstream(self, op_id: int) -> set[int]:
        """The ops that read `op_id`'s value, directly or through others (ops are in SSA order)."""
        reached = {op_id}
        for op in self.ops[op_id + 1:]:
            if reached.intersection(op.args):
                reached.add(op.id)
        return reached - {op_id}

    def leaves(self, kind: str) -> list[Op]:
        """The leaf ops of one kind (input, param, state), in op order."""
        return [op for op in self.ops if op.kind == kind]

    @property
    def param_defaults(self) -> dict[str, Scalar]:
        return {p.name: p.default for p in self.params}

    def with_params(self, values: dict[str, Scalar]) -> IR:
        """The same IR with some parameter defaults replaced (values already typed)."""
        params = tuple(replace(p, default=values.get(p.name, p.default)) for p in self.params)
        return replace(self, params=params, _hashes={})

    @property
    def content_hash(self) -> str:
        return self._hash("content", with_values=True)

    @property
    def code_hash(self) -> str:
        return self._hash("code", with_values=False)

    def _hash(self, key: str, *, with_values: bool) -> str:
        if key not in self._hashes:
            text = json.dumps(self._canonical(with_values), separators=(",", ":"))
            self._hashes[key] = hashlib.sha256(text.encode()).hexdigest()
        return self._hashes[key]

    def _canonical(self, with_values: bool) -> dict[str, Any]:
        """A plain-data form independent of dict order and float repr."""
        ops = [[o.kind, str(o.type), list(o.args), literal_text(o.value), o.name] for o in self.ops]
        data: dict[str, Any] = {
            "ops": ops,
            "inputs": sorted([i.name, str(i.type)] for i in self.inputs),
            "params": sorted([p.name, str(p.type)] for p in self.params),
            "outputs": [list(o) for o in self.canonical_outputs],
            "state": sorted([s.name, str(s.type)] for s in self.state),
            "next_state": sorted(list(n) for n in self.next_state),
            "universe": sorted(i.name for i in self.inputs if i.universe),
        }
        if with_values:
            data["name"] = self.name
            data["param_values"] = sorted([p.name, literal_text(p.default)] for p in self.params)
            data["refine"] = sorted([i.name, repr(i.refine)] for i in self.inputs)
            data["state_init"] = sorted([s.name, literal_text(s.init)] for s in self.state)
            if refined := sorted([p.name, repr(p.refine)] for p in self.params if p.refine != Refinement()):
                data["param_refine"] = refined  # only when there is one: the hashes of other graphs stay as they were
            data["nodes"] = [o.node for o in self.ops]
            if self.record is not None:  # only when there is one: the hashes of other graphs stay as they were
                data["record"] = self.record.canonical()
            if self.typical:  # the same: a declared range changes the hardware, not the float64 code
                data["typical"] = [[i, literal_text(lo), literal_text(hi)] for i, lo, hi in self.typical]
        return data

    def render(self) -> str:
        """The whole IR as text, one op per line."""
        lines = [f"; graph {self.name}  content {self.content_hash[:16]}"]
        lines += [op.render() for op in self.ops]
        lines += [f"out {name} = %{i}" for name, i in self.outputs]
        lines += [f"next {name} = %{i}" for name, i in self.next_state]
        return "\n".join(lines)


def literal_text(value: Scalar | None) -> str:
    """Exact text of a constant: floats by their hex form, so no digit is lost."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return value.hex()
    return str(value)


def input_shape(ir: IR, values: Mapping[str, Any], *, rows: bool) -> tuple[int, int]:
    """(T, N) of the inputs given to a kernel, refusing any that disagree.

    The kernels take T and N once and index every column with them, so a shorter column would be
    read past its end. With `rows`, per-row inputs are columns of T values ((T, N) for a vector)
    and universe inputs (N,); without, one row: a vector is (N,), a scalar a single value."""
    seen: dict[int, dict[str, int]] = {0: {}, 1: {}}  # axis -> input name -> its length (T, then N)
    for op in ir.leaves("input"):
        per_row = rows and not ir.input_spec(op.name).universe
        try:
            shape = np.shape(values[op.name])
        except ValueError:  # numpy refuses ragged nested lists
            raise InputError(f"input '{op.name}' is ragged (lists of different lengths)", where="kernel inputs") from None
        if len(shape) != per_row + op.type.vector:
            raise InputError(f"input '{op.name}' has shape {shape}, but {op.type} takes {per_row + op.type.vector} "
                             "dimension(s) here", where="kernel inputs")
        if per_row:
            seen[0][op.name] = shape[0]
        if op.type.vector:
            seen[1][op.name] = shape[-1]
    for axis, what in ((0, "rows"), (1, "values per vector")):
        if len(set(seen[axis].values())) > 1:
            listed = ", ".join(f"{name} {n}" for name, n in seen[axis].items())
            raise InputError(f"inputs disagree on the number of {what}: {listed}", where="kernel inputs",
                             fix="give every input the same length")
    return next(iter(seen[0].values()), 0), next(iter(seen[1].values()), 0)
