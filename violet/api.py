"""The facade: a graph file in, its IR or its compiled kernels out, parameters bound and checked.

The CLI, the runtime, the audit, the tools and the benchmarks all load and compile graphs through here
(`load`, `loaded`, `compile_graph`, `exit_check`; a test checks nothing else imports the loader, the
lowering or the compiler), so a graph is read, validated, lowered, given parameters and compiled one way
only. Its functions check their arguments' types at the call
(beartype): a notebook calling `load("g.toml", {"k": "3"})` gets a clear error, not a late one deep
in a kernel.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from pathlib import Path

from beartype import beartype

from violet.compile.ir import IR, Scalar
from violet.compile.numba_backend import CompiledGraph
from violet.dag.exits import ExitPlan
from violet.dag.graph import Graph, NodeInstance
from violet.dag.types import DType, Lane, float64_problem, int64_problem
from violet.errors import GraphError, InputError, quote

@beartype
def load(path: str | Path, params: Mapping[str, bool | int | float] | None = None) -> IR:
    """Read, validate and lower a graph file (and the graphs it composes), with parameters bound."""
    return loaded(path, params)[1]


def loaded(path: str | Path, params: Mapping[str, bool | int | float] | None = None) -> tuple[Graph, IR]:
    """The graph file as read (its docs, inputs as declared, variant bases) and its IR, parameters bound."""
    from violet.compile.lower import lower
    from violet.dag.graph import load_graph

    graph = load_graph(path)
    ir = lower(graph)
    return graph, bind(ir, params) if params else ir


@beartype
def compile_graph(graph: str | Path | IR, params: Mapping[str, bool | int | float] | None = None) -> CompiledGraph:
    """A graph file (`load`ed) or an IR, parameters bound, as Numba kernels (from the disk cache when they were
    compiled before); `.bind(universe, params)` then gives the kernels' calling convention."""
    from violet.compile.numba_backend import compile_ir

    ir = load(graph, params) if isinstance(graph, (str, Path)) else bind(graph, params) if params else graph
    return compile_ir(ir)


def exit_check(path: str | Path, lane: Lane, outer: IR, held: Collection[str]) -> tuple[IR, ExitPlan]:
    """`lane`'s exit node (its `exit_check`: `pos`, or nested: `short.pos`, node pos of node short's graph) of
    graph file `path`, lowered alone, and its wiring (`violet.dag.exits`: which of its inputs take the
    `held` inputs, where the trade is read). Its parameters are as `outer` (the lowered outer graph,
    parameters bound) gives them: an unbound one is `outer`'s `<path>.<name>`, one bound to a literal takes
    it, one bound to a parameter of the graph holding the node takes that parameter's value there, found the
    same way. The runtime's exit check between scans runs it on the outer graph's state under `<path>.`."""
    from violet.compile.lower import lower
    from violet.dag.exits import exit_plan
    from violet.dag.graph import composed_node, load_graph

    instance = lane.exit_check
    try:
        graph = load_graph(path)
        chain = composed_node(graph, instance, str(path))
        plan = exit_plan(graph, chain, lane, held)
    except GraphError as exc:
        raise InputError(exc.what, where=exc.where or str(path), fix=exc.fix) from None
    exit_graph = chain[-1].subgraph
    assert exit_graph is not None  # composed_node checked it
    values = {name: _param_value(chain, len(chain), name, outer.param_defaults, str(path), instance)
              for name in exit_graph.params}
    return bind(lower(exit_graph), values, f"{path} node {instance}"), plan


def _param_value(chain: list[NodeInstance], depth: int, name: str, outer: Mapping[str, Scalar], path: str,
                 instance: str) -> bool | int | float:
    """Parameter `name` of the graph of node `chain[depth - 1]` (of the file's graph at depth 0), as the
    outer graph binds it."""
    import ast

    if depth == 0:
        bound: object = outer.get(name)  # None: a name that is no parameter there (a constant's, say)
    else:
        bound = chain[depth - 1].param_bindings.get(name)
        if bound is None:
            return _param_value(chain, depth - 1, f"{chain[depth - 1].name}.{name}", outer, path, instance)
        if isinstance(bound, ast.Name):
            return _param_value(chain, depth - 1, bound.id, outer, path, instance)
    if isinstance(bound, (bool, int, float)):
        return bound
    raise InputError(f"parameter {quote(name)} of {quote(instance)} is bound to an expression",
                     where=path, fix="bind it to a literal or to a parameter to check exits between scans")


def bind(ir: IR, params: Mapping[str, bool | int | float], where: str = "params") -> IR:
    """`ir` with parameter defaults replaced; an unknown name or a value of the wrong type is an error."""
    return ir.with_params({name: param_value(ir, name, value, where) for name, value in params.items()})


def param_type(ir: IR, name: str, where: str) -> DType:
    """The type of parameter `name`; an unknown name is an error listing the graph's parameters."""
    dtype = {p.name: p.type.dtype for p in ir.params}.get(name)
    if dtype is None:
        close = difflib.get_close_matches(name, [p.name for p in ir.params], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(f"unknown parameter {quote(name)}{hint}", where=where,
                         fix=f"parameters of this graph: {', '.join(p.name for p in ir.params) or '(none)'}")
    return dtype


def param_value(ir: IR, name: str, value: bool | int | float, where: str) -> Scalar:
    """`value` as parameter `name`'s type (bool only for bool, an int64 for int64, an exact float for float64),
    meeting the parameter's refinement (`finite`, bounds): the one place a value given to a parameter is
    checked, for --set, --grid, replay and `load(path, params)` alike."""
    dtype = param_type(ir, name, where)
    typed = _typed_value(dtype, name, value, where)
    refine = next(p.refine for p in ir.params if p.name == name)
    if not isinstance(typed, bool) and (problem := refine.violation(typed)) is not None:
        raise InputError(f"parameter '{name}' {problem} ({refine.describe()})", where=where,
                         fix=f"give '{name}' a value that meets its refinement in the graph file")
    return typed


def _typed_value(dtype: DType, name: str, value: bool | int | float, where: str) -> Scalar:
    """`value` as a `dtype`, exactly, or an error naming the parameter."""
    if dtype == DType.BOOL and isinstance(value, bool):
        return value
    if dtype == DType.I64 and isinstance(value, int) and not isinstance(value, bool):
        problem = int64_problem(value)
    elif dtype == DType.F64 and isinstance(value, (int, float)) and not isinstance(value, bool):
        problem = None if isinstance(value, float) else float64_problem(value)
        value = float(value) if problem is None else value
    else:
        problem = f"is {dtype.value}, got {type(value).__name__} {quote(value)}"
    if problem is None:
        return value
    raise InputError(f"parameter '{name}': {problem}", where=where, fix=f"write a {dtype.value} value it holds exactly")

