"""The content hash: stable across processes, formatting and ordering; changed by any op, constant or parameter."""

from __future__ import annotations

import subprocess
import sys

from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph

BASE = """
[graph]
name = "h"
[inputs]
x = { type = "float64", finite = true }
y = { type = "float64" }
[params]
k = 2.0
[consts]
half = 0.5
[nodes.a]
expr = "x * k + half"
[nodes.b]
expr = "min(a, y)"
[outputs]
out = "b"
twice = "a * 2.0"
"""

REORDERED = """
# the same graph: tables and keys in another order, other spacing, comments, sub-tables
[outputs]
twice="a * 2.0"
out   =   "b"

[nodes.b]
expr = "min(a, y)"   # comment

[nodes.a]
expr = "x * k + half"

[consts]
half = 0.5

[params.k]
default = 2.0

[inputs.y]
type = "float64"

[inputs.x]
type = "float64"
finite = true

[graph]
name = "h"
"""


def content_hash(write_graph, text: str, name: str = "g.toml") -> str:
    return lower(load_graph(write_graph(text, name))).content_hash


def test_stable_across_formatting_and_ordering(write_graph):
    assert content_hash(write_graph, BASE) == content_hash(write_graph, REORDERED, "r.toml")


def test_stable_across_processes(write_graph):
    path = write_graph(BASE)
    code = ("import sys; from violet.compile.lower import lower; from violet.dag.graph import load_graph; "
            "print(lower(load_graph(sys.argv[1])).content_hash)")
    other = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == lower(load_graph(path)).content_hash


def test_changes_with_any_op_constant_parameter_or_refinement(write_graph):
    base = content_hash(write_graph, BASE)
    variants = {
        "op": BASE.replace('"min(a, y)"', '"max(a, y)"'),
        "constant": BASE.replace("half = 0.5", "half = 0.5000000000000001"),
        "parameter default": BASE.replace("k = 2.0", "k = 2.5"),
        "refinement": BASE.replace("finite = true", "finite = true, ge = 0.0"),
        "evaluation order": BASE.replace('"x * k + half"', '"half + x * k"'),
        "output": BASE.replace('twice = "a * 2.0"', 'twice = "a * 3.0"'),
    }
    hashes = {what: content_hash(write_graph, text, f"{k}.toml") for k, (what, text) in enumerate(variants.items())}
    assert all(h != base for h in hashes.values()), hashes
    assert len(set(hashes.values())) == len(hashes)


def test_parameters_do_not_recompile(write_graph):
    """A parameter is a kernel argument: a new default changes the content hash, not the code or its kernels."""
    a = lower(load_graph(write_graph(BASE)))
    b = lower(load_graph(write_graph(BASE.replace("k = 2.0", "k = 3.0"), "b.toml")))
    assert a.content_hash != b.content_hash and a.code_hash == b.code_hash
    assert compile_ir(a).path == compile_ir(b).path
    c = a.with_params({"k": 3.0})
    assert c.content_hash == b.content_hash and c.content_hash != a.content_hash
