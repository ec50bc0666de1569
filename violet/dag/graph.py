"""Load a graph file into a validated `Graph`: names, bindings, dependencies, no cycles.

Reading order: TOML syntax -> a variant's bases merged in (violet.dag.variants)
-> schema (pydantic) -> expressions parsed -> the file's node libraries parsed,
library nodes and composed graphs resolved -> bindings matched to ports ->
dependency DAG (networkx) checked for unknown names and cycles. Types are
checked next, by the lowering (violet.compile.lower), which knows every
edge's type. Nothing in the file, or in a library it names, is executed.
"""

from __future__ import annotations

import ast
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from violet.dag.expr import parse_expr, references
from violet.dag.schema import (InputModel, LaneModel, LanesModel, NodeModel, ParamModel, RecordModel, StateModel,
                               parse_graph_file, record_lanes)
from violet.dag.types import (BOOL, F64, I64, DType, InputSpec, Lane, Record, Refinement, ValueType, float64_problem,
                              int64_problem)
from violet.dag.variants import read_graph_data, relative_graph_path
from violet.errors import GraphError, quote, where
from violet.files import is_file, shown
from violet.dag.library import Libraries, Library, NodeDef, library_modules, lookup, parse_library

Literal = float | int | bool
Bound = ast.expr | Literal  # a binding: a parsed expression or a literal


@dataclass(frozen=True)
class Param:
    """A declared parameter: its type, default, doc and the refinement every value given to it must meet."""

    type: ValueType
    default: Literal
    doc: str = ""
    refine: Refinement = Refinement()


@dataclass
class NodeInstance:
    """One entry of `[nodes]`: an expression, a library node, or a composed graph."""

    name: str
    key: str  # "nodes.<name>", for errors
    file: str  # the graph file that wrote it (a variant's base, for an entry it inherits)
    expr: ast.expr | None = None
    text: str = ""  # the expression as written
    library: NodeDef | None = None
    subgraph: Graph | None = None
    bindings: dict[str, Bound] = field(default_factory=dict)
    param_bindings: dict[str, Bound] = field(default_factory=dict)
    doc: str = ""
    typical: tuple[float, float] | None = None  # the range its value is expected in (hardware formats only)

    def sources(self) -> list[ast.expr | Literal]:
        values = list(self.bindings.values()) + list(self.param_bindings.values())
        return [self.expr] if self.expr is not None else values


@dataclass
class Graph:
    """A validated graph file: what it declares, and its dependency DAG."""

    file: str
    name: str
    doc: str
    inputs: list[InputSpec]
    params: dict[str, Param]
    consts: dict[str, Literal]
    nodes: dict[str, NodeInstance]
    outputs: dict[str, ast.expr]
    deps: nx.DiGraph
    state: dict[str, tuple[ValueType, Literal, str]] = field(default_factory=dict)
    next_state: dict[str, ast.expr] = field(default_factory=dict)
    enums: dict[str, ValueType] = field(default_factory=dict)
    libraries: dict[str, Library] = field(default_factory=dict)
    bases: tuple[str, ...] = ()  # the files a variant extends: its base, the base's base, ...
    record: Record | None = None  # what a host reads, for a decision graph

    def order(self) -> list[str]:
        """Nodes in a deterministic topological order (independent of file order)."""
        return [n for n in nx.lexicographical_topological_sort(self.deps) if n in self.nodes]

    def unused_nodes(self) -> list[str]:
        """Nodes that no output depends on."""
        used: set[str] = set()
        for expr in [*self.outputs.values(), *self.next_state.values()]:
            for ref in references(expr) & set(self.nodes):
                used |= {ref} | nx.ancestors(self.deps, ref)
        return sorted(set(self.nodes) - used)


MAX_COMPOSITION = 16  # graphs composed inside one another: loading and lowering recurse once per level


def load_graph(path: str | Path, _stack: tuple[str, ...] = ()) -> Graph:
    """Read, validate and resolve a graph file (and the graphs it composes)."""
    path = Path(path)
    file = str(path)
    if not is_file(path):
        raise GraphError("no such graph file", where=shown(file), fix="check the path")
    resolved_path = str(path.resolve())
    if resolved_path in _stack:
        chain = " -> ".join(Path(p).name for p in (*_stack, resolved_path))
        raise GraphError(f"graph composes itself: {chain}", where=file, fix="remove one `graph =` link of the chain")
    if len(_stack) > MAX_COMPOSITION:
        raise GraphError(f"graphs composed more than {MAX_COMPOSITION} deep", where=file,
                         fix="flatten the chain of `graph =` nodes")
    resolved = read_graph_data(path)
    model = parse_graph_file(resolved.data, file)
    inputs = [_input_spec(name, m, file) for name, m in model.inputs.items()]
    _check_masks(inputs, file)
    params = {name: _param(name, m, file) for name, m in model.params.items()}
    libraries = {key: _library(key, text, resolved.origin("libraries", key, path)) for key, text in model.libraries.items()}
    nodes = {name: _instance(name, m, resolved.origin("nodes", name, path), (*_stack, resolved_path), libraries)
             for name, m in model.nodes.items()}
    outputs = {name: parse_expr(text, where(file, f"outputs.{name}")) for name, text in model.outputs.items()}
    if not outputs:
        raise GraphError("a graph needs at least one output", where=where(file, "outputs"),
                         fix="add `[outputs]` with `name = \"node\"` lines")
    enums = {name: ValueType(DType.I64, tuple(values)) for name, values in model.enums.items()}
    state = {name: _state_field(name, m, enums, file) for name, m in model.state.items()}
    next_state = {name: parse_expr(text, where(file, f"next_state.{name}")) for name, text in model.next_state.items()}
    graph = Graph(file, model.graph.name, model.graph.doc, inputs, params, dict(model.consts), nodes, outputs,
                  nx.DiGraph(), state, next_state, enums, libraries,
                  tuple(os.path.normpath(b) for b in resolved.bases))
    graph.deps = _dependencies(graph)
    graph.record = _record(model.record, graph) if model.record is not None else None
    return graph


def _record(m: RecordModel | LanesModel, graph: Graph) -> Record:
    """The `[record]` table, every output it names checked to exist (and each `exit_check` to be a composed
    graph, `max_positions` a number or a parameter), and every lane's trade fields the same set."""
    lanes = tuple(_lane(name, lane, graph) for name, lane in record_lanes(m).items())
    fields = {lane.name: _trade_fields(lane, graph) for lane in lanes}
    first = lanes[0]
    for lane in lanes[1:]:
        if fields[lane.name] != fields[first.name]:
            differ = sorted(fields[lane.name] ^ fields[first.name])
            raise GraphError(f"lane {lane.name} has trade fields {', '.join(sorted(fields[lane.name]))}; lane "
                             f"{first.name} has {', '.join(sorted(fields[first.name]))} (they differ in "
                             f"{', '.join(differ)})", where=where(graph.file, f"record.lanes.{lane.name}.trades"),
                             fix="give every lane the same trade fields: the lanes share one trades table")
    if isinstance(m.max_positions, str) and m.max_positions not in graph.params:
        raise GraphError(f"record.max_positions names {quote(m.max_positions)}, which is not a parameter"
                         f"{_did_you_mean(m.max_positions, list(graph.params))}",
                         where=where(graph.file, "record.max_positions"), fix="give a number or a parameter's name")
    return Record(lanes, m.max_positions)


def _lane(name: str, m: LaneModel, graph: Graph) -> Lane:
    """One lane of the record, its outputs and exit node checked to exist."""
    key = f"record.lanes.{name}" if name else "record"
    for field_, output in {"action": m.action, "asset": m.asset, "leverage": m.leverage, "notional": m.notional,
                           "exit_leverage": m.exit_leverage, "exit_notional": m.exit_notional,
                           "trade": m.trade}.items():
        if output and output not in graph.outputs:
            raise GraphError(f"{key}.{field_} names {quote(output)}, which is not an output"
                             f"{_did_you_mean(output, list(graph.outputs))}",
                             where=where(graph.file, f"{key}.{field_}"), fix="name an output of [outputs]")
    if m.exit_check:
        composed_node(graph, m.exit_check, where(graph.file, f"{key}.exit_check"))
    return Lane(name, m.action, tuple(sorted(m.actions.items())), m.asset, m.leverage, m.notional, m.exit_leverage,
                m.exit_notional, m.trade, m.exit_check, m.trades)


def composed_node(graph: Graph, path: str, at: str) -> list[NodeInstance]:
    """The composed graph nodes along `path` (`pos`, or `short.pos`: node pos of node short's graph), each
    checked to be a `graph = ...` node; the last one's graph is the node the path names."""
    chain: list[NodeInstance] = []
    for part in path.split("."):
        node = (chain[-1].subgraph if chain else graph).nodes.get(part)  # type: ignore[union-attr]
        if node is None or node.subgraph is None:
            inside = f" (in {'.'.join(n.name for n in chain)})" if chain else ""
            raise GraphError(f"exit_check names {quote(path)}: {quote(part)}{inside} is not a composed graph node",
                             where=at, fix="name a `graph = ...` node (the exit graph), or a path to one: lane.pos")
        chain.append(node)
    return chain


def _trade_fields(lane: Lane, graph: Graph) -> set[str]:
    """A lane's trade fields: its outputs named `<trades>*`, prefix dropped (a per-asset lane's asset is its index)."""
    fields = {n.removeprefix(lane.trades) for n in graph.outputs if n.startswith(lane.trades)}
    if lane.per_asset and "asset" in fields:
        raise GraphError(f"output {lane.trades}asset: a per-asset lane's trade asset is the asset's index",
                         where=where(graph.file, f"outputs.{lane.trades}asset"),
                         fix="drop that output (or give the lane an `asset` output, for one position at a time)")
    return fields | ({"asset"} if lane.per_asset else set())


def _input_spec(name: str, m: InputModel, file: str) -> InputSpec:
    dtype = DType.I64 if m.type == "enum" else DType(m.type)
    vtype = ValueType(dtype, tuple(m.values) if m.values else None, m.vector)
    bounds = {key: _bound(getattr(m, key), vtype, where(file, f"inputs.{name}.{key}")) for key in ("ge", "gt", "le", "lt")}
    refine = Refinement(m.finite, **bounds, typical=tuple(m.typical) if m.typical else None)
    return InputSpec(name, vtype, refine, m.universe, m.mask, m.doc)


def _check_masks(inputs: list[InputSpec], file: str) -> None:
    """A mask names another per-scan bool vector input that is itself unmasked (one level: the
    boundary checks the masks first, then the values they leave out)."""
    by_name = {spec.name: spec for spec in inputs}
    for spec in inputs:
        mask = by_name.get(spec.mask) if spec.mask else None
        if spec.mask and (mask is None or mask.type.dtype != DType.BOOL or not mask.type.vector or mask.universe
                          or mask.mask):
            raise GraphError(f"input {spec.name}'s mask {quote(spec.mask)} is not an unmasked per-scan bool vector input",
                             where=where(file, f"inputs.{spec.name}.mask"),
                             fix="declare it, e.g. `tradable = { type = \"bool\", vector = true }`")


def _param(name: str, m: ParamModel, file: str) -> Param:
    """A parameter: its typed default, and its refinement (`finite` on a float64, bounds on a number), which
    the default must meet: a `--set` or a sweep value that breaks it is refused by name (violet.api)."""
    vtype, default, doc = _typed_default(name, m.default, m.type, m.doc, file, "params")
    key = f"params.{name}"
    if m.finite and vtype != F64:
        raise GraphError(f"`finite` on a {vtype} parameter", where=where(file, f"{key}.finite"),
                         fix="only a float64 value can be NaN or infinite: drop `finite`")
    bounds = {b: _bound(getattr(m, b), vtype, where(file, f"{key}.{b}"), "parameter") for b in ("ge", "gt", "le", "lt")}
    refine = Refinement(m.finite, **bounds)
    if isinstance(default, (int, float)) and (problem := refine.violation(default)) is not None:
        raise GraphError(f"the default {problem} ({refine.describe()})", where=where(file, f"{key}.default"),
                         fix="write a default that meets the parameter's own refinement")
    return Param(vtype, default, doc, refine)


def _bound(value: float | int | None, vtype: ValueType, at: str, what: str = "input") -> float | int | None:
    """A bound in the input's (or parameter's) own type, so values compare exactly: an int64 input's bound
    is an int (`le = 1e18` is 10**18, and 10**18 + 1 breaks it), a float64 input's integer bound has an
    exact float64 value. Bounds on bool and enum values would never be checked, so they are refused."""
    if value is None:
        return None
    if vtype.is_enum or vtype.dtype == DType.BOOL:
        raise GraphError(f"a bound on a {vtype.scalar} {what}", where=at, fix=f"bounds apply to float64 and int64 {what}s")
    if vtype.dtype == DType.F64:
        problem = float64_problem(value) if isinstance(value, int) else None
    elif isinstance(value, float) and not value.is_integer():
        problem = f"{value!r} is not an integer, but the {what} is int64"
    else:
        value = int(value)
        problem = int64_problem(value)
    if problem is not None:
        fix = "write an integer inside int64" if vtype.dtype == DType.I64 else "write a float64 value (with a decimal point)"
        raise GraphError(problem, where=at, fix=fix)
    return value


def literal_type(value: Literal) -> ValueType:
    """The type of a TOML literal: bool, int64 or float64."""
    return BOOL if isinstance(value, bool) else I64 if isinstance(value, int) else F64


def _state_field(name: str, m: StateModel, enums: dict[str, ValueType], file: str) -> tuple[ValueType, Literal, str]:
    """A state field's type, initial value and doc: an enum starts at its first value; `vector = true`
    makes one value per universe asset, every one starting at the initial value."""
    vtype, init, doc = (enums[m.enum], 0, m.doc) if m.enum else _typed_default(name, m.init, m.type, m.doc, file, "state")
    return (vtype.as_vector() if m.vector else vtype), init, doc


def _typed_default(name: str, value: Literal, declared: str | None, doc: str, file: str, table: str
                   ) -> tuple[ValueType, Literal, str]:
    """A param default or state init: its type from the literal, or from `type` if given."""
    vtype = literal_type(value)
    if declared is not None and declared != vtype.dtype.value:
        if declared == "float64" and vtype == I64:
            if (problem := float64_problem(value)) is not None:
                raise GraphError(problem, where=where(file, f"{table}.{name}"),
                                 fix="write the float64 value (a decimal point), or one it holds exactly")
            return F64, float(value), doc
        raise GraphError(f"{value!r} is not a {declared}", where=where(file, f"{table}.{name}"),
                         fix=f"write a {declared} value, or drop `type`")
    return vtype, value, doc


def _instance(name: str, m: NodeModel, path: Path, stack: tuple[str, ...], libraries: Libraries) -> NodeInstance:
    """Node `name`, as written in graph file `path` (a variant's base, for an entry it inherits)."""
    file = str(path)
    key = f"nodes.{name}"
    inst = NodeInstance(name, key, file, doc=m.doc, typical=tuple(m.typical) if m.typical else None)
    if m.expr is not None:
        inst.expr, inst.text = parse_expr(m.expr, where(file, f"{key}.expr")), m.expr
        return inst
    inst.bindings = {port: _binding(v, file, f"{key}.in.{port}") for port, v in m.in_.items()}
    if m.node is not None:
        inst.library = lookup(m.node, where(file, f"{key}.node"), libraries)
        _match_ports(inst.bindings, inst.library.port_names, f"node {m.node}", file, key)
        return inst
    assert m.graph is not None
    composed = relative_graph_path(path, m.graph, where(file, f"{key}.graph"))
    if not is_file(composed):
        raise GraphError(f"no such graph file {quote(m.graph)}", where=where(file, f"{key}.graph"),
                         fix="the path is relative to this file")
    inst.subgraph = load_graph(composed, stack)
    _match_ports(inst.bindings, [i.name for i in inst.subgraph.inputs], f"graph {m.graph}", file, key)
    inst.param_bindings = {p: _binding(v, file, f"{key}.params.{p}") for p, v in m.params.items()}
    for p in inst.param_bindings:
        if p not in inst.subgraph.params:
            raise GraphError(f"unknown parameter '{p}' of graph {m.graph}", where=where(file, f"{key}.params.{p}"),
                             fix=f"its parameters are: {', '.join(inst.subgraph.params) or '(none)'}")
    return inst


def _library(module: str, text: str, path: Path) -> Library:
    """The node module `[libraries] module = "text"` of graph file `path`, parsed (never run).

    The path is relative to the graph file, as a composed `graph = ...` is (`..` included, so graphs in
    sibling directories can share a library); an absolute path is refused, so a graph file moved with its
    libraries keeps working and never names a system file. VIOLET reads only `.py` files: the path must
    name one, and if it is a symbolic link its target must be one too. A module may not take the name of
    one of VIOLET's node modules: `sizing.conviction` means one node in every graph file."""
    file = str(path)
    at = where(file, f"libraries.{module}")
    if module in library_modules():
        raise GraphError(f"'{module}' is one of VIOLET's node modules ({', '.join(library_modules())})", where=at,
                         fix=f"give the library another name, e.g. my_{module}")
    if len(text) > 1024 or not text.endswith(".py") or not text.isprintable() or "\\" in text or text.startswith("/"):
        raise GraphError(f"{quote(text)} is not a library path", where=at,
                         fix='name a .py file relative to this graph file, e.g. mynodes = "nodes/mynodes.py"')
    library = path.parent / text
    if not is_file(library):
        raise GraphError(f"no such library file {quote(text)}", where=at, fix="the path is relative to this graph file")
    if library.resolve().suffix != ".py":
        raise GraphError(f"{quote(text)} is a link to a file that is not a .py file", where=at,
                         fix="name the library's .py file itself")
    return parse_library(module, library, shown(library))


def _binding(value: str | Literal, file: str, key: str) -> Bound:
    return parse_expr(value, where(file, key)) if isinstance(value, str) else value


def _match_ports(bindings: dict[str, Bound], ports: list[str], what: str, file: str, key: str) -> None:
    """Every port bound exactly once: name the missing and the extra ones."""
    missing = [p for p in ports if p not in bindings]
    extra = [b for b in bindings if b not in ports]
    if extra:
        hint = _did_you_mean(extra[0], ports)
        raise GraphError(f"'{extra[0]}' is not a port of {what}{hint}", where=where(file, f"{key}.in"),
                         fix=f"its ports are: {', '.join(ports)}")
    if missing:
        raise GraphError(f"missing binding for port(s) {', '.join(missing)} of {what}",
                         where=where(file, f"{key}.in"), fix=f"add `{missing[0]} = \"<source>\"` to {key}.in")


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _dependencies(graph: Graph) -> nx.DiGraph:
    """The DAG of node -> node reads; unknown names and cycles are errors."""
    known = ({i.name for i in graph.inputs} | set(graph.params) | set(graph.consts) | set(graph.nodes)
             | set(graph.state) | set(graph.enums))
    deps = nx.DiGraph()
    deps.add_nodes_from(graph.nodes)
    for inst in graph.nodes.values():
        for source in inst.sources():
            for ref in _refs(source):
                _check_known(ref, known, inst.file, inst.key)
                if ref in graph.nodes:
                    deps.add_edge(ref, inst.name)
    for table, exprs in (("outputs", graph.outputs), ("next_state", graph.next_state)):
        for name, expr in exprs.items():
            for ref in _refs(expr):
                _check_known(ref, known, graph.file, f"{table}.{name}")
    _check_acyclic(deps, graph.file)
    return deps


def _refs(source: ast.expr | Literal) -> set[str]:
    return references(source) if isinstance(source, ast.AST) else set()


def _check_known(ref: str, known: set[str], file: str, key: str) -> None:
    if ref not in known:
        raise GraphError(f"unknown name {quote(ref)}{_did_you_mean(ref, sorted(known))}", where=where(file, key),
                         fix="refer to an input, param, const, state field or node defined in this file")


def _check_acyclic(deps: nx.DiGraph, file: str) -> None:
    try:
        cycle = nx.find_cycle(deps)
    except nx.NetworkXNoCycle:
        return
    path = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
    raise GraphError(f"cycle: {path} (each node feeds the next)", where=where(file, f"nodes.{cycle[0][0]}"),
                     fix="a graph is a DAG: break the loop, or carry the value as explicit state")
