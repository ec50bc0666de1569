"""The `@node` decorator: node functions in a documented Python subset (violet/dag/library.py).

VIOLET's own node modules (`violet/nodes/*.py`) are read by the graph layer as text, never imported; the
decorator marks their functions and leaves them as they are (importable, so the modules read as Python).
A function decorated in any other imported module (a test's, a notebook's) is parsed when it is decorated
and registered, so a graph can name it `module.function`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from typing import Any, TypeVar

from violet.dag.library import REGISTRY, NodeDef, parse_function

F = TypeVar("F", bound=Callable[..., Any])
OWN = "violet.nodes."  # VIOLET's own node modules: found by the graph layer as files


def node(fn: F | None = None, *, outputs: tuple[str, ...] = ("out",)) -> Any:
    """Mark `fn` as a library node named `<module>.<function>` (registered unless it is one of VIOLET's own)."""

    def register(f: F) -> F:
        if not f.__module__.startswith(OWN):
            parsed = parse_node(f, outputs)
            REGISTRY[parsed.name] = parsed
        return f

    return register(fn) if fn is not None else register


def parse_node(fn: Callable[..., Any], outputs: tuple[str, ...]) -> NodeDef:
    """Parse an imported node function's source into a NodeDef."""
    file = inspect.getsourcefile(fn) or "<unknown>"
    lines, first = inspect.getsourcelines(fn)
    func = ast.parse(textwrap.dedent("".join(lines))).body[0]
    assert isinstance(func, ast.FunctionDef)
    return parse_function(func, f"{fn.__module__}.{fn.__name__}", file, first - 1, outputs)
