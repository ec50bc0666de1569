"""Graphviz views of a lowered graph: nodes, typed edges, composed graphs as clusters.

The view is derived from the IR alone: every op knows the graph node it came
from, so an edge is drawn wherever an op of one node reads a value produced
by another, labelled with that value's type. Node paths with a dot
(`sz.base`) sit inside the cluster of their composed graph (`sz`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import graphviz

from violet.compile.ir import IR
from violet.compile.netlist import Netlist
from violet.errors import VioletError

STYLE = {
    "input": {"shape": "ellipse", "style": "filled", "fillcolor": "#dbeafe"},
    "param": {"shape": "note", "style": "filled", "fillcolor": "#f3f4f6", "fontsize": "10"},
    "node": {"shape": "box", "style": "rounded,filled", "fillcolor": "#ede9fe"},
    "output": {"shape": "doubleoctagon", "style": "filled", "fillcolor": "#dcfce7"},
}


def to_dot(ir: IR, *, params: bool = True, values: Mapping[str, str] | None = None,
           caption: str = "") -> graphviz.Digraph:
    """The graph of `ir` as a graphviz Digraph; with `values` (vertex name -> text, e.g. one row's
    values from violet.tools.explain), each input, param, node and output shows its value."""
    title = f"{ir.name}  {ir.content_hash[:12]}" + (f"\n{caption}" if caption else "")
    # newrank: Graphviz 2.43's default ranking fails ("trouble in init_rank") on blue_decision's clusters
    dot = graphviz.Digraph(ir.name, graph_attr={"rankdir": "LR", "label": title, "newrank": "true",
                                                "labelloc": "t", "fontname": "Helvetica"},
                           node_attr={"fontname": "Helvetica"}, edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    kinds = _vertex_kinds(ir, params)
    labels = dict(ir.labels)
    clusters: dict[str, list[str]] = {}
    for vertex, kind in kinds.items():
        clusters.setdefault(vertex.rpartition(".")[0], []).append(vertex)
    _add_cluster(dot, "", clusters, kinds, labels, values or {})
    for (src, dst), vtype in sorted(_edges(ir, kinds).items()):
        dot.edge(src, dst, label=vtype)
    for name, op_id in ir.outputs:
        shown = (values or {}).get(f"{name} (output)")
        dot.node(f"{name} (output)", name + (f"\n= {shown}" if shown else ""), **STYLE["output"])
        src = ir.ops[op_id].node
        if src in kinds:
            dot.edge(src, f"{name} (output)", label=str(ir.ops[op_id].type))
    return dot


def _vertex_kinds(ir: IR, params: bool) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for op in ir.ops:
        if op.kind in ("input", "param"):
            if op.kind == "input" or params:
                kinds[op.name] = op.kind
        elif op.node and not op.node.rpartition(".")[2].startswith("out."):
            kinds.setdefault(op.node, "node")
    return kinds


def _add_cluster(dot: graphviz.Digraph, prefix: str, clusters: dict[str, list[str]],
                 kinds: dict[str, str], labels: dict[str, str], values: Mapping[str, str]) -> None:
    for vertex in clusters.get(prefix, []):
        short = vertex.rpartition(".")[2]
        text = f"{short}\n{labels[vertex]}" if vertex in labels and kinds[vertex] == "node" else short
        text += f"\n= {values[vertex]}" if vertex in values else ""
        dot.node(vertex, text, **STYLE[kinds[vertex]])
    for child in sorted(c for c in clusters if c and c.rpartition(".")[0] == prefix):
        with dot.subgraph(name=f"cluster_{child}") as sub:
            sub.attr(label=f"{child.rpartition('.')[2]}: {labels.get(child, '')}", style="rounded", color="#7c3aed")
            _add_cluster(sub, child, clusters, kinds, labels, values)


def _edges(ir: IR, kinds: dict[str, str]) -> dict[tuple[str, str], str]:
    edges: dict[tuple[str, str], str] = {}
    for op in ir.ops:
        dst = op.node
        for arg in op.args:
            src = ir.ops[arg].node
            if src in kinds and dst in kinds and src != dst:
                edges[(src, dst)] = str(ir.ops[arg].type)
    return edges


def write_dot(ir: IR, out: Path | None, *, params: bool = True, values: Mapping[str, str] | None = None,
              caption: str = "") -> str:
    """Render to `out` (.dot, .svg or .png) or return DOT text when `out` is None."""
    dot = to_dot(ir, params=params, values=values, caption=caption)
    if out is None:
        return dot.source
    if out.suffix == ".dot":
        out.write_text(dot.source)
        return str(out)
    if out.suffix not in (".svg", ".png"):
        raise VioletError(f"unknown output format '{out.suffix}'", where=str(out), fix="use .dot, .svg or .png")
    try:
        out.write_bytes(dot.pipe(format=out.suffix[1:]))
    except graphviz.ExecutableNotFound:
        raise VioletError("SVG and PNG need Graphviz's `dot` program, which is not installed", where=str(out),
                          fix="apt-get install -y graphviz (or write .dot text, which needs nothing)") from None
    except graphviz.CalledProcessError as err:
        raise VioletError(f"Graphviz failed to lay the graph out: {err.stderr.decode(errors='replace')[:300]}",
                          where=str(out), fix="write .dot text instead and lay it out with another engine "
                                              "(e.g. `fdp -Tsvg`)") from None
    return str(out)


def netlist_dot(ir: IR, formats: list, net: Netlist) -> graphviz.Digraph:
    """The lowered netlist, read from the netlist itself: one box per hardware op with its fixed-point format
    and the pipeline stage(s) its cells sit in (an op the pipelining cut, such as an argmax tree, spans
    several), grouped by the stage where its result is ready; registers between stages are implied."""
    dot = graphviz.Digraph(f"{ir.name}_netlist", graph_attr={"rankdir": "LR", "label": f"{ir.name} netlist",
                                                             "labelloc": "t", "fontname": "Helvetica"},
                           node_attr={"fontname": "Helvetica", "fontsize": "10", "shape": "box"},
                           edge_attr={"fontsize": "8"})
    spans = net.op_stages()
    groups: dict[int, list] = {}
    for op in ir.ops:
        if op.kind == "const":
            continue
        groups.setdefault(spans.get(op.id, (0, 0))[1], []).append(op)
    for stage, ops in sorted(groups.items()):
        with dot.subgraph(name=f"cluster_stage{stage}") as sub:
            sub.attr(label=f"stage {stage}" if net.stages else "", style="dashed" if net.stages else "invis")
            for op in ops:
                label = op.name if op.kind in ("input", "param", "state") else op.kind
                first, last = spans.get(op.id, (0, 0))
                cut = f"\nstages {first}-{last}" if first != last else ""
                sub.node(f"op{op.id}", f"{label}\n{formats[op.id]}{cut}",
                         **({"shape": "ellipse"} if op.kind in ("input", "param", "state") else {}))
    for op in ir.ops:
        for arg in op.args:
            if ir.ops[arg].kind != "const" and op.kind != "const":
                dot.edge(f"op{arg}", f"op{op.id}")
    for name, i in ir.outputs:
        dot.node(f"out_{name}", name, shape="doubleoctagon")
        dot.edge(f"op{i}", f"out_{name}")
    return dot
