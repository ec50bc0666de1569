"""Node libraries as a graph reads them: parsed, never run.

A node is an ordinary Python function decorated with `@node`. Its source is
parsed (never run) and checked: typed positional ports (`float`, `int`,
`bool`), a body of `name = expr` assignments and one `return`, expressions in
the subset of `violet.dag.expr`. A body outside the subset is refused with the
file, the line and the construct. The lowering inlines the parsed body into
the IR; the function object is never called by any backend.

Three kinds of module hold nodes, checked by one parser (`parse_function`):
VIOLET's own (`violet/nodes/*.py`, found as package files and read as text, so
the graph layer never imports the node layer above it), a graph file's
`[libraries]` (a user's `.py` file, read as text and parsed, never imported or
executed: `parse_library`), and `@node` functions of any other imported module
(`violet.nodes.registry.node` registers them here: `REGISTRY`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from violet.dag.expr import check_subset, construct_name, references
from violet.dag.schema import NAME_FIX, is_name
from violet.dag.types import BOOL, F64, I64, ValueType
from violet.errors import GraphError, NodeSubsetError, quote

NODE_REF = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\.[A-Za-z_][A-Za-z0-9_]{0,63}")  # module.function

ANNOTATIONS: dict[str, ValueType] = {"float": F64, "int": I64, "bool": BOOL}

STATEMENT_HINTS: dict[type, str] = {
    ast.If: "'if' statements (write 'a if c else b' or select(c, a, b))",
    ast.For: "'for' loops", ast.While: "'while' loops", ast.AugAssign: "augmented assignment (x += ...)",
    ast.Import: "imports", ast.ImportFrom: "imports", ast.Try: "try/except", ast.With: "'with' blocks",
    ast.Raise: "raise", ast.Assert: "assert", ast.Global: "global", ast.Nonlocal: "nonlocal",
    ast.Delete: "del", ast.FunctionDef: "nested functions", ast.ClassDef: "classes",
}


@dataclass(frozen=True)
class NodeDef:
    """A parsed library node: typed ports, typed outputs and a checked body.

    `offset` is the number of lines of `file` before the text the body was parsed from, so a body
    node's `lineno` plus `offset` is its line in the file (see `locate`)."""

    name: str
    ports: tuple[tuple[str, ValueType], ...]
    outputs: tuple[tuple[str, ValueType], ...]
    assigns: tuple[tuple[str, ast.expr], ...]
    returns: tuple[ast.expr, ...]
    file: str
    offset: int
    doc: str

    @property
    def port_names(self) -> list[str]:
        return [p for p, _ in self.ports]

    @property
    def single(self) -> bool:
        return len(self.outputs) == 1

    def locate(self, n: ast.AST) -> str:
        """Where a piece of the body stands, for an error: `file:line: node 'module.function'`."""
        return _locator(self.file, self.offset, self.name)(n)


@dataclass(frozen=True)
class Library:
    """A graph file's node module (`[libraries] key = "path.py"`): its nodes by function name."""

    module: str
    file: str
    nodes: Mapping[str, NodeDef] = field(default_factory=dict)


Libraries = Mapping[str, Library]  # a graph file's [libraries], by module name

REGISTRY: dict[str, NodeDef] = {}  # `@node` functions of imported modules other than VIOLET's own (registry.node)
NOT_NODES = ("__init__", "registry", "prelude")  # the modules of violet/nodes that hold no node


def _locator(file: str, offset: int, name: str) -> Callable[[ast.AST], str]:
    def locate(n: ast.AST) -> str:
        return f"{file}:{offset + getattr(n, 'lineno', 1)}: node '{name}'"

    return locate


def parse_function(func: ast.FunctionDef, name: str, file: str, offset: int, outputs: tuple[str, ...]) -> NodeDef:
    """Check one parsed node function against the subset and build its NodeDef: the one parser of
    VIOLET's node modules and of user libraries, so both get the same checks and messages."""
    locate = _locator(file, offset, name)
    ports = _ports(func, locate)
    body = _strip_docstring(func.body)
    assigns, returns = _body(body, locate, len(outputs))
    _check_names(ports, assigns, returns, locate)
    types = _return_types(func, locate, len(outputs))
    return NodeDef(name, tuple(ports), tuple(zip(outputs, types)), assigns, returns,
                   file, offset, ast.get_docstring(func) or "")


def _ports(func: ast.FunctionDef, locate: Callable[[ast.AST], str]) -> list[tuple[str, ValueType]]:
    a = func.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
        raise NodeSubsetError("ports must be plain positional parameters without defaults",
                              where=locate(func), fix="declare each port as `name: float` (or int, bool)")
    ports = []
    for arg in a.args:
        if not is_name(arg.arg):
            raise NodeSubsetError(f"port {quote(arg.arg)} is not a valid name", where=locate(arg), fix=NAME_FIX)
        ann = arg.annotation
        if not (isinstance(ann, ast.Name) and ann.id in ANNOTATIONS):
            raise NodeSubsetError(f"port '{arg.arg}' needs a type annotation float, int or bool",
                                  where=locate(arg), fix=f"write `{arg.arg}: float`")
        ports.append((arg.arg, ANNOTATIONS[ann.id]))
    return ports


def _strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return body[1:]
    return body


def _body(body: list[ast.stmt], locate: Callable[[ast.AST], str], n_out: int
          ) -> tuple[tuple[tuple[str, ast.expr], ...], tuple[ast.expr, ...]]:
    """Split the body into `name = expr` assignments and the returned expressions."""
    assigns: list[tuple[str, ast.expr]] = []
    for stmt in body[:-1]:
        target = _assign_target(stmt)
        if target is None:
            hint = STATEMENT_HINTS.get(type(stmt), construct_name(stmt))
            raise NodeSubsetError(f"{hint} are outside the node subset", where=locate(stmt),
                                  fix="a node body is `name = expression` lines and one final `return`")
        assert isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None
        check_subset(stmt.value, locate)
        assigns.append((target, stmt.value))
    last = body[-1] if body else None
    if not isinstance(last, ast.Return) or last.value is None:
        raise NodeSubsetError("a node body must end with `return <expression>`",
                              where=locate(last or ast.Pass()), fix="return the node's output(s)")
    values = list(last.value.elts) if isinstance(last.value, ast.Tuple) else [last.value]
    if len(values) != n_out:
        raise NodeSubsetError(f"returns {len(values)} value(s) but declares {n_out} output(s)",
                              where=locate(last), fix="match `outputs=(...)` in @node to the returned tuple")
    for v in values:
        check_subset(v, locate)
    return tuple(assigns), tuple(values)


def _assign_target(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
        return stmt.target.id
    return None


def _check_names(ports: list[tuple[str, ValueType]], assigns: tuple[tuple[str, ast.expr], ...],
                 returns: tuple[ast.expr, ...], locate: Callable[[ast.AST], str]) -> None:
    known = {p for p, _ in ports}
    for target, value in assigns:
        _known_refs(value, known, locate)
        known.add(target)
    for value in returns:
        _known_refs(value, known, locate)


def _known_refs(value: ast.expr, known: set[str], locate: Callable[[ast.AST], str]) -> None:
    unknown = sorted(references(value) - known)
    if unknown:
        raise NodeSubsetError(f"'{unknown[0]}' is not a port or an earlier local", where=locate(value),
                              fix="a node reads only its ports and names assigned above")


def _return_types(func: ast.FunctionDef, locate: Callable[[ast.AST], str], n_out: int) -> list[ValueType]:
    ann = func.returns
    items = ann.slice.elts if (isinstance(ann, ast.Subscript) and isinstance(ann.slice, ast.Tuple)) else [ann]
    if len(items) != n_out or not all(isinstance(i, ast.Name) and i.id in ANNOTATIONS for i in items):
        raise NodeSubsetError("the return annotation must give each output's type (float, int, bool)",
                              where=locate(func), fix="write `-> float` or `-> tuple[float, int]`")
    return [ANNOTATIONS[i.id] for i in items]  # type: ignore[union-attr]


def lookup(name: str, where: str, libraries: Libraries | None = None) -> NodeDef:
    """The node `module.function`: from the graph file's `libraries` if it names one of them, else from
    VIOLET's own node modules (their files, parsed), else from the `@node` functions imported elsewhere."""
    if not NODE_REF.fullmatch(name):
        raise GraphError(f"{quote(name)} is not a library node name", where=where,
                         fix="write `module.function`, e.g. sizing.conviction (see `violet check` of a library graph)")
    module, function = name.split(".")
    if libraries and module in libraries:
        library = libraries[module]
        if function not in library.nodes:
            raise GraphError(f"unknown node '{name}': {library.file} has no @node function '{function}'", where=where,
                             fix=f"its nodes: {', '.join(sorted(library.nodes))}")
        return library.nodes[function]
    if module in library_modules() and function in builtin(module).nodes:
        return builtin(module).nodes[function]
    if name not in REGISTRY:
        own = [node.name for m in library_modules() for node in builtin(m).nodes.values()]
        known = ", ".join([*sorted(own + list(REGISTRY)), *(f"{m}.*" for m in sorted(libraries or {}))])
        raise GraphError(f"unknown node '{name}'", where=where, fix=f"use one of: {known}")
    return REGISTRY[name]


@cache
def library_modules() -> tuple[str, ...]:
    """VIOLET's own node modules: the .py files of the package's `nodes` directory that hold nodes, found as
    package files (a wheel has them), never imported here."""
    return tuple(sorted(f.name.removesuffix(".py") for f in _nodes_directory().iterdir()
                        if f.name.endswith(".py") and f.name.removesuffix(".py") not in NOT_NODES))


@cache
def builtin(module: str) -> Library:
    """One of VIOLET's own node modules, read as text and parsed like a user's library (once per process)."""
    path = _nodes_directory() / f"{module}.py"
    return parse_library(module, path, str(path))


def _nodes_directory() -> Path:
    return Path(str(resources.files("violet") / "nodes"))


# ---------------------------------------------------------------- user libraries: read and parsed, never run

MAX_LIBRARY_BYTES = 1_000_000


def parse_library(module: str, path: Path, shown: str) -> Library:
    """The `@node` functions of a user's node module, found in its parsed text.

    The file is read and given to Python's parser, never imported or executed: its top-level code, its
    imports and its other functions are never run (nor read further than the parser needs). A top-level
    function decorated `@node` or `@node(outputs=(...))` is a node, checked by `parse_function` exactly as
    VIOLET's own; `shown` names the file in errors."""
    tree = _parse_module(_library_text(path, shown), shown)
    nodes: dict[str, NodeDef] = {}
    for stmt in tree.body:
        outputs = _node_outputs(stmt, shown)
        if outputs is None:
            continue
        assert isinstance(stmt, ast.FunctionDef)
        if stmt.name in nodes:
            raise NodeSubsetError(f"node '{stmt.name}' is defined twice", where=f"{shown}:{stmt.lineno}",
                                  fix="give each @node function its own name")
        nodes[stmt.name] = parse_function(stmt, f"{module}.{stmt.name}", shown, 0, outputs)
    if not nodes:
        raise GraphError("the library holds no @node function", where=shown,
                         fix="decorate each node function with @node (from violet.nodes.registry import node)")
    return Library(module, shown, nodes)


def _library_text(path: Path, shown: str) -> str:
    """The library file's text: UTF-8, at most MAX_LIBRARY_BYTES."""
    try:
        if path.stat().st_size > MAX_LIBRARY_BYTES:
            raise GraphError(f"the library is larger than {MAX_LIBRARY_BYTES:,} bytes", where=shown,
                             fix="a node module holds node functions: split it")
        return path.read_bytes().decode()
    except UnicodeDecodeError as exc:
        raise GraphError(f"not UTF-8 text: {exc.reason}", where=shown, fix="save the file as UTF-8") from None
    except OSError as exc:
        raise GraphError(f"cannot read the library: {exc.strerror}", where=shown, fix="check its permissions") from None


def _parse_module(text: str, shown: str) -> ast.Module:
    """Python's parser on the text (it never runs code); its refusals as one GraphError."""
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        raise GraphError(f"not valid Python: {exc.msg}", where=f"{shown}:{exc.lineno or 1}",
                         fix="fix the syntax at that line") from None
    except ValueError:  # a NUL byte
        raise GraphError("not valid Python: the file holds a NUL byte", where=shown, fix="remove it") from None
    except (RecursionError, MemoryError):
        raise GraphError("not valid Python: nested too deeply for Python's parser", where=shown,
                         fix="a node body is a few flat lines") from None


def _node_outputs(stmt: ast.stmt, shown: str) -> tuple[str, ...] | None:
    """The output names of a top-level `@node` function, or None when `stmt` is not one."""
    decorators = getattr(stmt, "decorator_list", [])
    marks = [d for d in decorators if _is_node_mark(d.func if isinstance(d, ast.Call) else d)]
    if not marks:
        return None
    at = f"{shown}:{stmt.lineno}"
    if not isinstance(stmt, ast.FunctionDef) or len(decorators) > 1:
        raise NodeSubsetError("a node is a plain `def` with the one decorator @node", where=at,
                              fix="remove the other decorators (or `async`, or the class)")
    if not is_name(stmt.name):
        raise NodeSubsetError(f"{quote(stmt.name)} is not a valid node name", where=at, fix=NAME_FIX)
    mark = marks[0]
    if not isinstance(mark, ast.Call):
        return ("out",)
    names = _literal_outputs(mark)
    if names is None:
        raise NodeSubsetError("@node takes only `outputs=(\"a\", \"b\", ...)`, a tuple of literal names", where=at,
                              fix='write @node(outputs=("lo", "hi"))')
    for name in names:
        if not is_name(name):
            raise NodeSubsetError(f"output {quote(name)} is not a valid name", where=at, fix=NAME_FIX)
    return names


def _is_node_mark(expr: ast.expr) -> bool:
    """`node` or `<something>.node`: how a node module names the decorator."""
    return (isinstance(expr, ast.Name) and expr.id == "node") or (isinstance(expr, ast.Attribute) and expr.attr == "node")


def _literal_outputs(call: ast.Call) -> tuple[str, ...] | None:
    """The names of `node(outputs=("a", "b"))`, read from the literal; None for any other form."""
    if call.args or len(call.keywords) != 1 or call.keywords[0].arg != "outputs":
        return None
    value = call.keywords[0].value
    if not isinstance(value, (ast.Tuple, ast.List)) or not value.elts:
        return None
    names = [e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return tuple(names) if len(names) == len(value.elts) else None
