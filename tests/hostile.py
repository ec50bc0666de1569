"""Hostile graph files: a valid base graph, every string position in it, and strings an attacker would try.

Shared by the injection tests and the fuzz suite. A graph is built as a Python dict and written as TOML
with every key and string JSON-escaped (TOML basic strings use the same escapes), so a payload reaches
the loader byte for byte, newlines, quotes and NUL included.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Doc = dict[str, Any]

SUB: Doc = {
    "graph": {"name": "sub"},
    "inputs": {"y": {"type": "float64"}},
    "params": {"m": 2.0},
    "nodes": {"z": {"expr": "y * m"}},
    "outputs": {"z": "z"},
}

# the node module BASE names in [libraries]: its top-level code would write a file if it ever ran
LIBRARY = """from pathlib import Path

from violet.nodes.registry import node

Path(__file__).with_name("library_ran").write_text("the library was executed")


@node
def half(v: float) -> float:
    return v * 0.5
"""

FILES = ("g.toml", "sub.toml", "mylib.py")  # what write_pair writes

BASE: Doc = {
    "graph": {"name": "g", "doc": "a graph"},
    "libraries": {"mylib": "mylib.py"},
    "inputs": {"x": {"type": "float64", "doc": "a price"}, "e": {"type": "enum", "values": ["A", "B"]}},
    "params": {"k": 3.0},
    "consts": {"c": 0.5},
    "enums": {"side": ["FLAT", "SHORT"]},
    "state": {"n": 0, "pos": {"enum": "side"}},
    "next_state": {"n": "n + 1", "pos": "side.SHORT if x > c else pos"},
    "nodes": {"s": {"graph": "sub.toml", "in": {"y": "x"}, "params": {"m": "k"}},
              "w": {"expr": "s.z + c if e == 'A' else n * 1.0", "doc": "weighted"},
              "u": {"node": "mylib.half", "in": {"v": "x"}}},
    "outputs": {"w": "w", "held": "pos == side.SHORT", "u": "u"},
}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def to_toml(doc: Doc) -> str:
    """A graph dict as TOML text: `[nodes.<name>]` tables, every other table as `key = value` lines."""
    lines: list[str] = []
    for table, content in doc.items():
        if table == "nodes":
            for name, node in content.items():
                lines.append(f"[nodes.{json.dumps(name)}]")
                lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in node.items()]
        else:
            lines.append(f"[{table}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in content.items()]
    return "\n".join(lines) + "\n"


def write_pair(directory: Path, doc: Doc) -> Path:
    """Write `doc` as g.toml with the composed sub.toml and the library mylib.py beside it; return g.toml's path."""
    (directory / "sub.toml").write_text(to_toml(SUB))
    (directory / "mylib.py").write_text(LIBRARY)
    path = directory / "g.toml"
    path.write_text(to_toml(doc))
    return path


def _rename(table: str, old: str) -> Callable[[Doc, str], None]:
    def put(doc: Doc, payload: str) -> None:
        doc[table] = {payload if k == old else k: v for k, v in doc[table].items()}
    return put


def _set(*path: str | int) -> Callable[[Doc, str], None]:
    def put(doc: Doc, payload: str) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = payload
    return put


def _rename_in(node: str, table: str, old: str) -> Callable[[Doc, str], None]:
    def put(doc: Doc, payload: str) -> None:
        ports = doc["nodes"][node][table]
        doc["nodes"][node][table] = {payload if k == old else k: v for k, v in ports.items()}
    return put


def _both(first: Callable[[Doc, str], None], second: Callable[[Doc, str], None]) -> Callable[[Doc, str], None]:
    def put(doc: Doc, payload: str) -> None:
        first(doc, payload)
        second(doc, payload)
    return put


# every place a string of the file goes, and its kind: a name, a reference (a library node, a file path),
# free text (any string is allowed, never code), or an expression (read by the restricted parser, where
# a trailing `# ...` is a comment)
POSITIONS: dict[str, tuple[Callable[[Doc, str], None], str]] = {
    "graph.name": (_set("graph", "name"), "name"),
    "graph.doc": (_set("graph", "doc"), "text"),
    "graph.extends": (_set("graph", "extends"), "ref"),
    "libraries key": (_rename("libraries", "mylib"), "name"),
    "libraries path": (_set("libraries", "mylib"), "ref"),
    "inputs key": (_rename("inputs", "x"), "name"),
    "inputs.x.doc": (_set("inputs", "x", "doc"), "text"),
    "inputs.e.values": (_set("inputs", "e", "values", 1), "name"),
    "params key": (_rename("params", "k"), "name"),
    "consts key": (_rename("consts", "c"), "name"),
    "enums key": (_rename("enums", "side"), "name"),
    "enums value": (_set("enums", "side", 1), "name"),
    "state key": (_both(_rename("state", "n"), _rename("next_state", "n")), "name"),
    "state enum": (_set("state", "pos", "enum"), "name"),
    "next_state expr": (_set("next_state", "n"), "expr"),
    "nodes key": (_rename("nodes", "w"), "name"),
    "nodes.w.expr": (_set("nodes", "w", "expr"), "expr"),
    "nodes.w.doc": (_set("nodes", "w", "doc"), "text"),
    "nodes.s.graph": (_set("nodes", "s", "graph"), "ref"),
    "nodes.s.in key": (_rename_in("s", "in", "y"), "name"),
    "nodes.s.in value": (_set("nodes", "s", "in", "y"), "expr"),
    "nodes.s.params key": (_rename_in("s", "params", "m"), "name"),
    "nodes.s.params value": (_set("nodes", "s", "params", "m"), "expr"),
    "library node": (lambda doc, p: doc["nodes"].__setitem__("lib", {"node": p, "in": {}}), "ref"),
    "outputs key": (_rename("outputs", "w"), "name"),
    "outputs expr": (_set("outputs", "w"), "expr"),
    "enum string in expr": (_set("nodes", "w", "expr"), "name"),  # payload wrapped as e == '<payload>'
}


def payloads(canary: Path) -> list[str]:
    """Strings that would run `touch canary` (or write beside it) if any reached code or a path."""
    touch = f'__import__("os").system("touch {canary}")'
    return [
        f'x""" if {touch} else """',
        f"x\n{touch}",
        f"x\r\n{touch}",
        f"x\r{touch}",
        f"x'); {touch}; ('",
        f"x)\n{touch}\n#",
        f"x  # {touch}",
        f"x */ $system(\"touch {canary}\"); /*",
        f"x\n$system(\"touch {canary}\");\nmodule y",
        str(canary),
        f"../../{canary.name}",
        f"x\x00{touch}",
        "x" * 5000,
        "é",
        "x.__class__",
        "[/bold][red]x[/red] [link=file:///etc/passwd]x",
        touch,
    ]


def hostile(position: str, payload: str) -> Doc:
    """BASE with `payload` put at `position`."""
    doc = copy.deepcopy(BASE)
    put, _ = POSITIONS[position]
    put(doc, f"e == {json.dumps(payload)}" if position == "enum string in expr" else payload)
    return doc
