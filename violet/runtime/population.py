"""A live population: P parameter instances of the run's decision graph, stepped together on every scan.

The seed's VIBRISS on the reactor: the run's own parameters are the designated instance, decided and
journaled in full by the decision engine; beside it, P instances of the same graph, each with its own
values of the swept parameters and its own state, advance in one compiled call per scan
(`population_step`: the work no swept parameter touches is done once, the instances spread over the
cores). Each instance's bits are the step kernel's with its parameters (tests/test_live_population.py).
Journaling every decision of every instance would be P rows per scan; the population keeps per-instance
aggregates instead (entries, trades, wins, summed pnl, every lane's), read through the graph's record, written as one
`population` row per instance when the run ends. Its latency is measured around the compiled call alone.
It runs on one core by default: on a machine where other processes are busy, a parallel call waits for
its slowest thread to be scheduled (20 ms per scan measured on 2 loaded cores, against 154 us for 10,000
instances on one: benchmarks/RESULTS.md, "Live populations").
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import numba
import numpy as np

from violet.api import compile_graph
from violet.compile.ir import Scalar
from violet.compile.numba_backend import CompiledGraph
from violet.compile.numba_codegen import population_outputs
from violet.compile.totals import TOTALS, LaneOutputs, total_name, with_totals
from violet.errors import InputError
from violet.runtime.record import DecisionRecord, HostLane


class PopulationHost:
    """Hosts P instances of one compiled decision graph between scans, and their aggregates."""

    def __init__(self, cg: CompiledGraph, universe: Mapping[str, np.ndarray], sets: list[dict[str, Scalar]],
                 record: DecisionRecord, params: Mapping[str, Any] | None = None, threads: int = 1,
                 assets: int = 0) -> None:
        if not sets or not sets[0]:
            raise InputError("a population needs at least one swept parameter", where="--population",
                             fix="give --population name=a,b,c (or name=lo:hi:n)")
        self.sets = sets
        self.threads = threads
        # each lane's totals of a scan are outputs of the graph the population runs (violet.compile.totals)
        lanes = [_lane_outputs(cg.ir, host) for host in record.lanes]
        totalled = compile_graph(with_totals(cg.ir, lanes))
        ir = totalled.ir
        pop = totalled.population(list(sets[0]))
        values = {name: np.array([s[name] for s in sets], dtype=_dtype(cg, name)) for name in sets[0]}
        self._bound = cg.bind(universe, params, assets)  # the inputs' calling convention (the totals add none)
        self.states = pop.states(len(sets), self._bound.assets)
        # the call, decided once (the per-scan path): kernel, parameters, state rows, outputs
        self._step = pop.kernel("population_step")
        self._head = (self._bound.assets, len(sets))
        self._tail = [*pop.param_args(values, params), *[self.states[op.name] for op in ir.leaves("state")]]
        written = {name: np.empty(len(sets), ir.ops[i].type.dtype.value) for name, i in population_outputs(ir)}
        self._tail += list(written.values())
        self.outputs = {name: out for name, out in written.items() if name in cg.ir.output_names}  # the graph's own
        self._totals = [[written[total_name(lane.name, what)] for lane in lanes] for what in TOTALS]
        self.scans = 0
        self.entries, self.trades, self.wins = (np.zeros(len(sets), np.int64) for _ in range(3))
        self.pnl = np.zeros(len(sets))
        self.latencies_us: list[float] = []

    def on_scan(self, scan: Mapping[str, Any]) -> None:
        """Every instance decides this scan (one compiled call, timed); the aggregates add each lane's totals."""
        numba.set_num_threads(self.threads)  # numba's setting is per calling thread: this one's, every call
        start = time.perf_counter_ns()
        self._step(*self._head, *self._bound.input_args(scan), *self._tail)
        self.latencies_us.append((time.perf_counter_ns() - start) / 1000)
        self.scans += 1
        for total, per_lane in zip((self.entries, self.trades, self.wins, self.pnl), self._totals):
            for lane_total in per_lane:
                total += lane_total

    def rows(self, run_id: str) -> list[dict[str, Any]]:
        """One `population` journal row per instance."""
        return [{"run_id": run_id, "instance": k, "params": json.dumps(s), "scans": self.scans,
                 "entries": int(self.entries[k]), "trades": int(self.trades[k]), "wins": int(self.wins[k]),
                 "pnl": float(self.pnl[k])} for k, s in enumerate(self.sets)]


def _lane_outputs(ir: Any, host: HostLane) -> LaneOutputs:
    """What a population reads of one lane: its action, trade flag and trade pnl outputs, and the action codes
    that enter (a per-asset lane's are vectors: violet.compile.totals folds them per scan)."""
    lane = host.lane
    enum = ir.output_type(lane.action).enum or ()
    entries = tuple(enum.index(v) for v, role in host.roles.items() if role.startswith("enter_"))
    return LaneOutputs(lane.name, lane.action, lane.trade, lane.trades + "pnl", entries)


def _dtype(cg: CompiledGraph, name: str) -> str:
    return next(op.type.dtype.value for op in cg.ir.leaves("param") if op.name == name)
