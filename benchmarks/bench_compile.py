"""Compile time as graphs grow: cold (empty kernel cache) and warm (a second process) start, per command.

A deterministic chain graph of about OPS ops is written to a temporary directory; each measurement is a
fresh Python process timing `compile_graph(ir).warm(kernels)` only (imports excluded), so the numbers are
what a command pays for its kernels: `run` and `sweep` need the scan kernel, the reactor the step kernel,
`violet compile` both. The trace kernel is compiled only when a diff needs to attribute a mismatch.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

NODE = "n{k} = {{ expr = \"(n{a} * x + y) / (abs(n{b}) + 1.0) - min(n{a}, y) * 0.5\" }}"


def chain_graph(nodes: int, vector: bool) -> str:
    """A graph of `nodes` expression nodes, each reading two earlier ones (about 7 IR ops per node); with
    `vector`, x is one value per asset, so every op is a loop over the universe."""
    x = '{ type = "float64", vector = true }' if vector else '{ type = "float64" }'
    lines = [f'[graph]\nname = "chain"\n[inputs]\nx = {x}\ny = {{ type = "float64" }}\n[nodes]',
             'n0 = { expr = "x * y" }', 'n1 = { expr = "x - y" }']
    lines += [NODE.format(k=k, a=k - 1, b=k // 2) for k in range(2, nodes)]
    out = f"n{nodes - 1}[0]" if vector else f"n{nodes - 1}"
    return "\n".join(lines) + f'\n[outputs]\nout = "{out}"\n'


def timed(graph: Path, cache: str, kernels: tuple[str, ...]) -> tuple[float, int]:
    code = ("import sys, time; from violet.api import compile_graph, load; "
            f"ir = load({str(graph)!r}); t = time.perf_counter(); cg = compile_graph(ir).warm(*{kernels!r}); "
            "print(time.perf_counter() - t, len(ir.ops))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "VIOLET_CACHE_DIR": cache}).stdout.split()
    return float(out[0]), int(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, nargs="+", default=[30, 60])
    args = parser.parse_args()
    print(f"{'ops':>5}  {'values':<7} {'kernels':<12} {'cold s':>7} {'warm s':>7}")
    for vector in (False, True):
        for nodes in args.nodes:
            with tempfile.TemporaryDirectory() as tmp:
                graph = Path(tmp) / "chain.toml"
                graph.write_text(chain_graph(nodes, vector))
                for kernels in (("scan",), ("batch",), ("step",), ("step", "scan")):
                    cache = tempfile.mkdtemp(dir=tmp)
                    cold, ops = timed(graph, cache, kernels)
                    warm, _ = timed(graph, cache, kernels)
                    print(f"{ops:>5}  {'vector' if vector else 'scalar':<7} {'+'.join(kernels):<12} "
                          f"{cold:7.2f} {warm:7.2f}")


if __name__ == "__main__":
    main()
