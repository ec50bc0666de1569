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
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from violet.compile.interp import python_value
from violet.compile.ir import IR, input_shape
from violet.compile.numba_codegen import generate, generate_population, population_outputs, shared_reads, instance_ops
from violet.dag.types import DType, ValueType


# A stateless graph's rows run on all cores from this many on: compiling the parallel kernel costs several
# seconds (benchmarks/RESULTS.md, "Compile time"), more than it saves on a shorter table.
PARALLEL_ROWS = 5_000_000
_COMPILING = threading.Lock()  # one process-wide: CompiledGraphs of one code share their module's kernels


def cache_dir() -> Path:
    """Where generated kernel modules and Numba's cache files are kept."""
    root = os.environ.get("VIOLET_CACHE_DIR") or Path.home() / ".cache" / "violet"
    path = Path(root) / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Kernels:
    """A generated kernel module of one IR. Each kernel is compiled (or loaded from Numba's disk cache) the
    first time it is asked for, to its exact signature; `loads` keeps how long that took and whether the
    cache served it, per kernel."""

    ir: IR
    module: ModuleType
    path: Path
    loads: dict[str, tuple[float, bool]] = field(default_factory=dict)

    def kernel(self, name: str) -> Any:
        """The compiled kernel `name` (one of the module's SIGNATURES, or the lazily typed `trace`),
        compiled on first use; it takes only arguments of its signature (no silent recompilation for
        another layout)."""
        dispatcher = getattr(self.module, name)
        if name in self.loads or name not in self.module.SIGNATURES:
            return dispatcher
        with _COMPILING:  # threads of a sweep may ask at once; one compiles, the others then find it done
            if name not in self.loads:
                start = time.perf_counter()
                if not dispatcher.signatures:  # another CompiledGraph of this process may have compiled it
                    dispatcher.compile(self.module.SIGNATURES[name])
                    dispatcher.disable_compile()
                stats = dispatcher.stats
                self.loads[name] = (time.perf_counter() - start, bool(stats.cache_hits) and not stats.cache_misses)
        return dispatcher

    def warm(self, *names: str) -> Any:
        """Compile (or load) these kernels now, e.g. before a timed run; by default every kernel of the
        module's SIGNATURES but the parallel `batch` (it only pays on long tables; `trace`, only when a diff
        attributes a mismatch, is not in SIGNATURES)."""
        for name in names or [n for n in self.module.SIGNATURES if n != "batch"]:
            self.kernel(name)
        return self

    @property
    def seconds(self) -> float:
        """Time spent compiling or loading the kernels asked for so far."""
        return sum(t for t, _ in self.loads.values())

    @property
    def cache_hit(self) -> bool:
        """True if every kernel asked for so far came from the disk cache."""
        return bool(self.loads) and all(hit for _, hit in self.loads.values())


@dataclass
class CompiledGraph(Kernels):
    """The step, scan (and, stateless, batch) and trace kernels of one IR."""

    populations: dict[tuple[Any, ...], Population] = field(default_factory=dict)  # made once each, by what they run

    def population(self, swept: Sequence[str], outputs: Sequence[str] | None = None,
                   where: str | None = None) -> Population:
        """The population kernels of this IR for the parameters `swept` (violet.compile.numba_codegen,
        `generate_population`), writing the scalar `outputs` (default: all), only on the rows where the bool
        output `where` is true if given: generated and cached like these, compiled on first use."""
        ids = frozenset(op.id for op in self.ir.leaves("param") if op.name in set(swept))
        only = None if outputs is None else frozenset(outputs)
        flag = self.ir.output_type(where) if where in self.ir.output_names else None
        if where is not None and (flag is None or flag.dtype != DType.BOOL or flag.vector
                                  or (only is not None and where not in only)):
            raise ValueError(f"a population writes only where a scalar bool output it writes is true, not {where!r}")
        key = (tuple(sorted(swept)), only, where)
        if key not in self.populations:  # the source is written once a process: a sweep asks for it each call
            self.populations[key] = _cached(Population, self.ir, generate_population(self.ir, ids, only, where), "pop",
                                            swept=tuple(sorted(swept)), outputs=only, where=where)
        return self.populations[key]

    def _leaves(self, kind: str, values: Mapping[str, Any]) -> list[Any]:
        return [kernel_value(values[op.name], op.type) for op in self.ir.leaves(kind)]

    def _args(self, inputs: Mapping[str, Any], params: Mapping[str, Any] | None,
              state: Mapping[str, Any] | None, assets: int) -> list[Any]:
        args = self._leaves("input", inputs) + self._leaves("param", {**self.ir.param_defaults, **(params or {})})
        return args + self._state(state, assets)

    def _state(self, state: Mapping[str, Any] | None, assets: int) -> list[Any]:
        """The state arguments: `state` where given, the initial values elsewhere."""
        return self._leaves("state", {**self.ir.initial_state(assets), **(state or {})})

    def _assets(self, values: Mapping[str, Any]) -> int:
        return input_shape(self.ir, values, rows=False)[1]

    def advance(self, inputs: Mapping[str, Any], state: Mapping[str, Any] | None = None,
                params: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """One row/scan through the compiled step kernel: the outputs and the next state."""
        assets = self._assets(inputs)
        values = self.kernel("step")(assets, *self._args(inputs, params, state, assets))
        names = [n for n, _ in self.ir.canonical_outputs]
        outs = dict(zip(names, values[:len(names)]))
        return {n: outs[n] for n in self.ir.output_names}, dict(zip([n for n, _ in self.ir.next_state],
                                                                    values[len(names):]))

    def step(self, inputs: Mapping[str, Any], params: Mapping[str, Any] | None = None,
             state: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The outputs for one row, computed by the compiled step kernel."""
        return self.advance(inputs, state, params)[0]

    def trace(self, inputs: Mapping[str, Any], params: Mapping[str, Any] | None = None,
              state: Mapping[str, Any] | None = None) -> list[Any]:
        """Every op's value for one row, as the compiled code computes it."""
        n_assets = self._assets(inputs)
        width = max(n_assets, 1)
        fbuf, ibuf = np.zeros((len(self.ir.ops), width)), np.zeros((len(self.ir.ops), width), np.int64)
        self.kernel("trace")(n_assets, *self._args(inputs, params, state, n_assets), fbuf, ibuf)
        return [_traced(op, fbuf, ibuf, n_assets) for op in self.ir.ops]

    def scan(self, columns: Mapping[str, np.ndarray], params: Mapping[str, Any] | None = None,
             state: Mapping[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """T rows in one compiled loop: per-row inputs are columns (T,) or (T, N); universe inputs (N,)."""
        return self._rows(columns, params, state, parallel=False)

    def _rows(self, columns: Mapping[str, np.ndarray], params: Mapping[str, Any] | None,
              state: Mapping[str, Any] | None, parallel: bool | None, into: Mapping[str, np.ndarray] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """`scan`'s work; `parallel` (a stateless graph only): the rows spread over all cores (`batch`); None:
        when there are enough of them to repay compiling the parallel kernel (PARALLEL_ROWS)."""
        ir = self.ir
        run, outs = self.rows_call(columns, params, state, parallel, into)
        final = run()
        if final is None:
            return {name: outs[name] for name in ir.output_names}, {}
        names = [op.name for op in ir.leaves("state")]
        return {name: outs[name] for name in ir.output_names}, dict(zip(names, final))

    def rows_call(self, columns: Mapping[str, np.ndarray], params: Mapping[str, Any] | None = None,
                  state: Mapping[str, Any] | None = None, parallel: bool | None = False,
                  into: Mapping[str, np.ndarray] | None = None) -> tuple[Callable[[], Any], dict[str, np.ndarray]]:
        """The scan (or batch) kernel's call over `columns` with every argument prepared, and the output arrays
        it fills (`into`'s, if given: one per output, of its shape and dtype, C-contiguous): calling it runs the
        compiled loop alone (what a benchmark times), returning the final state (None for batch)."""
        ir = self.ir
        rows, per_run = ir.input_leaves(universe=False), ir.input_leaves(universe=True)
        n_rows, n_assets = input_shape(ir, columns, rows=True)
        parallel = n_rows >= PARALLEL_ROWS if parallel is None else parallel
        arrays = [kernel_array(columns[op.name], op.type) for op in rows]
        outs = {name: _output(into, name, (n_rows, n_assets) if ir.ops[i].type.vector else (n_rows,),
                              ir.ops[i].type.dtype.value) for name, i in ir.canonical_outputs}
        universe = [kernel_value(columns[op.name], op.type) for op in per_run]
        params_ = self._leaves("param", {**ir.param_defaults, **(params or {})})
        if parallel:
            batch = self.kernel("batch")
            args = [n_rows, n_assets, *arrays, *universe, *params_, *outs.values()]
            return lambda: batch(*args), outs
        scan = self.kernel("scan")
        args = [n_rows, n_assets, *arrays, *universe, *params_, *self._state(state, n_assets), *outs.values()]
        return lambda: scan(*args), outs

    def bind(self, universe: Mapping[str, Any], params: Mapping[str, Any] | None = None, assets: int = 0
             ) -> BoundGraph:
        """This graph bound to its universe inputs and parameters: the kernel calling convention, once.
        `assets`: the universe's size, for a graph reading no universe input (its arrays give it otherwise)."""
        return BoundGraph(self, universe, params, assets)

    def batch(self, columns: Mapping[str, np.ndarray], params: Mapping[str, Any] | None = None,
              parallel: bool | None = None, into: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """The outputs for every row (a stateful graph starts from its initial state); enums as int64 codes.
        A stateless graph's rows are independent: they run on all cores, with the sequential scan's bits,
        when `parallel` says so (by default: from PARALLEL_ROWS rows on). `into` (arrays of a call before, say)
        is written instead of new arrays: fresh ones cost the kernel their pages' first touch (the OS zeroes
        each page), as much as the rows' work for a small graph."""
        stateless = "batch" in self.module.SIGNATURES
        return self._rows(columns, params, None, parallel=parallel if stateless else False, into=into)[0]


CONVERT: dict[DType, Callable[[Any], Any]] = {DType.F64: float, DType.I64: int, DType.BOOL: bool}


def feeder(name: str, vtype: ValueType, universe: Mapping[str, np.ndarray]) -> Callable[[Mapping[str, Any]], Any]:
    """How the step kernel's argument for one input comes from a scan, decided once (the reactor's per-scan
    path): the universe's array itself, or the scan's value converted."""
    if name in universe:
        value = universe[name]
        return lambda scan: value
    if vtype.vector:
        return lambda scan: kernel_array(scan[name], vtype)
    convert = CONVERT[vtype.dtype]
    return lambda scan: convert(scan[name])


class BoundGraph:
    """A compiled graph bound to its universe and its parameters: how its kernels are called, written once.

    The universe inputs become kernel arrays and the parameters kernel values when it is bound; `step` then
    takes one scan's per-row inputs and the state, `scan` and `batch` the per-row columns, and each passes the
    bound values in the kernels' order. A host (the reactor's decision engine, a benchmark) never builds
    kernel arguments itself."""

    def __init__(self, graph: CompiledGraph, universe: Mapping[str, Any], params: Mapping[str, Any] | None,
                 assets: int = 0) -> None:
        ir = graph.ir
        self.graph, self.ir = graph, ir
        self.universe = {op.name: kernel_array(universe[op.name], op.type) for op in ir.input_leaves(universe=True)}
        self.params = {**ir.param_defaults, **(params or {})}
        # the kernels loop over this many assets: a graph reading no universe input is told the universe's size
        self.assets = len(next(iter(self.universe.values()))) if self.universe else assets
        self.output_names = [name for name, _ in ir.canonical_outputs]  # the order of `step`'s outputs
        self.state_names = [op.name for op in ir.leaves("state")]
        self._feeds = [feeder(op.name, op.type, self.universe) for op in ir.leaves("input")]
        self._params = [kernel_value(self.params[op.name], op.type) for op in ir.leaves("param")]
        self._step = graph.kernel("step")  # compiled (or loaded) here, before the first scan, not during it

    def initial_state(self) -> dict[str, Any]:
        return self.ir.initial_state(self.assets)

    def input_args(self, scan: Mapping[str, Any]) -> list[Any]:
        """The kernels' input arguments for one scan (step's and population_step's): the bound universe's
        arrays and the scan's per-row values, in the kernels' order."""
        return [feed(scan) for feed in self._feeds]

    def step(self, scan: Mapping[str, Any], state: Mapping[str, Any]) -> tuple[tuple, dict[str, Any]]:
        """One scan through the step kernel: the output values (Python scalars or arrays, in `output_names`
        order, enums as codes) and the next state."""
        n = len(self.output_names)
        result = self._step(self.assets, *self.input_args(scan), *self._params,
                            *[state[name] for name in self.state_names])
        return result[:n], dict(zip(self.state_names, result[n:]))

    def scan(self, columns: Mapping[str, np.ndarray], state: Mapping[str, Any] | None = None
             ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Every row of the per-row `columns` in one compiled loop (CompiledGraph.scan) on the bound universe."""
        return self.graph.scan({**columns, **self.universe}, self.params, state)

    def batch(self, columns: Mapping[str, np.ndarray], parallel: bool | None = None) -> dict[str, np.ndarray]:
        """Every row's outputs from the initial state (CompiledGraph.batch) on the bound universe."""
        return self.graph.batch({**columns, **self.universe}, self.params, parallel)

    def scan_call(self, columns: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        """The scan kernel's call over `columns` from the initial state, its arguments prepared (rows_call)."""
        return self.graph.rows_call({**columns, **self.universe}, self.params)[0]


SPARE = 2  # buffer sets a population keeps between sweeps (a sweep's two: violet.tools.sweep.chunks)


@dataclass
class Population(Kernels):
    """The kernels that run P instances of one IR at once, the parameters `swept` given one value per
    instance (violet.compile.numba_codegen.generate_population): `shared` once per history, then
    `run` per chunk of instances, on all cores (numba's thread count)."""

    swept: tuple[str, ...] = ()
    outputs: frozenset[str] | None = None  # the scalar outputs `run` writes (None: all)
    where: str | None = None  # a bool output: the others written only on its true rows (its array counts them)
    spare: dict[tuple[int, int], list[dict[str, np.ndarray]]] = field(default_factory=dict, repr=False)  # by shape
    lending: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def warm(self, *names: str) -> Any:
        """Compile (or load) these kernels now; by default a sweep's two, `shared` and `population` (the
        reactor's `population_step`, a parallel kernel of its own, compiles when a host first asks for it)."""
        return super().warm(*(names or ("shared", "population")))

    @property
    def _ids(self) -> frozenset[int]:
        return frozenset(op.id for op in self.ir.leaves("param") if op.name in self.swept)

    @property
    def kept(self) -> list[int]:
        """The op ids whose every row `shared` computes once for all instances."""
        return shared_reads(self.ir, instance_ops(self.ir, self._ids))

    def shared(self, columns: Mapping[str, np.ndarray], params: Mapping[str, Any] | None = None) -> list[np.ndarray]:
        """The shared values for every row of `columns` (the parameters not swept from `params` or their
        defaults): computed once, read by every chunk's `run`."""
        ir = self.ir
        n_rows, n_assets = input_shape(ir, columns, rows=True)
        bound = {**ir.param_defaults, **(params or {})}
        kept = [np.empty((n_rows, n_assets) if ir.ops[i].type.vector else n_rows, ir.ops[i].type.dtype.value)
                for i in self.kept]
        fixed = [kernel_value(bound[op.name], op.type) for op in ir.leaves("param") if op.id not in self._ids]
        self.kernel("shared")(n_rows, n_assets, *self._rows(columns), *self._universe(columns), *fixed, *kept)
        return kept

    def run(self, columns: Mapping[str, np.ndarray], shared: list[np.ndarray], values: Mapping[str, np.ndarray],
            params: Mapping[str, Any] | None = None, into: Mapping[str, np.ndarray] | None = None
            ) -> dict[str, np.ndarray]:
        """Every instance over every row: each scalar output as a (P, T) array, instance k given
        `values[name][k]` for each swept parameter and the other parameters from `params` or their defaults,
        every instance starting from the initial state. `into` (from `buffers`, at least P rows each) is
        written instead of new arrays: a sweep reuses one set of pages for every chunk, where fresh arrays
        would fault every page in again (a quarter of a BLUE instance's time on this machine). With `where`,
        `where`'s array holds each instance's count of true rows, and instance k's values on those rows are
        row k's first `count` values of each other output, in row order."""
        ir = self.ir
        n_rows, n_assets = input_shape(ir, columns, rows=True)
        n = {len(values[name]) for name in self.swept}
        if len(n) != 1:
            raise ValueError(f"the swept parameters need one value per instance each, got lengths {sorted(n)}")
        n_instances = n.pop()
        params_ = self.param_args(values, params)
        start = ir.initial_state(n_assets)
        outs = ({name: buf[:n_instances] for name, buf in into.items()} if into is not None
                else self.buffers(n_instances, n_rows))
        self.kernel("population")(n_rows, n_assets, n_instances, *self._rows(columns), *self._universe(columns),
                                  *params_, *[kernel_value(start[op.name], op.type) for op in ir.leaves("state")],
                                  *shared, *outs.values())
        return outs

    def buffers(self, n_instances: int, n_rows: int) -> dict[str, np.ndarray]:
        """Arrays for `run`'s outputs: each scalar output, (P, T), of its dtype, in the kernel's order
        (`where`'s, a count per instance)."""
        return {name: np.empty(n_instances, np.int64) if name == self.where else
                np.empty((n_instances, n_rows), self.ir.ops[i].type.dtype.value)
                for name, i in population_outputs(self.ir, self.outputs)}

    def lend(self, n_instances: int, n_rows: int) -> dict[str, np.ndarray]:
        """`buffers` for a sweep: a set of this shape an earlier sweep gave back (`give_back`), else new ones.
        A page's first write is a fault, and numpy may take a large array fresh from the OS on every call (it
        does once vectorbt is imported: a third of a 500-point sweep); a set lent again is already mapped."""
        with self.lending:
            sets = self.spare.get((n_instances, n_rows))
            if sets:
                return sets.pop()
        return self.buffers(n_instances, n_rows)

    def give_back(self, n_instances: int, n_rows: int, *sets: dict[str, np.ndarray]) -> None:
        """Buffer sets `lend` gave for this shape, the sweep done with them (nothing it returned is a view of
        them): the last SPARE kept for the next sweep."""
        with self.lending:
            shape = (n_instances, n_rows)
            self.spare = {shape: [*sets, *self.spare.get(shape, [])][:SPARE]}

    def states(self, n_instances: int, n_assets: int) -> dict[str, np.ndarray]:
        """P instances' initial state, one row per instance (a vector field P x N), for `step`."""
        start = self.ir.initial_state(n_assets)
        return {op.name: np.array(np.broadcast_to(np.asarray(start[op.name], op.type.dtype.value),
                                                  (n_instances, n_assets) if op.type.vector else (n_instances,)), order="C")
                for op in self.ir.leaves("state")}  # np.array copies: each row its own, writeable

    def param_args(self, values: Mapping[str, np.ndarray], params: Mapping[str, Any] | None = None) -> list[Any]:
        """The parameter arguments of `population` and `population_step`: a swept one as its array of one
        value per instance, any other its value in `params` or its default."""
        bound = {**self.ir.param_defaults, **(params or {})}
        return [np.require(values[op.name], op.type.dtype.value, ["C_CONTIGUOUS", "WRITEABLE"]) if op.id in self._ids
                else kernel_value(bound[op.name], op.type) for op in self.ir.leaves("param")]

    def _rows(self, columns: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return [kernel_array(columns[op.name], op.type) for op in self.ir.input_leaves(universe=False)]

    def _universe(self, columns: Mapping[str, np.ndarray]) -> list[Any]:
        return [kernel_value(columns[op.name], op.type) for op in self.ir.input_leaves(universe=True)]


def _output(into: Mapping[str, np.ndarray] | None, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Output `name`'s array: a new one, or `into`'s, which must be exactly what a new one would be."""
    if into is None:
        return np.empty(shape, dtype)
    given = into.get(name)
    if given is None or given.shape != shape or given.dtype != dtype or not given.flags.c_contiguous:
        raise ValueError(f"output {name!r} needs a C-contiguous {np.dtype(dtype)} array of shape {shape}")
    return given


def kernel_value(value: Any, vtype: ValueType) -> Any:
    """A value as a kernel argument: a Python scalar, or a contiguous array for a vector."""
    return kernel_array(value, vtype) if vtype.vector else python_value(value, vtype)


def kernel_array(value: Any, vtype: ValueType) -> np.ndarray:
    """A C-contiguous, writeable array of the type's dtype (the kernels' signatures require both;
    Arrow hands out read-only views, which are copied). An array that already is one passes as it
    is: np.require costs ~1 us even then, on the reactor's per-scan path."""
    if (isinstance(value, np.ndarray) and value.dtype == vtype.dtype.value and value.flags.c_contiguous
            and value.flags.writeable):
        return value
    return np.require(value, dtype=vtype.dtype.value, requirements=["C_CONTIGUOUS", "WRITEABLE"])


def _traced(op: Any, fbuf: np.ndarray, ibuf: np.ndarray, n_assets: int) -> Any:
    buf = fbuf if op.type.dtype == DType.F64 else ibuf
    if op.type.vector:
        return python_value(buf[op.id, :n_assets], op.type)
    return python_value(buf[op.id, 0], op.type)


def compile_ir(ir: IR) -> CompiledGraph:
    """Generate and cache the kernel module of `ir`; each kernel compiles on first use (Kernels.kernel)."""
    return _cached(CompiledGraph, ir, generate(ir), "")


K = TypeVar("K", bound=Kernels)


def _cached(cls: type[K], ir: IR, source: str, kind: str, **extra: Any) -> K:
    """`source` written once to a module file named by the code hash and the source's own hash, imported."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    path = cache_dir() / f"violet_{kind}{ir.code_hash[:20]}_{digest}.py"
    if not _holds(path, source):  # missing, or not what this generator writes (torn, edited, planted)
        _write_atomic(path, source)
    return cls(ir, _import(path), path, **extra)


def _holds(path: Path, source: str) -> bool:
    """True if the cached module is exactly `source`: only generated text is ever imported."""
    try:
        return path.read_text() == source
    except (OSError, UnicodeDecodeError):
        return False


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
