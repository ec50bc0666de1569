"""The restricted expression language shared by graph files and node bodies.

Text is parsed with Python's own parser (`ast.parse`, which never runs the
code) and then checked against a whitelist: arithmetic, comparisons, boolean
logic, conditional expressions, literals, names, `node.output` references and
calls of the built-ins and library nodes. Anything else is refused naming the
construct and where it stands. Nothing is ever evaluated by Python.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from violet.dag.builtins import BUILTINS as BUILTIN_ARITY
from violet.dag.types import int64_problem
from violet.errors import NodeSubsetError, quote

BUILTINS = frozenset(BUILTIN_ARITY)

BINOPS: dict[type, str] = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow",
                           ast.FloorDiv: "floordiv", ast.Mod: "mod"}
CMPOPS: dict[type, str] = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}

ALLOWED = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call,
    ast.Name, ast.Attribute, ast.Constant, ast.keyword, ast.Load, ast.Subscript,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.FloorDiv, ast.Mod, ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
)

# what to call a refused construct, and what to write instead
REFUSED: dict[type, str] = {
    ast.Slice: "slices (x[a:b])",
    ast.Lambda: "lambda",
    ast.ListComp: "list comprehensions",
    ast.GeneratorExp: "generator expressions",
    ast.List: "lists", ast.Tuple: "tuples", ast.Dict: "dicts", ast.Set: "sets",
    ast.JoinedStr: "f-strings",
    ast.NamedExpr: "':=' (assignment expressions)",
    ast.Starred: "'*' unpacking",
    ast.BitAnd: "'&'", ast.BitOr: "'|'", ast.BitXor: "'^'",
    ast.Invert: "'~'", ast.LShift: "'<<'", ast.RShift: "'>>'",
    ast.Is: "'is'", ast.IsNot: "'is not'", ast.In: "'in'", ast.NotIn: "'not in'",
    ast.MatMult: "'@'", ast.Await: "await", ast.Yield: "yield",
}

# what to write instead, where there is a direct replacement
INSTEAD: dict[type, str] = {
    ast.BitAnd: "write 'and'", ast.BitOr: "write 'or'",
    ast.Invert: "write 'not'", ast.Is: "write ==", ast.IsNot: "write !=",
}

Locate = Callable[[ast.AST], str]


def construct_name(node: ast.AST) -> str:
    """A reader's name for an AST construct."""
    return REFUSED.get(type(node), f"'{type(node).__name__}'")


MAX_NESTING = 100  # levels of an expression lowered by recursion; a chain a + b - c * d ... is one level
MAX_CHARS = 20_000  # the text of one expression


def check_subset(tree: ast.AST, locate: Locate) -> None:
    """Raise NodeSubsetError at the first construct outside the subset, or nested deeper than MAX_NESTING.

    One pass over an explicit stack, never recursion: a sum of thousands of terms is a tree thousands
    deep (Python nests a + b + c as ((a + b) + c)). Such a chain is lowered in a loop, so its left
    spine does not count as nesting; parentheses, calls, unary operators and conditionals do."""
    stack: list[tuple[ast.AST, ast.AST | None, int]] = [(tree, None, 0)]
    while stack:
        node, parent, depth = stack.pop()
        _check_node(node, parent, locate)
        if depth > MAX_NESTING:
            raise NodeSubsetError(f"the expression is nested more than {MAX_NESTING} levels deep", where=locate(node),
                                  fix="split it into [nodes] entries that name the inner parts")
        for child in ast.iter_child_nodes(node):
            spine = isinstance(node, ast.BinOp) and child is node.left
            stack.append((child, node, depth if spine else depth + 1))


def _check_node(node: ast.AST, parent: ast.AST | None, locate: Locate) -> None:
    if not isinstance(node, ALLOWED):
        raise NodeSubsetError(f"{construct_name(node)} is outside the expression subset",
                              where=locate(node), fix=INSTEAD.get(type(node), SUBSET_FIX))
    if isinstance(node, ast.Constant):
        _check_literal(node, parent, locate)
    if isinstance(node, ast.Attribute):
        _check_attribute(node, locate)
    if isinstance(node, ast.Compare) and len(node.ops) > 1:
        raise NodeSubsetError("chained comparisons (a < b < c) are outside the subset",
                              where=locate(node), fix="write (a < b) and (b < c)")
    if isinstance(node, ast.Call):
        _check_call(node, locate)
    if isinstance(node, ast.Subscript) and not isinstance(node.value, (ast.Name, ast.Attribute)):
        raise NodeSubsetError("only a named vector can be indexed (x[i])", where=locate(node), fix=SUBSET_FIX)


def _check_literal(node: ast.Constant, parent: ast.AST | None, locate: Locate) -> None:
    """Numbers and strings only; an integer must be an int64 (-9223372036854775808 is written as the
    negation of 2**63, which is allowed there and only there)."""
    value = node.value
    if not isinstance(value, (int, float, str)):
        raise NodeSubsetError(f"the literal {quote(value)} is outside the expression subset",
                              where=locate(node), fix=SUBSET_FIX)
    negated = isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.USub)
    if isinstance(value, int) and (problem := int64_problem(value)) is not None and not (negated and value == 2**63):
        raise NodeSubsetError(problem, where=locate(node), fix="integers are int64: write a float64 (1e20) if you mean one")


def _check_attribute(node: ast.Attribute, locate: Locate) -> None:
    """`a.b` names an output of node a or a value of enum a; anything else (`(x + y).real`,
    `a.__class__`, `a.b.c`) would be Python attribute access, which the subset has none of."""
    if not isinstance(node.value, ast.Name) or node.attr.startswith("_"):
        raise NodeSubsetError(f"attribute access {quote('.' + node.attr)} is outside the expression subset", where=locate(node),
                              fix=ATTRIBUTE_FIX)


ATTRIBUTE_FIX = "a.b only names an output of node a (sz.leverage) or a value of enum a (reason.NONE)"


def _check_call(node: ast.Call, locate: Locate) -> None:
    func = node.func
    dotted = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
    if not (isinstance(func, ast.Name) or dotted):
        raise NodeSubsetError("only built-ins and library nodes (module.name) can be called",
                              where=locate(node), fix=SUBSET_FIX)
    if isinstance(func, ast.Name) and func.id not in BUILTINS:
        raise NodeSubsetError(f"'{func.id}' is not a built-in function", where=locate(node),
                              fix=f"built-ins are {', '.join(sorted(BUILTINS))}; library nodes are called as module.name(...)")
    if node.keywords and not (isinstance(func, ast.Name) and func.id == "match"):
        raise NodeSubsetError("keyword arguments are only for match(...)", where=locate(node), fix=SUBSET_FIX)


SUBSET_FIX = ("use arithmetic (+ - * /, // and % on int64, ** by a small integer), comparisons, and/or/not, "
              f"'a if c else b', vector[index], and the built-ins {', '.join(BUILTIN_ARITY)}")


def parse_expr(text: str, locate_text: str) -> ast.expr:
    """Parse and check one expression from a graph file; `locate_text` is its file and key.

    The text is parsed inside parentheses, so an expression may span lines.
    """
    multiline = "\n" in text.strip()
    if len(text) > MAX_CHARS:
        raise NodeSubsetError(f"the expression is {len(text):,} characters long, more than {MAX_CHARS:,}",
                              where=locate_text, fix="split it into [nodes] entries")
    try:
        tree = _parse("(\n" + text.strip() + "\n)")
    except SyntaxError as exc:
        last = text.strip().count("\n") + 3  # the line of the closing parenthesis added above
        at = ("the end of the expression" if exc.lineno in (None, last) else
              f"{f'line {exc.lineno - 1}, ' if multiline else ''}column {exc.offset}")
        why = "an integer of more than 4,300 digits" if "integer string conversion" in exc.msg else exc.msg
        raise NodeSubsetError(f"cannot parse expression {quote(text.strip())}: {why} at {at}",
                              where=locate_text, fix="check the parentheses and operators") from None
    except MemoryError:  # CPython's parser: "Parser stack overflowed - Python expression too complex"
        raise NodeSubsetError("the expression is nested too deeply for Python's parser", where=locate_text,
                              fix="split it into [nodes] entries that name the inner parts") from None

    def locate(node: ast.AST) -> str:
        col = getattr(node, "col_offset", None)
        if col is None:
            return locate_text
        line = f"line {node.lineno - 1}, " if multiline else ""  # type: ignore[attr-defined]
        return f"{locate_text} ({line}column {col + 1})"

    check_subset(tree, locate)
    return tree.body


def _parse(source: str) -> ast.Expression:
    """`ast.parse`, with room on the stack for CPython to build the tree.

    CPython turns its parsed tree into Python objects recursively, one level per term of a chain
    (a + b + c + ... nests as ((a + b) + c) + ...), allowing three levels per frame of the recursion
    limit left above the caller: whether a 2,000-term sum parses would depend on how deep the caller
    happens to be. The room is what the text can need (a level takes at least one character;
    MAX_CHARS bounds the text, so the C stack stays far from its end)."""
    with recursion_room(len(source) // 3 + 100):
        return ast.parse(source, mode="eval")


@contextmanager
def recursion_room(frames: int) -> Iterator[None]:
    """Python's recursion limit raised, for the block, to allow `frames` more frames than are in use
    now, then restored: recursion whose depth a documented limit bounds never depends on how deep the
    caller happens to be."""
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, depth + frames))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def references(tree: ast.AST) -> set[str]:
    """Names an expression reads (for `a.b`, the `a`), excluding called functions."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    called |= {id(n.func.value) for n in ast.walk(tree)
               if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}
