"""What an exit check between scans gives its exit node and reads back, from the graph's own declarations.

A lane's `exit_check` names a composed exit node, which a host runs alone between scans (docs/runtime.md,
"Exit checks between scans"). The host names none of its inputs or outputs: they are read here from the
graph. An input of the exit graph bound, through each level's `in`, to one of the decision graph's inputs
the host still holds between scans (`held`: the scan's id, the latest prices, the universe) takes that
value; every other input is idle. The lane's trade flag, its trade fields (`<trades>*` outputs) and its closing
order's sizes (`exit_leverage`, `exit_notional`) are outputs of the decision graph, each of which must be, by
references alone, an output of the exit node or one of those held inputs, and is read there.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from dataclasses import dataclass

from violet.dag.graph import Graph, NodeInstance
from violet.dag.types import Lane
from violet.errors import GraphError, quote, where


@dataclass(frozen=True)
class Source:
    """Where a value read between scans comes from: an output of the exit graph, or an input held between scans."""

    output: str = ""
    held_input: str = ""


@dataclass(frozen=True)
class ExitPlan:
    """An exit check's wiring: the exit node's path, which of its graph's inputs take which held input, and
    where the trade flag, each trade field and the closing order's leverage and notional are read."""

    path: str
    given: dict[str, str]  # exit graph input -> the decision graph's held input it is bound to
    flag: Source
    fields: dict[str, Source]  # trade field (prefix dropped) -> its source
    leverage: Source
    notional: Source


def exit_plan(graph: Graph, chain: list[NodeInstance], lane: Lane, held: Collection[str]) -> ExitPlan:
    """The wiring of `lane`'s exit check in decision graph `graph`, its exit node at the end of `chain`
    (`graph.composed_node` of the lane's `exit_check`); one message naming the first output that cannot be
    read between scans (not the exit node's output, nor an input held between scans, by references alone)."""
    levels = [graph, *(node.subgraph for node in chain)]
    exit_graph = levels[-1]
    assert exit_graph is not None  # composed_node checked every node on the path is a composed graph

    def read(output: str) -> Source:
        found = _source(graph.outputs[output], 0, chain, levels, held)  # type: ignore[arg-type]
        if found is None:
            raise GraphError(f"output {output} = {quote(ast.unparse(graph.outputs[output]))} cannot be read between "
                             f"scans: it is not an output of exit node {quote(lane.exit_check)}, nor an input "
                             f"held between scans ({', '.join(sorted(held))}), by references alone",
                             where=where(graph.file, f"outputs.{output}"),
                             fix=f"write it as {lane.exit_check}.<an output of the exit graph>, or leave out --exit-q")
        return found

    given = {spec.name: found.held_input for spec in exit_graph.inputs
             if isinstance(bound := chain[-1].bindings.get(spec.name), ast.expr)
             and (found := _source(bound, len(chain) - 1, chain, levels, held)) is not None and found.held_input}
    fields = {name.removeprefix(lane.trades): read(name) for name in graph.outputs if name.startswith(lane.trades)}
    return ExitPlan(lane.exit_check, given, read(lane.trade), fields, read(lane.exit_leverage),
                    read(lane.exit_notional))


MAX_HOPS = 256  # names followed to find a source; a longer chain of renames is refused, not recursed into


def _source(expr: ast.expr, level: int, chain: list[NodeInstance], levels: list[Graph | None],
            held: Collection[str], hops: int = 0) -> Source | None:
    """Where `expr`, written in the graph at `level` of the exit node's path (0: the decision graph), comes
    from between scans: followed down through the path's nodes' outputs, up through their inputs' bindings
    and through expression nodes that only name another value; None for anything computed."""
    graph = levels[level]
    assert graph is not None
    if hops > MAX_HOPS:
        return None
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and level < len(chain) \
            and expr.value.id == chain[level].name:
        inner = levels[level + 1]
        assert inner is not None
        if expr.attr not in inner.outputs:
            return None
        if level + 1 == len(chain):
            return Source(output=expr.attr)
        return _source(inner.outputs[expr.attr], level + 1, chain, levels, held, hops + 1)
    if not isinstance(expr, ast.Name):
        return None
    node = graph.nodes.get(expr.id)
    if node is not None:
        return None if node.expr is None else _source(node.expr, level, chain, levels, held, hops + 1)
    if expr.id not in {spec.name for spec in graph.inputs}:
        return None
    if level == 0:
        return Source(held_input=expr.id) if expr.id in held else None
    bound = chain[level - 1].bindings.get(expr.id)
    return _source(bound, level - 1, chain, levels, held, hops + 1) if isinstance(bound, ast.expr) else None
