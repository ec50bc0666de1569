"""A graph file's data as the loader sees it: its TOML, with `[graph] extends` resolved.

A variant names a base graph file (`extends`, relative to the variant) and
starts from the base's tables: per key, its own entry replaces the base's (a
bare value in `[params]` or `[state]` replaces only the default or the initial
value, keeping the base's doc, type and refinements); `[nodes.X]` replaces node
X whole; `[graph] drop = ["nodes.x", "outputs.y"]` removes entries of the base.
Paths written in a file (a composed `graph = ...`, a library) stay relative to
the file that wrote them: `Resolved.origins` records it per entry. The result is
the data of one flat graph file, so a variant lowers to the same IR, and has the
same content hash, as the equivalent flat file.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from violet.dag.schema import parse_graph_file
from violet.errors import GraphError, quote, where
from violet.files import is_file, shown

MAX_EXTENDS = 16  # bases extended one from another: resolution recurses once per level

# the tables a variant overrides key by key; [graph] is merged key by key too, less `extends` and `drop`
KEYED = ("libraries", "inputs", "params", "consts", "enums", "state", "nodes", "outputs", "next_state", "record")
SHORTHAND = {"params": "default", "state": "init"}  # a bare value in these tables is this key of the entry
PATHS = {"nodes": "graph", "libraries": None}  # where an entry holds a path relative to its file
DROP_FIX = 'write drop = ["nodes.<name>", "outputs.<name>", ...]: entries the base defines'


@dataclass
class Resolved:
    """A graph file's tables with `extends` resolved, and the file each path-holding entry came from."""

    data: dict[str, Any]
    origins: dict[str, Path] = field(default_factory=dict)  # "nodes.x" / "libraries.k" -> the file that wrote it
    bases: tuple[Path, ...] = ()  # the base, its base, ... (empty for a file that extends nothing)

    def origin(self, table: str, key: str, default: Path) -> Path:
        """The file whose directory the paths of entry `table.key` are relative to."""
        return self.origins.get(f"{table}.{key}", default)


def read_graph_data(path: Path, chain: tuple[str, ...] = ()) -> Resolved:
    """The tables of graph file `path`, its bases merged in (see the module's doc)."""
    data = read_toml(path)
    meta = data.get("graph")
    if not isinstance(meta, dict) or ("extends" not in meta and "drop" not in meta):
        return Resolved(data)
    file = str(path)
    extends = meta.get("extends")
    if not isinstance(extends, str):
        raise GraphError("`drop` removes entries of a base: it needs `extends`" if extends is None else
                         "`extends` must be a string", where=where(file, "graph.extends"),
                         fix='name the base graph file: extends = "blue_decision.toml"')
    here = str(path.resolve())
    if here in chain:
        names = " -> ".join(Path(p).name for p in (*chain, here))
        raise GraphError(f"graph extends itself: {names}", where=where(file, "graph.extends"),
                         fix="remove one `extends` link of the chain")
    if len(chain) >= MAX_EXTENDS:
        raise GraphError(f"graphs extended more than {MAX_EXTENDS} deep", where=where(file, "graph.extends"),
                         fix="flatten the chain of `extends`")
    base_path = relative_graph_path(path, extends, where(file, "graph.extends"))
    if not is_file(base_path):
        raise GraphError(f"no such graph file {quote(extends)}", where=where(file, "graph.extends"),
                         fix="the path is relative to this file")
    base = read_graph_data(base_path, (*chain, here))
    parse_graph_file(base.data, str(base_path))  # a base is a whole graph file: its own errors name it
    return _merge(base, base_path, data, path)


def _merge(base: Resolved, base_path: Path, variant: dict[str, Any], path: Path) -> Resolved:
    """The base's tables overridden by the variant's, key by key."""
    data = {table: dict(content) if isinstance(content, dict) else content for table, content in base.data.items()}
    origins = {f"{t}.{k}": base.origin(t, k, base_path) for t in PATHS for k in data.get(t, {})}
    meta = {k: v for k, v in variant["graph"].items() if k not in ("extends", "drop")}
    data["graph"] = {**data["graph"], **meta}
    for entry in _drops(variant, data, path):
        table, key = entry.split(".", 1)
        del data[table][key]
        origins.pop(entry, None)
    for table, content in variant.items():
        if table == "graph":
            continue
        if table not in KEYED or not isinstance(content, dict):
            data[table] = content  # not a table the schema knows, or not a table: the schema names it
            continue
        merged = data.setdefault(table, {})
        for key, value in content.items():
            merged[key] = _override(table, merged.get(key), value)
            if table in PATHS:
                origins[f"{table}.{key}"] = path
    return Resolved(data, origins, (base_path, *base.bases))


def _override(table: str, old: Any, new: Any) -> Any:
    """The variant's entry; a bare value for an entry the base wrote as a table keeps the rest of it."""
    if table in SHORTHAND and isinstance(old, dict) and not isinstance(new, dict):
        return {**old, SHORTHAND[table]: new}
    return new


def _drops(variant: dict[str, Any], base: dict[str, Any], path: Path) -> list[str]:
    """`[graph] drop`: a list of `table.key` the base defines and the variant does not redefine."""
    drops = variant["graph"].get("drop", [])
    at = where(str(path), "graph.drop")
    if not isinstance(drops, list) or not all(isinstance(d, str) for d in drops):
        raise GraphError("`drop` must be a list of strings", where=at, fix=DROP_FIX)
    for entry in drops:
        table, _, key = entry.partition(".")
        if table not in KEYED or key not in base.get(table, {}):
            raise GraphError(f"{quote(entry)} is not an entry of the base", where=at, fix=DROP_FIX)
        own = variant.get(table)
        if isinstance(own, dict) and key in own:
            raise GraphError(f"{quote(entry)} is both dropped and defined", where=at,
                             fix="drop it, or redefine it (a variant's entry replaces the base's)")
    return drops


def relative_graph_path(path: Path, text: str, at: str) -> Path:
    """The graph file a path written in `path` names, relative to it: a .toml path of printable characters."""
    if len(text) > 1024 or not text.endswith(".toml") or not text.isprintable():
        raise GraphError(f"{quote(text)} is not a graph file path", where=at,
                         fix='name a .toml file of at most 1024 printable characters, e.g. graph = "blue_sizing.toml"')
    return path.parent / text


def read_toml(path: Path) -> dict:
    """The file's TOML data. tomllib reads nested arrays and inline tables by recursion and refuses an
    integer of more than 4,300 digits with a bare ValueError: both are a graph file's errors here."""
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise GraphError(f"bad TOML: {exc}", where=shown(path), fix="fix the TOML syntax at that line") from None
    except UnicodeDecodeError as exc:
        raise GraphError(f"not UTF-8 text: {exc.reason}", where=shown(path), fix="save the file as UTF-8") from None
    except ValueError:
        raise GraphError("bad TOML: an integer of more than 4,300 digits", where=shown(path),
                         fix="integers in a graph are int64: at most 19 digits") from None
    except RecursionError:
        raise GraphError("bad TOML: arrays or inline tables nested too deeply to read", where=shown(path),
                         fix="a graph file's values are numbers, strings and flat tables") from None
    except OSError as exc:
        raise GraphError(f"cannot read the file: {exc.strerror}", where=shown(path), fix="check its permissions") from None


# ---------------------------------------------------------------- the resolved graph as TOML text

TABLE_ORDER = ("graph", *KEYED)


def resolved_toml(path: Path, resolved: Resolved) -> str:
    """The flat graph file equivalent to `path`: its resolved tables as TOML, every path rewritten relative
    to `path` (a base's `graph = "blue_exit.toml"` becomes "../blue_exit.toml" for a variant one level down)."""
    data = {t: dict(resolved.data[t]) for t in TABLE_ORDER if t in resolved.data}
    for table, key in PATHS.items():
        for name, entry in data.get(table, {}).items():
            origin = resolved.origin(table, name, path)
            if origin != path:
                data[table][name] = _rebased(entry, key, origin, path)
    lines = [f"# {path.name} resolved: the flat graph file it stands for" +
             (f" (extends {', '.join(b.name for b in resolved.bases)})" if resolved.bases else "")]
    for table, content in data.items():
        if table == "nodes":
            for name, node in content.items():
                lines += ["", f"[nodes.{_key(name)}]", *(f"{_key(k)} = {toml_value(v)}" for k, v in node.items())]
        else:
            lines += ["", f"[{table}]", *(f"{_key(k)} = {toml_value(v)}" for k, v in content.items())]
    return "\n".join(lines) + "\n"


def _rebased(entry: Any, key: str | None, origin: Path, path: Path) -> Any:
    """An entry written in `origin`, its path made relative to `path`'s directory."""
    text = entry.get(key) if key is not None and isinstance(entry, dict) else entry
    if not isinstance(text, str):
        return entry
    moved = Path(os.path.relpath(origin.parent / text, path.parent)).as_posix()
    return {**entry, key: moved} if key is not None else moved


def _key(name: str) -> str:
    """A TOML key: bare when it is one (every valid graph name is), else a quoted string."""
    bare = name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name)
    return name if bare else _string(name)


def toml_value(value: Any) -> str:
    """A TOML value: numbers exactly (floats by repr: nan, inf and -0.0 included), strings escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) or math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def _string(text: str) -> str:
    """A TOML basic string (multi-line when the text spans lines and needs no escape)."""
    plain = all(c.isprintable() or c == "\n" for c in text) and "\\" not in text and '"' not in text
    if "\n" in text and plain:
        return '"""\n' + text + '"""'
    escaped = json.dumps(text, ensure_ascii=False)  # JSON's escapes are TOML's; DEL must be escaped too
    return escaped.replace("\x7f", "\\u007f")
