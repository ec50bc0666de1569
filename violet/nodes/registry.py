"""The node library: pure functions in a documented Python subset.

A node is an ordinary Python function decorated with `@node`. At decoration
time its source is parsed (never run) and checked: typed positional ports
(`float`, `int`, `bool`), a body of `name = expr` assignments and one
`return`, expressions in the subset of `violet.dag.expr`. A body outside the
subset is refused with the file, the line and the construct. The lowering
inlines the parsed body into the IR; the function object is never called by
any backend.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from violet.dag.expr import check_subset, construct_name, references
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
    """A parsed library node: typed ports, typed outputs and a checked body."""

    name: str
    ports: tuple[tuple[str, ValueType], ...]
    outputs: tuple[tuple[str, ValueType], ...]
    assigns: tuple[tuple[str, ast.expr], ...]
    returns: tuple[ast.expr, ...]
    file: str
    line: int
    doc: str

    @property
    def port_names(self) -> list[str]:
        return [p for p, _ in self.ports]

    @property
    def single(self) -> bool:
        return len(self.outputs) == 1


REGISTRY: dict[str, NodeDef] = {}
F = TypeVar("F", bound=Callable[..., Any])


def node(fn: F | None = None, *, outputs: tuple[str, ...] = ("out",)) -> Any:
    """Register `fn` as a library node named `<module>.<function>`."""

    def register(f: F) -> F:
        parsed = parse_node(f, outputs)
        REGISTRY[parsed.name] = parsed
        return f

    return register(fn) if fn is not None else register


def parse_node(fn: Callable[..., Any], outputs: tuple[str, ...]) -> NodeDef:
    """Parse a node function's source into a NodeDef, refusing what is outside the subset."""
    file = inspect.getsourcefile(fn) or "<unknown>"
    lines, first = inspect.getsourcelines(fn)
    func = ast.parse(textwrap.dedent("".join(lines))).body[0]
    assert isinstance(func, ast.FunctionDef)
    module = fn.__module__.removeprefix("violet.nodes.")
    name = f"{module}.{fn.__name__}"

    def locate(n: ast.AST) -> str:
        return f"{file}:{first + getattr(n, 'lineno', 1) - 1}: node '{name}'"

    ports = _ports(func, locate)
    body = _strip_docstring(func.body)
    assigns, returns = _body(body, locate, len(outputs))
    _check_names(ports, assigns, returns, locate)
    types = _return_types(func, locate, len(outputs))
    return NodeDef(name, tuple(ports), tuple(zip(outputs, types)), assigns, returns,
                   file, first, inspect.getdoc(fn) or "")


def _ports(func: ast.FunctionDef, locate: Callable[[ast.AST], str]) -> list[tuple[str, ValueType]]:
    a = func.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
        raise NodeSubsetError("ports must be plain positional parameters without defaults",
                              where=locate(func), fix="declare each port as `name: float` (or int, bool)")
    ports = []
    for arg in a.args:
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


def lookup(name: str, where: str) -> NodeDef:
    """The library node `module.function`, importing its module from violet.nodes (and nothing else)."""
    if not NODE_REF.fullmatch(name):
        raise GraphError(f"{quote(name)} is not a library node name", where=where,
                         fix="write `module.function`, e.g. sizing.conviction (see `violet check` of a library graph)")
    if name not in REGISTRY and "." in name:
        module = name.rsplit(".", 1)[0]
        if module in library_modules():
            importlib.import_module(f"violet.nodes.{module}")
    if name not in REGISTRY:
        load_library()
        known = ", ".join(sorted(REGISTRY))
        raise GraphError(f"unknown node '{name}'", where=where, fix=f"use one of: {known}")
    return REGISTRY[name]


def library_modules() -> list[str]:
    """Modules of violet.nodes that hold nodes (all but this registry and the prelude)."""
    import violet.nodes as pkg

    return [m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name not in ("registry", "prelude")]


def load_library() -> dict[str, NodeDef]:
    """Import every node module, so the registry lists the whole library."""
    for module in library_modules():
        importlib.import_module(f"violet.nodes.{module}")
    return REGISTRY
