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
from dataclasses import dataclass
from typing import Any

from violet.compile.ir import IR
from violet.compile.numba_backend import BoundGraph, CompiledGraph
from violet.dag.exits import ExitPlan, Source
from violet.dag.types import DType
from violet.errors import InputError, quote

IDLE: dict[DType, Any] = {DType.BOOL: False, DType.I64: 0, DType.F64: 0.0}  # an exit graph's inputs between scans


@dataclass(frozen=True)
class Closed:
    """A trade an exit check closed: its record (the lane, the trade fields) and its closing order's sizes."""

    trade: dict[str, Any]
    leverage: float
    notional: float


class ExitCheck:
    """A composed exit graph run alone between scans on the decision's state under `<path>.`, wired as the
    graph declares (`violet.dag.exits`: `plan`).

    The inputs its binding ties to the decision graph's scan id, prices or universe inputs are given the last
    scan's id, the latest prices and the universe; every other is false, 0 or 0.0 (idle: they may only
    matter on a scan). The trade flag, the trade fields and the closing order's sizes are read where the plan
    says. `lane` is the record's lane it exits."""

    def __init__(self, graph: CompiledGraph, plan: ExitPlan, lane: str = "") -> None:
        self.graph, self.plan, self.prefix, self.lane = graph, plan, plan.path + ".", lane
        self.idle = {s.name: IDLE[s.type.dtype] for s in graph.ir.inputs if not s.universe}
        unheld = [s.name for s in graph.ir.inputs if s.universe and s.name not in plan.given]
        if unheld:  # a universe has no idle value: it must be the decision graph's own
            raise InputError(f"exit node {quote(plan.path)} reads universe input {quote(unheld[0])}, which is not "
                             "bound to a universe input of the decision graph: it has no value between scans",
                             where=f"{plan.path}.{unheld[0]}", fix="bind it to the decision graph's universe input")

    def run(self, state: dict[str, Any], held: Mapping[str, Any]) -> Closed | None:
        """One check, given the decision graph's inputs the host holds between scans (`held`: the last scan's
        id, the latest prices, the universe): `state` advances in place; the closed trade, or None."""
        eg = self.graph
        mine = {s.name: state[self.prefix + s.name] for s in eg.ir.state}
        given = {name: held[source] for name, source in self.plan.given.items()}
        outputs, next_state = eg.advance({**self.idle, **given}, mine)
        state.update({self.prefix + name: value for name, value in next_state.items()})
        named = namer(eg.ir, list(outputs))(tuple(outputs.values()))

        def read(source: Source) -> Any:
            return named[source.output] if source.output else held[source.held_input]

        if not read(self.plan.flag):
            return None
        trade = {"lane": self.lane, **{f: read(source) for f, source in self.plan.fields.items()}}
        return Closed(trade, float(read(self.plan.leverage)), float(read(self.plan.notional)))


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

    def check_exit(self, scan: Mapping[str, Any]) -> list[Closed]:
        """An intra-bar exit check on the per-scan inputs held between scans (the last scan's id, the latest
        prices) and the universe: each lane's exit graph alone, on this engine's position state; the trades
        they close."""
        assert self.exit_checks, "no exit graph hosted"
        held = {**self.graph.universe, **scan}
        return [closed for check in self.exit_checks if (closed := check.run(self.state, held)) is not None]
