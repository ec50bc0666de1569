"""Compile an IR to Numba kernels, cached on disk by content.

Numba's `cache=True` keys its cache on a source file and its timestamp, so
the generated source is written once to a module file named by the graph's
code hash (and the hash of the source text, so a new code generator never
reuses an old file), then imported. A second process imports the same
file and loads the machine code from Numba's cache instead of compiling.

The cache lives in `$VIOLET_CACHE_DIR`, or `~/.cache/violet/kernels`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from violet.compile.interp import python_value
from violet.compile.ir import IR, Scalar
from violet.compile.numba_codegen import generate
from violet.dag.types import DType


def cache_dir() -> Path:
    """Where generated kernel modules and Numba's cache files are kept."""
    root = os.environ.get("VIOLET_CACHE_DIR") or Path.home() / ".cache" / "violet"
    path = Path(root) / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class CompiledGraph:
    """Numba kernels for one IR, with how long loading them took and whether the disk cache served them."""

    ir: IR
    module: ModuleType
    path: Path
    seconds: float
    cache_hit: bool

    def _params(self, params: Mapping[str, Scalar] | None) -> list[Scalar]:
        values = {**self.ir.param_defaults, **(params or {})}
        return [python_value(values[op.name], op.type.dtype) for op in self.ir.ops if op.kind == "param"]

    def _inputs(self, inputs: Mapping[str, Scalar]) -> list[Scalar]:
        return [python_value(inputs[op.name], op.type.dtype) for op in self.ir.ops if op.kind == "input"]

    def step(self, inputs: Mapping[str, Scalar], params: Mapping[str, Scalar] | None = None) -> dict[str, Scalar]:
        """The outputs for one row, computed by the compiled step kernel."""
        values = self.module.step(*self._inputs(inputs), *self._params(params))
        return dict(zip([n for n, _ in self.ir.canonical_outputs], values))

    def trace(self, inputs: Mapping[str, Scalar], params: Mapping[str, Scalar] | None = None) -> list[Scalar]:
        """Every op's value for one row, as the compiled code computes it."""
        n = len(self.ir.ops)
        fbuf, ibuf = np.zeros(n, np.float64), np.zeros(n, np.int64)
        self.module.trace(*self._inputs(inputs), *self._params(params), fbuf, ibuf)
        return [float(fbuf[op.id]) if op.type.dtype == DType.F64
                else bool(ibuf[op.id]) if op.type.dtype == DType.BOOL else int(ibuf[op.id]) for op in self.ir.ops]

    def batch(self, columns: Mapping[str, np.ndarray], params: Mapping[str, Scalar] | None = None
              ) -> dict[str, np.ndarray]:
        """The outputs for every row of equal-length input columns (enums as int64 codes)."""
        ins = [op for op in self.ir.ops if op.kind == "input"]
        arrays = [np.ascontiguousarray(columns[op.name], dtype=op.type.dtype.value) for op in ins]
        n = len(arrays[0]) if arrays else int(columns.get("__rows__", 1))
        outs = {name: np.empty(n, dtype=self.ir.ops[i].type.dtype.value) for name, i in self.ir.canonical_outputs}
        self.module.batch(n, *arrays, *self._params(params), *outs.values())
        return {name: outs[name] for name in self.ir.output_names}


def compile_ir(ir: IR) -> CompiledGraph:
    """Generate, cache and load the kernels of `ir` (compiling only on a cache miss)."""
    source = generate(ir)
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    path = cache_dir() / f"violet_{ir.code_hash[:20]}_{digest}.py"
    if not path.exists():
        _write_atomic(path, source)
    start = time.perf_counter()
    module = _import(path)
    seconds = time.perf_counter() - start
    hit = bool(module.step.stats.cache_hits) and not module.step.stats.cache_misses
    return CompiledGraph(ir, module, path, seconds, hit)


def _write_atomic(path: Path, text: str) -> None:
    """Write then rename, so a concurrent process never imports half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _import(path: Path) -> ModuleType:
    name = path.stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
