"""The decision engine: a compiled stateful graph hosted between scans.

It calls the graph's compiled step kernel once per scan with the scan's inputs,
the universe and the state it holds, keeps the next state, and returns the
decision record (enums as names). It decides every scan; what executes is the
execution layer's business. `check_exit` runs the exit graph alone between
scans (a finer exit cadence) on the same position state: the composed exit
node each lane of the graph's record names, whatever its name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from violet.compile.ir import IR
from violet.compile.numba_backend import BoundGraph, CompiledGraph
from violet.dag.types import DType
from violet.errors import InputError

CHECK_INPUTS = ("scan_id", "price", "bar_close")  # what an exit graph is given between scans
IDLE: dict[DType, Any] = {DType.BOOL: False, DType.I64: 0, DType.F64: 0.0}  # its other inputs: no entry


class ExitCheck:
    """A composed exit graph run alone between scans on the decision's state under `<instance>.`.

    It is given the last scan's id, the latest prices and bar_close = false; its other inputs (the entry
    it may take) are false, 0 or 0.0. A closed trade's fields are its outputs named like the trade field,
    or with `pos_` or `exit_` before it; exit_scan is the last scan. `lane` is the record's lane it exits."""

    def __init__(self, graph: CompiledGraph, instance: str, trade_fields: list[str], where: str, lane: str = "") -> None:
        self.graph, self.prefix, self.lane = graph, instance + ".", lane
        ir = graph.ir
        names = set(ir.output_names)
        self.fields = {f: next((c for c in (f, f"pos_{f}", f"exit_{f}") if c in names), "")
                       for f in dict.fromkeys([*trade_fields, "asset", "leverage", "notional"]) if f != "exit_scan"}
        lacks = [f"input {n}" for n in CHECK_INPUTS if n not in {s.name for s in ir.inputs}]
        lacks += ["output exit"] * ("exit" not in names) + [f"an output for the trade's {f}" for f, c in self.fields.items() if not c]
        if lacks:
            raise InputError(f"exit graph {ir.name} (node {instance}) cannot be checked between scans: it lacks "
                             + ", ".join(lacks), where=where, fix="see docs/runtime.md, \"Exit checks between scans\"")
        self.idle = {s.name: IDLE[s.type.dtype] for s in ir.inputs if s.name not in CHECK_INPUTS and not s.universe}

    def run(self, state: dict[str, Any], scan_id: int, price: np.ndarray) -> dict[str, Any] | None:
        """One check: `state` advances in place; the closed trade, or None."""
        eg = self.graph
        mine = {s.name: state[self.prefix + s.name] for s in eg.ir.state}
        outputs, next_state = eg.advance({**self.idle, "scan_id": scan_id, "price": price, "bar_close": False}, mine)
        state.update({self.prefix + name: value for name, value in next_state.items()})
        if not outputs["exit"]:
            return None
        named = namer(eg.ir, list(outputs))(tuple(outputs.values()))
        return {"lane": self.lane, "exit_scan": scan_id, **{f: named[c] for f, c in self.fields.items()}}

def namer(ir: IR, names: list[str]) -> Callable[[tuple], dict[str, Any]]:
    """A function turning kernel output values (Python scalars and arrays, as Numba returns them) into a
    record, enum codes as names (a vector's as a list of names)."""
    enums = [(k, name, ir.output_type(name).enum, ir.output_type(name).vector) for k, name in enumerate(names)
             if ir.output_type(name).enum]

    def record(values: tuple) -> dict[str, Any]:
        out = dict(zip(names, values))
        for k, name, enum, vector in enums:
            out[name] = [enum[c] for c in values[k].tolist()] if vector else enum[values[k]]
        return out

    return record


class DecisionEngine:
    """Hosts one compiled stateful graph, bound to its universe and parameters, and its state."""

    def __init__(self, graph: BoundGraph, exit_checks: Sequence[ExitCheck] = ()) -> None:
        self.graph, self.ir = graph, graph.ir
        self._record = namer(graph.ir, graph.output_names)
        self.state: dict[str, Any] = graph.initial_state()
        self.exit_checks = tuple(exit_checks)
        self.latencies_us: list[float] = []

    def decide(self, scan: Mapping[str, Any]) -> dict[str, Any]:
        """One scan's decision record; the state advances."""
        start = time.perf_counter_ns()
        outputs, self.state = self.graph.step(scan, self.state)
        record = self._record(outputs)
        self.latencies_us.append((time.perf_counter_ns() - start) / 1000)
        return record

    def check_exit(self, scan_id: int, price: np.ndarray) -> list[dict[str, Any]]:
        """An intra-bar exit check at `price`: each lane's exit graph alone, on this engine's position state;
        the trades they close (each with its lane)."""
        assert self.exit_checks, "no exit graph hosted"
        return [trade for check in self.exit_checks if (trade := check.run(self.state, scan_id, price)) is not None]
