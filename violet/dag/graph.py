"""Load a graph file into a validated `Graph`: names, bindings, dependencies, no cycles.

Reading order: TOML syntax -> schema (pydantic) -> expressions parsed ->
library nodes and composed graphs resolved -> bindings matched to ports ->
dependency DAG (networkx) checked for unknown names and cycles. Types are
checked next, by the lowering (violet.compile.lower), which knows every
edge's type. Nothing in the file is executed.
"""

from __future__ import annotations

import ast
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from violet.dag.expr import parse_expr, references
from violet.dag.schema import InputModel, NodeModel, StateModel, parse_graph_file
from violet.dag.types import BOOL, F64, I64, DType, InputSpec, Refinement, ValueType, float64_problem, int64_problem
from violet.errors import GraphError, quote, where
from violet.files import is_file, shown
from violet.nodes.registry import NodeDef, lookup

Literal = float | int | bool
Bound = ast.expr | Literal  # a binding: a parsed expression or a literal


@dataclass
class NodeInstance:
    """One entry of `[nodes]`: an expression, a library node, or a composed graph."""

    name: str
    key: str  # "nodes.<name>", for errors
    expr: ast.expr | None = None
    text: str = ""  # the expression as written
    library: NodeDef | None = None
    subgraph: Graph | None = None
    bindings: dict[str, Bound] = field(default_factory=dict)
    param_bindings: dict[str, Bound] = field(default_factory=dict)
    doc: str = ""

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
    params: dict[str, tuple[ValueType, Literal, str]]
    consts: dict[str, Literal]
    nodes: dict[str, NodeInstance]
    outputs: dict[str, ast.expr]
    deps: nx.DiGraph
    state: dict[str, tuple[ValueType, Literal, str]] = field(default_factory=dict)
    next_state: dict[str, ast.expr] = field(default_factory=dict)
    enums: dict[str, ValueType] = field(default_factory=dict)

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
    resolved = str(path.resolve())
    if resolved in _stack:
        chain = " -> ".join(Path(p).name for p in (*_stack, resolved))
        raise GraphError(f"graph composes itself: {chain}", where=file, fix="remove one `graph =` link of the chain")
    if len(_stack) > MAX_COMPOSITION:
        raise GraphError(f"graphs composed more than {MAX_COMPOSITION} deep", where=file,
                         fix="flatten the chain of `graph =` nodes")
    model = parse_graph_file(_read_toml(path), file)
    inputs = [_input_spec(name, m, file) for name, m in model.inputs.items()]
    params = {name: _typed_default(name, m.default, m.type, m.doc, file, "params") for name, m in model.params.items()}
    nodes = {name: _instance(name, m, path, (*_stack, resolved)) for name, m in model.nodes.items()}
    outputs = {name: parse_expr(text, where(file, f"outputs.{name}")) for name, text in model.outputs.items()}
    if not outputs:
        raise GraphError("a graph needs at least one output", where=where(file, "outputs"),
                         fix="add `[outputs]` with `name = \"node\"` lines")
    enums = {name: ValueType(DType.I64, tuple(values)) for name, values in model.enums.items()}
    state = {name: _state_field(name, m, enums, file) for name, m in model.state.items()}
    next_state = {name: parse_expr(text, where(file, f"next_state.{name}")) for name, text in model.next_state.items()}
    graph = Graph(file, model.graph.name, model.graph.doc, inputs, params, dict(model.consts), nodes, outputs,
                  nx.DiGraph(), state, next_state, enums)
    graph.deps = _dependencies(graph)
    return graph


def _read_toml(path: Path) -> dict:
    """The file's TOML data. tomllib reads nested arrays and inline tables by recursion and refuses an
    integer of more than 4,300 digits with a bare ValueError: both are a graph file's errors here."""
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise GraphError(f"bad TOML: {exc}", where=str(path), fix="fix the TOML syntax at that line") from None
    except UnicodeDecodeError as exc:
        raise GraphError(f"not UTF-8 text: {exc.reason}", where=str(path), fix="save the file as UTF-8") from None
    except ValueError:
        raise GraphError("bad TOML: an integer of more than 4,300 digits", where=str(path),
                         fix="integers in a graph are int64: at most 19 digits") from None
    except RecursionError:
        raise GraphError("bad TOML: arrays or inline tables nested too deeply to read", where=str(path),
                         fix="a graph file's values are numbers, strings and flat tables") from None
    except OSError as exc:
        raise GraphError(f"cannot read the file: {exc.strerror}", where=str(path), fix="check its permissions") from None


def _input_spec(name: str, m: InputModel, file: str) -> InputSpec:
    dtype = DType.I64 if m.type == "enum" else DType(m.type)
    vtype = ValueType(dtype, tuple(m.values) if m.values else None, m.vector)
    bounds = {key: _bound(getattr(m, key), vtype, where(file, f"inputs.{name}.{key}")) for key in ("ge", "gt", "le", "lt")}
    refine = Refinement(m.finite, **bounds, typical=tuple(m.typical) if m.typical else None)
    return InputSpec(name, vtype, refine, m.universe, m.doc)


def _bound(value: float | int | None, vtype: ValueType, at: str) -> float | int | None:
    """A bound in the input's own type, so the boundary compares exactly: an int64 input's bound is an
    int (`le = 1e18` is 10**18, and 10**18 + 1 breaks it), a float64 input's integer bound has an exact
    float64 value. Bounds on bool and enum inputs would never be checked, so they are refused."""
    if value is None:
        return None
    if vtype.is_enum or vtype.dtype == DType.BOOL:
        raise GraphError(f"a bound on a {vtype.scalar} input", where=at, fix="bounds apply to float64 and int64 inputs")
    if vtype.dtype == DType.F64:
        problem = float64_problem(value) if isinstance(value, int) else None
    elif isinstance(value, float) and not value.is_integer():
        problem = f"{value!r} is not an integer, but the input is int64"
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


def _instance(name: str, m: NodeModel, path: Path, stack: tuple[str, ...]) -> NodeInstance:
    file = str(path)
    key = f"nodes.{name}"
    inst = NodeInstance(name, key, doc=m.doc)
    if m.expr is not None:
        inst.expr, inst.text = parse_expr(m.expr, where(file, f"{key}.expr")), m.expr
        return inst
    inst.bindings = {port: _binding(v, file, f"{key}.in.{port}") for port, v in m.in_.items()}
    if m.node is not None:
        inst.library = lookup(m.node, where(file, f"{key}.node"))
        _match_ports(inst.bindings, inst.library.port_names, f"node {m.node}", file, key)
        return inst
    assert m.graph is not None
    composed = _composed_path(path, m.graph, where(file, f"{key}.graph"))
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


def _composed_path(path: Path, text: str, at: str) -> Path:
    """The file a `graph = "..."` names, relative to the composing file: a .toml path of printable characters."""
    if len(text) > 1024 or not text.endswith(".toml") or not text.isprintable():
        raise GraphError(f"{quote(text)} is not a graph file path", where=at,
                         fix='name a .toml file of at most 1024 printable characters, e.g. graph = "blue_sizing.toml"')
    return path.parent / text


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
                _check_known(ref, known, graph.file, inst.key)
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
