"""The `violet` command: check, view, compile, run and diff graph files.

Every user error (bad graph file, bad input row, unknown parameter) is one
message naming where, what and how to fix it, with exit code 2; a diff that
finds a mismatch exits with 1. Only a bug in VIOLET itself prints a traceback.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console

from violet.errors import InputError, VioletError, quote

if TYPE_CHECKING:
    from violet.compile.ir import IR, Scalar
    from violet.compile.netlist import Netlist
    from violet.tools.backtest import Costs
    from violet.tools.grid import Grid
    from violet.table_io import Rejections

# Each command imports what it uses (numpy, networkx, numba, pyarrow, the journal client) when it runs, so
# `violet --help` and the usage errors answer at once: see "CLI start-up" in benchmarks/RESULTS.md.

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  help="VIOLET: typed dataflow graphs of pure nodes, compiled to Numba, proven bit-identical.")
# markup off: what VIOLET prints holds names, paths and docs from users, which are text, never markup
out = Console(highlight=False, markup=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)

GraphArg = Annotated[Path, typer.Argument(help="a graph file (TOML)", show_default=False)]
DEFAULT_DECISION = "blue_decision.toml"  # a decision graph shipped in the package (violet/graphs)
DecisionArg = Annotated[Optional[Path], typer.Argument(
    help=f"a decision graph file (TOML); default: the packaged {DEFAULT_DECISION}", show_default=False)]
FactorAgeOpt = Annotated[Optional[float], typer.Option(help="seconds after which a factor's latest value is stale "
                                                    "(neutral, and reported); default 7200, two hourly bars")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="override a parameter: name=value (repeatable)")]
InputOpt = Annotated[Optional[Path], typer.Option("--input", "-i", help="IN.parquet or IN.csv (vectors as list columns)")]
UniverseOpt = Annotated[Optional[Path], typer.Option(
    help="universe table for the graph's universe inputs (default: <input>.universe.parquet beside the input)")]


def decision_graph(graph: Path | None) -> Path:
    """The decision graph a command was given, or the one shipped in the package (found as a package resource,
    so an installed wheel has it)."""
    from violet.files import packaged_graph

    return graph if graph is not None else packaged_graph(DEFAULT_DECISION)


def load_ir(graph: Path, sets: list[str] | None = None) -> IR:
    """Load, validate and lower a graph file, with `--set name=value` overrides applied."""
    from violet.api import load

    ir = load(graph)
    return ir.with_params(parse_sets(ir, sets)) if sets else ir


def parse_sets(ir: IR, sets: list[str]) -> dict[str, Scalar]:
    """`name=value` strings -> typed parameter values; unknown names and bad values are errors."""
    return {name: _typed(text, ir, name, "--set") for name, text in (_named(item, "--set") for item in sets)}


def parse_grid(ir: IR, items: list[str]) -> Grid:
    """`--grid` items -> the sweep's points: one grid file (GRID.toml, docs/sweep.md "Grids"), or
    `name=a,b,c` / `name=lo:hi:n` items, whose product it is."""
    from violet.api import param_type
    from violet.tools.grid import grid_values, product, read_grid

    files = [item for item in items if "=" not in item]
    if files and len(items) > 1:
        raise InputError(f"a grid file ({quote(files[0])}) and other --grid items", where="--grid",
                         fix="give one grid file, or name=values items, not both")
    if files:
        return read_grid(ir, Path(files[0]))
    axes: dict[str, list[Scalar]] = {}
    for item in items:
        name, text = _named(item, "--grid")
        dtype = param_type(ir, name, "--grid")
        axes[name] = [_typed(value, ir, name, "--grid") for value in grid_values(name, text, dtype)]
    return product(ir, axes)


def _named(item: str, option: str) -> tuple[str, str]:
    """`name=text` split (the name is checked by `param_type`, where its type is looked up)."""
    name, sep, text = item.partition("=")
    if not sep:
        raise InputError(f"bad {option} {quote(item)}", where=option, fix=f"write {option} name=value")
    return name.strip(), text.strip()


def _typed(text: str, ir: IR, name: str, option: str) -> Scalar:
    """`text` read as parameter `name`'s type, then checked as the facade checks every parameter value
    (an integer is an int64; an integer given for a float64 must have an exact float64 value)."""
    from violet.api import param_type, param_value
    from violet.dag.types import DType

    dtype = param_type(ir, name, option)
    try:
        if dtype == DType.BOOL:
            if text.lower() not in ("true", "false"):
                raise ValueError
            value: bool | int | float = text.lower() == "true"
        elif dtype == DType.I64 or text.lstrip("+-").isdigit():  # an integer, exact: the facade checks it
            value = int(text)
        else:
            value = float(text)
    except ValueError:
        spelling = {DType.BOOL: "true or false", DType.I64: "an integer, e.g. 12", DType.F64: "a number, e.g. 0.25"}
        raise InputError(f"parameter '{name}' is {dtype.value}, got {quote(text)}", where=option,
                         fix=f"write {spelling[dtype]}") from None
    return param_value(ir, name, value, option)


@app.command()
def check(graph: GraphArg, sets: SetOpt = None,
          ir_text: Annotated[bool, typer.Option("--ir", help="also print the IR")] = False,
          ranges: Annotated[bool, typer.Option("--ranges", help="also print every value's proven range")] = False,
          resolved: Annotated[bool, typer.Option("--resolved", help="print the flat graph file a variant (extends) "
                                                 "stands for, as TOML, and nothing else")] = False
          ) -> None:
    """Validate a graph file: print its inputs, outputs, params, state, libraries, op count and hash."""
    from rich.table import Table

    from violet.api import loaded
    from violet.compile.ranges import analysis, ranges_by_node
    from violet.dag.variants import read_graph_data, resolved_toml

    g, ir = loaded(graph)
    ir = ir.with_params(parse_sets(ir, sets)) if sets else ir
    if resolved:
        print(resolved_toml(graph, read_graph_data(graph)), end="")
        return
    out.print(ir.name, style="bold", end="")
    out.print(f"  ({graph})  {g.doc}")
    if g.bases:
        out.print(f"extends: {' -> '.join(g.bases)}  (violet check --resolved prints the resolved graph)")
    table = Table("", "name", "type", "value / constraint", "doc", box=None, pad_edge=False)
    for spec in g.inputs:
        table.add_row("input", spec.name, str(spec.type), spec.refine.describe(), spec.doc)
    for name in ir.output_names:
        table.add_row("output", name, str(ir.output_type(name)), "", "")
    for p in ir.params:
        refine = f" ({p.refine.describe()})" if p.refine.describe() else ""
        table.add_row("param", p.name, str(p.type), shown(p.default, p.type) + refine, p.doc)
    for st in ir.state:
        start = f"{'each asset ' if st.type.vector else ''}starts at {shown(st.init, st.type)}"
        table.add_row("state", st.name, str(st.type), start, st.doc)
    for lib in g.libraries.values():
        table.add_row("library", lib.module, "", lib.file, ", ".join(sorted(lib.nodes)))
    out.print(table)
    out.print(f"ops: {len(ir.ops)}    content hash: {ir.content_hash}    code hash: {ir.code_hash[:16]}")
    for name in g.unused_nodes():
        out.print(f"warning: node '{name}' reaches no output", style="yellow")
    if ir_text:
        out.print(ir.render())
    if ranges:
        result = analysis(ir)
        table = Table("value", "type", "range (interval analysis)", box=None, pad_edge=False)
        for name, vtype, interval in ranges_by_node(ir, result.ranges):
            table.add_row(name, vtype, str(interval))
        out.print(table)
        if result.split:
            out.print(f"by cases on the sign of {', '.join(result.split)}: {result.boxes} boxes, ranges are their union")


def shown(value: Scalar, vtype: object) -> str:
    """A parameter or state value as a graph file writes it: true/false, an enum's name, a float's repr."""
    names = getattr(vtype, "enum", None)
    if names is not None and isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


@app.command()
def dot(graph: GraphArg,
        output: Annotated[Optional[Path], typer.Option("-o", "--output", help="FILE.dot, .svg or .png")] = None,
        params: Annotated[bool, typer.Option(help="draw parameters")] = True,
        input: InputOpt = None,
        row: Annotated[Optional[int], typer.Option(help="the row (0-based) whose values are drawn")] = None,
        scan_id: Annotated[Optional[int], typer.Option(help="the scan whose values are drawn, by its scan_id (as the "
                                                       "journal names it), instead of --row")] = None,
        universe: UniverseOpt = None,
        sets: SetOpt = None) -> None:
    """Draw the graph: typed edges, composed graphs as clusters (DOT text to stdout without -o).

    With --input T --row K every input, parameter, node and output also shows its value at row K (for a
    stateful graph, with the state the rows before K leave behind); --scan-id S names the row by its scan_id."""
    from violet.compile.dot import write_dot
    from violet.table_io import check_output

    ir = load_ir(graph, sets)
    if output is not None:
        check_output(output, "--output", (".dot", ".svg", ".png"))
    if row is not None and scan_id is not None:
        raise InputError("--row and --scan-id both name the row", where="--scan-id", fix="give one of them")
    named = "--row" if scan_id is None else "--scan-id"
    if (input is None) != (row is None and scan_id is None):
        raise InputError(f"--input and {named} go together", where="--input" if input is None else named,
                         fix="give both to draw one row's values, or neither")
    values, caption = None, ""
    if input is not None:
        from violet.api import compile_graph
        from violet.table_io import read_table
        from violet.tools.explain import row_of_scan, values_at, vertex_values

        columns, _ = read_inputs(ir, input, universe, skip_bad=False)
        k = row if scan_id is None else row_of_scan(read_table(input), scan_id, f"{input} (--scan-id)")
        at = values_at(compile_graph(ir), columns, k)
        values = vertex_values(ir, at.values)
        caption = f"{input.name}, row {k}" + (f" (scan_id {scan_id})" if scan_id is not None else "")
        if ir.stateful:
            caption += "; state in: " + ", ".join(f"{k}={v}" for k, v in sorted(at.state.items()))
    text = write_dot(ir, output, params=params, values=values, caption=caption)
    print(text if output is None else f"wrote {text}")


@app.command("compile")
def compile_cmd(graph: GraphArg, sets: SetOpt = None) -> None:
    """Compile to Numba kernels (cached on disk by content): op count, time, cache hit or miss.

    Parameters are kernel arguments: --set changes the content hash, never the kernels."""
    from violet.api import compile_graph

    ir = load_ir(graph, sets)
    cg = compile_graph(ir).warm()
    out.print(f"{ir.name}: {len(ir.ops)} ops, content hash {ir.content_hash[:16]}, code hash {ir.code_hash[:16]}")
    out.print(f"kernels {'loaded from cache (hit)' if cg.cache_hit else 'compiled (miss)'} in {cg.seconds:.2f} s: "
              f"{cg.path}")



def read_inputs(ir: IR, path: Path, universe: Path | None, skip_bad: bool) -> tuple[dict, Rejections]:
    """Read and type-check an input table (and the universe table if the graph reads one)."""
    from violet.table_io import input_columns, read_table

    uni_table = None
    if any(spec.universe for spec in ir.inputs):
        uni_path = universe or path.with_name(path.name.removesuffix(path.suffix) + ".universe.parquet")
        uni_table = read_table(uni_path)
    return input_columns(ir, read_table(path), str(path), uni_table, skip_bad=skip_bad)


@app.command()
def run(graph: GraphArg,
        input: Annotated[Path, typer.Option("--input", "-i", help="IN.parquet or IN.csv (vectors as list columns)")],
        output: Annotated[Path, typer.Option("--output", "-o", help="OUT.parquet or OUT.csv")],
        trades: Annotated[Optional[Path], typer.Option(help="also write the graph's trade stream here")] = None,
        universe: UniverseOpt = None,
        skip_bad_rows: Annotated[bool, typer.Option(help="drop rows that break an input's type (listed, counted) "
                                                    "instead of refusing the table")] = False,
        sets: SetOpt = None) -> None:
    """Run the compiled graph over a table: one output row per input row, state carried in order; with --trades,
    the graph's trades (every lane's, with their symbols and, when the input has ts_us, times) too."""
    from violet.api import compile_graph
    from violet.table_io import check_output, output_columns, trade_rows, write_table

    ir = load_ir(graph, sets)
    check_output(output, "--output")
    if trades is not None:
        check_output(trades, "--trades")
    columns, rejected = read_inputs(ir, input, universe, skip_bad_rows)
    if rejected.rows:
        print(f"warning: rejected {rejected.render()}", file=sys.stderr)
    cg = compile_graph(ir).warm("scan")
    start = time.perf_counter()
    results = cg.batch(columns)
    seconds = time.perf_counter() - start
    meta = {"violet.graph": ir.name, "violet.graph_hash": ir.content_hash}
    write_table(output_columns(ir, columns, results), output, meta)
    rows = len(next(iter(results.values()))) if results else 0
    out.print(f"{rows:,} rows -> {output} in {seconds:.3f} s (graph {ir.name} {ir.content_hash[:16]}); "
              f"{len(rejected.rows):,} rejected")
    if trades is not None:
        symbols = _symbols(input, universe) if _universe_path(input, universe).exists() else None
        stream = trade_rows(ir, results, columns, symbols)
        if stream is None:
            raise InputError(f"graph {ir.name} has no trade stream (a `trade` output and trade_* outputs)",
                             where="--trades", fix="drop --trades")
        write_table(stream, trades, meta)
        out.print(f"{len(next(iter(stream.values()))):,} trades -> {trades}")


@app.command()
def sweep(graph: GraphArg, input: Annotated[Path, typer.Option("--input", "-i", help="IN.parquet or IN.csv")],
          grid_items: Annotated[list[str], typer.Option("--grid", help="name=a,b,c or name=lo:hi:n (repeatable), or "
                                                        "one GRID.toml (values, ranges, random draws: docs/sweep.md)")],
          output: Annotated[Path, typer.Option("--output", "-o", help="OUT.parquet or OUT.csv: a row per set")],
          universe: UniverseOpt = None,
          threads: Annotated[int, typer.Option(help="cores the population kernel runs the sets on (and threads valuing them)")] = 2,
          fee_bps: Annotated[float, typer.Option(help="backtest fee per side, bps of the notional")] = 0.0,
          slippage_bps: Annotated[float, typer.Option(help="backtest slippage per side, bps")] = 0.0,
          capital: Annotated[float, typer.Option(help="backtest starting equity")] = 10_000.0,
          side: Annotated[str, typer.Option(help="which way a trade faces where the graph's record declares no "
                                                 "side: short or long")] = "short",
          metric: Annotated[Optional[str], typer.Option(help="rank the sets by this column (default: sharpe for "
                                                        "a trade stream)")] = None,
          top_k: Annotated[int, typer.Option("--top", help="print the best K sets")] = 10,
          heatmap_png: Annotated[Optional[Path], typer.Option("--heatmap", help="for a 2-D grid, the metric "
                                                              "as a heatmap PNG")] = None,
          scheduler: Annotated[Optional[str], typer.Option(help="shard the sets over a Dask cluster: its scheduler "
                                                           "(tcp://host:8786), or `local` for a local multi-process "
                                                           "one")] = None,
          workers: Annotated[int, typer.Option(help="worker processes of --scheduler local")] = 2,
          shard_size: Annotated[int, typer.Option(help="parameter sets per Dask task")] = 16,
          means: Annotated[bool, typer.Option("--means", help="also each float output's mean per set (for a "
                                              "trade stream: the kernel then computes every output, ~4x the "
                                              "time for BLUE)")] = False,
          sets: SetOpt = None) -> None:
    """Run the whole table once per point of a parameter grid (the product of --grid items, or a grid file:
    values, ranges, random draws), all points in one compiled kernel; write one summary row per point: its
    parameters, trades, the backtest's figures in money (for a trade stream on a `price` input), output
    means (with --means, or for a graph without a trade stream); print the best points. With --scheduler, the points are sharded over a Dask cluster
    (docs/sweep-cluster.md), with the same rows."""
    from violet.api import compile_graph
    from violet.tools.sweep import Ranking, chunks, money, population
    from violet.table_io import check_output, table_writer

    check_output(output, "--output")
    costs = _costs(capital, fee_bps, slippage_bps, side)
    ir = load_ir(graph, sets)
    columns, _ = read_inputs(ir, input, universe, skip_bad=False)
    grid = parse_grid(ir, grid_items)
    if heatmap_png is not None and (grid.joint or len(grid.names) != 2):
        raise InputError(f"a heatmap needs a 2-D product grid, this one {'is a joint design' if grid.joint else f'has {len(grid.names)} parameters'}",
                         where="--heatmap", fix="give exactly two --grid parameters, or drop --heatmap")
    priced = "trade" in ir.output_names and "price" in {spec.name for spec in ir.inputs if spec.type.vector}
    if scheduler is None:
        cg = compile_graph(ir)
        population(cg, grid.names, means).warm()
        parts = chunks(cg, columns, grid, threads, money(columns, costs) if priced else None, means=means)
        how = f"{threads} threads"
    else:
        part, how = _sweep_on_dask(graph, ir, columns, grid, costs if priced else None, means, scheduler, workers,
                                   shard_size)
        parts = iter([part])
    ranking = Ranking(metric or ("sharpe" if priced else None), top_k, keep_all=heatmap_png is not None)
    start = time.perf_counter()
    with table_writer(output, {"violet.graph": ir.name, "violet.graph_hash": ir.content_hash}) as write:
        for part in parts:
            write(part)
            ranking.add(part)
    seconds = time.perf_counter() - start
    n_rows = len(columns[next(spec.name for spec in ir.inputs if not spec.universe)])
    out.print(f"{grid.size:,} parameter sets x {n_rows:,} rows in {seconds:.2f} s "
              f"({grid.size * n_rows / seconds:,.0f} rows/s, {how}) -> {output}")
    if ranking.metric:
        out.print("\n".join([f"best by {ranking.metric}:", *ranking.lines(grid.names)]))
    if heatmap_png is not None:
        ranking.heatmap(grid, str(heatmap_png), f"{ir.name} {ir.content_hash[:12]}")
        out.print(f"-> {heatmap_png}")


def _sweep_on_dask(graph: Path, ir: IR, columns: dict, grid: Grid, costs: Costs | None, means: bool,
                   scheduler: str, workers: int, shard_size: int) -> tuple[dict, str]:
    """The sweep's columns from a Dask cluster (violet.tools.distributed), and how they were run."""
    import numpy as np

    from violet.tools import distributed

    job = distributed.Job(str(graph.resolve()), ir.content_hash, ir.param_defaults, costs, means)
    points = grid.points()
    distributed.shards(points, shard_size)  # a bad size is refused before a cluster is started
    client = distributed.connect(scheduler, workers)
    try:
        found = distributed.run(client, job, columns, points, shard_size)
        return ({name: np.array([row[name] for row in found]) for name in found[0]},
                f"Dask, {len(client.nthreads())} workers at {client.scheduler.address}, shards of {shard_size}")
    finally:
        distributed.close(client)


@app.command()
def backtest(graph: GraphArg,
             input: Annotated[Path, typer.Option("--input", "-i", help="SCANS.parquet (from `violet scans build`)")],
             output: Annotated[Path, typer.Option("--output", "-o", help="OUT.parquet: the equity curve, one row "
                                                  "per scan (the valued trades go to OUT.trades.parquet)")],
             universe: UniverseOpt = None,
             capital: Annotated[float, typer.Option(help="starting equity")] = 10_000.0,
             fee_bps: Annotated[float, typer.Option(help="fee per side, basis points of the notional")] = 0.0,
             slippage_bps: Annotated[float, typer.Option(help="slippage per side, basis points of the notional")] = 0.0,
             funding: Annotated[Optional[str], typer.Option(help="a scans column of per-asset funding rates per bar "
                                                            "(positive: longs pay shorts)")] = None,
             side: Annotated[str, typer.Option(help="which way a trade faces where the graph's record declares no "
                                                 "side: short or long")] = "short",
             price: Annotated[str, typer.Option(help="the graph's per-asset price input")] = "price",
             png: Annotated[Optional[Path], typer.Option(help="also draw equity and drawdown here")] = None,
             sets: SetOpt = None) -> None:
    """Value a graph's trades in money over the scans: equity curve, returns, drawdown, Sharpe, Sortino, hit rate,
    hold, turnover, per-symbol breakdown (docs/backtest.md)."""
    from violet.api import compile_graph
    from violet.tools.backtest import backtest as account
    from violet.tools.backtest import draw
    from violet.table_io import check_output, read_table, trade_rows, write_table

    costs = _costs(capital, fee_bps, slippage_bps, side)
    trades_path = output.with_name(output.name.removesuffix(output.suffix) + ".trades" + output.suffix)
    for path, option in ((output, "--output"), (trades_path, "--output")):
        check_output(path, option)
    ir = load_ir(graph, sets)
    if price not in {spec.name for spec in ir.inputs if spec.type.vector and not spec.universe}:
        raise InputError(f"graph {ir.name} has no per-asset input {quote(price)}", where="--price",
                         fix="name the input that holds each asset's price")
    columns, _ = read_inputs(ir, input, universe, skip_bad=False)
    stream = trade_rows(ir, compile_graph(ir).batch(columns))
    if stream is None:
        raise InputError(f"graph {ir.name} has no trade stream (a `trade` output and trade_* outputs)",
                         where=str(graph), fix="backtest a decision graph, e.g. graphs/blue_decision.toml")
    symbols = _symbols(input, universe)
    result = account(columns[price], columns["scan_id"], columns["ts_us"], stream, costs, symbols,
                     _funding(read_table(input), funding, columns[price].shape) if funding else None)
    meta = {"violet.graph": ir.name, "violet.graph_hash": ir.content_hash}
    write_table(result.curve, output, meta)
    write_table(result.trades, trades_path, meta)
    out.print(result.render())
    out.print(f"-> {output} ({len(result.curve['equity']):,} bars), {trades_path} ({len(result.trades['net']):,} trades)")
    if png is not None:
        draw(result, str(png), f"{ir.name} {ir.content_hash[:12]}: {input.name}")
        out.print(f"-> {png}")


def _costs(capital: float, fee_bps: float, slippage_bps: float, side: str) -> Costs:
    """The backtest's costs from the command's options; a side other than short or long is an error."""
    from violet.tools.backtest import Costs

    if side not in ("short", "long"):
        raise InputError(f"unknown side {quote(side)}", where="--side", fix="write short or long")
    return Costs(capital, fee_bps, slippage_bps, -1 if side == "short" else 1)


def _universe_path(scans: Path, universe: Path | None) -> Path:
    """The universe table: --universe, or the one beside the scans (NAME.universe.parquet)."""
    return universe or scans.with_name(scans.name.removesuffix(scans.suffix) + ".universe.parquet")


def _symbols(scans: Path, universe: Path | None) -> list[str]:
    """The universe's symbols (asset index -> name), or the indices as text."""
    from violet.table_io import read_table

    table = read_table(_universe_path(scans, universe))
    return [str(s) for s in table.column("symbol").to_pylist()] if "symbol" in table.column_names \
        else [str(k) for k in range(table.num_rows)]


def _funding(table: object, column: str, shape: tuple[int, ...]) -> object:
    """A per-asset funding column of the scans table as a finite T x N array, or one clear error."""
    import numpy as np

    if column not in table.column_names:  # type: ignore[attr-defined]
        raise InputError(f"the scans have no column {quote(column)}", where="--funding",
                         fix="name a list column of per-asset funding rates")
    try:
        rates = np.array(table.column(column).to_pylist(), dtype=float)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        rates = np.zeros(0)
    if rates.shape != shape or not np.isfinite(rates).all():
        raise InputError(f"funding column {quote(column)} must hold a finite rate for each of the {shape[1]} assets "
                         f"on each of the {shape[0]} scans", where="--funding", fix="fill every rate")
    return rates


@app.command()
def diff(graph: GraphArg,
         reference: Annotated[Optional[str], typer.Option(help="module:function (or file.py:function) taking the "
                                                          "inputs as keywords and returning a mapping of outputs; for a "
                                                          "stateful graph an engine class with on_scan()")] = None,
         input: InputOpt = None,
         universe: UniverseOpt = None,
         samples: Annotated[int, typer.Option(help="random rows drawn from the input types")] = 100_000,
         extreme: Annotated[int, typer.Option(help="rows of edge values (bounds, 0, -0.0, tiny, huge, ...)")] = 20_000,
         assets: Annotated[int, typer.Option(help="universe size of the drawn rows, for graphs with vectors")] = 8,
         seed: Annotated[int, typer.Option(help="random seed")] = 0,
         sets: SetOpt = None) -> None:
    """Prove the compiled graph bit-identical to the interpreter, or to a reference; exit 1 on any mismatch.

    With --input the rows of that table are compared too (scan by scan, state carried)."""
    from violet.api import compile_graph
    from violet.tools.diff import diff_interpreter, diff_reference, load_reference
    from violet.tools.sampling import sample

    ir = load_ir(graph, sets)
    params = parse_sets(ir, sets or [])  # given to the reference too: compared at the same parameter point
    cg = compile_graph(ir)
    ref = load_reference(reference) if reference else None
    runs = []
    if input is not None:
        columns, _ = read_inputs(ir, input, universe, skip_bad=False)
        runs.append((f"{input}", columns))
    if samples + extreme > 0:
        runs.append((f"{samples:,} random + {extreme:,} extreme rows, seed {seed}",
                     sample(ir.inputs, samples, extreme, seed, assets)))
    ok = True
    for label, columns in runs:
        report = diff_reference(cg, columns, ref, reference, params) if ref else diff_interpreter(cg, columns)
        out.print(f"{ir.name} {ir.content_hash[:16]}: {label}")
        out.print(report.render())
        ok &= report.ok
    if not ok:
        raise typer.Exit(1)


@app.command()
def hdl(graph: GraphArg,
        out_dir: Annotated[Path, typer.Option("--out", help="directory for the module, testbench and summary")],
        frac_bits: Annotated[int, typer.Option(help="fractional bits of every float64 value")] = 24,
        int_bits: Annotated[int, typer.Option(help="integer bits where no range is proven (values saturate)")] = 24,
        bound_inputs: Annotated[bool, typer.Option(
            "--bound-inputs", help="size each input (and node) declaring a typical range to hold it (beyond it, "
            "the value saturates) and prove the ranges from there")] = False,
        as_written: Annotated[bool, typer.Option(
            "--as-written", help="keep the graph's grouping of products (default: a chain of them is regrouped, "
            "the earliest factors first, for a shorter path)")] = False,
        simulate: Annotated[int, typer.Option(help="co-simulate this many vectors under each --simulator (0: none)")] = 0,
        assets: Annotated[int, typer.Option(help="universe size, for graphs with vectors")] = 0,
        pipeline: Annotated[int, typer.Option(help="register stages, with in_valid/out_valid (a stateful graph: one scan every N + 1 clocks)")] = 0,
        simulators: Annotated[list[str], typer.Option("--simulator", help="icarus and/or verilator")] =
        ["icarus", "verilator"],
        seed: Annotated[int, typer.Option(help="random seed of the vectors")] = 0,
        synth: Annotated[bool, typer.Option("--synth", help="synthesize, place and route (yosys, nextpnr-ecp5): "
                                            "resources, Fmax, latency in DIR/synth/report.txt and .json")] = False,
        device: Annotated[str, typer.Option(help="FPGA for --synth")] = "ecp5-85k",
        clock_mhz: Annotated[float, typer.Option(help="requested clock for --synth (MHz)")] = 100.0,
        placer_seed: Annotated[int | None, typer.Option(help="nextpnr's placer seed for --synth (Fmax near a target "
                                                        "depends on it; default: nextpnr's own)")] = None,
        placer_timing_weight: Annotated[int | None, typer.Option(
            help="nextpnr's placer weight on timing against wire length for --synth (default: nextpnr's, 10)")] = None,
        sets: SetOpt = None) -> None:
    """Lower a graph to fixed point and Verilog: module, testbench, summary; --simulate co-simulates (exit 1 on a mismatch);
    --synth synthesizes and routes it (exit 1 if it does not fit, route, or meet --clock-mhz).

    Parameters become constants of the hardware (--set changes them); a stateful graph's state becomes
    registers (clk, rst, en; pipelined: written on out_valid's clock) and its vectors one port per asset
    (--assets N)."""
    from violet.compile.cosim import SIMULATORS, cosim_rows, cosimulate, testbench
    from violet.compile.dot import netlist_dot
    from violet.compile.fixed import FixedConfig, FixedModel, error_report, monte_carlo_rows
    from violet.compile.netlist import to_verilog
    from violet.compile.verilog import build_netlist, module_name, path_report

    for simulator in simulators:  # each names a directory under --out: only known names
        if simulator not in SIMULATORS:
            raise InputError(f"unknown simulator {quote(simulator)}", where="--simulator",
                             fix=f"use {' and/or '.join(SIMULATORS)}")
    model = FixedModel(load_ir(graph, sets), FixedConfig(frac_bits, int_bits, bound_inputs, assets or None, as_written))
    ir = model.ir  # the graph's ops, its chains of products regrouped unless --as-written
    out_dir.mkdir(parents=True, exist_ok=True)
    name = module_name(ir.name)
    net, counts = build_netlist(model, name, assets, pipeline)
    module = to_verilog(net)
    (out_dir / f"{name}.v").write_text(module)
    (out_dir / "tb.v").write_text(testbench(model, name, assets, pipeline))
    (out_dir / "netlist.dot").write_text(netlist_dot(ir, model.formats, net).source)
    lines = [f"graph {ir.name} {ir.content_hash[:16]}: {len(ir.ops)} ops -> {out_dir / (name + '.v')} "
             f"(netlist view: {out_dir / 'netlist.dot'})",
             "hardware: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + f" (bits), pipeline depth {net.stages} "
             f"(outputs {net.stages} clock(s) after their inputs; initiation interval {net.interval}"
             + (f"; slowest stage about {net.budget:.1f} LUT levels, estimated)" if net.stages else ")"),
             path_report(ir, net), "formats:"]
    lines += [f"  {op.kind} {op.name}: {model.formats[op.id]}" for op in ir.ops if op.kind in ("input", "param")]
    lines += [f"  warning: {what} has no proven finite range: Q{model.formats[i].int_bits}.{model.formats[i].frac_bits} "
              "from --int-bits, saturating" for what, i in model.unbounded()]
    typical = {i: (lo, hi) for i, lo, hi in ir.typical}
    lines += [f"  node {ir.ops[i].node}: {model.formats[i]} from its declared typical range "
              f"[{typical[i][0]:g}, {typical[i][1]:g}]" for i in sorted(model.declared)]
    lines += [f"  output {name}: {model.formats[i]}" + (f" + missing flag out_{name}_nan" if i in model.missing else "")
              + f"  range {model.ranges[i]}" for name, i in ir.outputs]
    if not ir.stateful and not assets:
        lines.append(error_report(model, monte_carlo_rows(model, 2000, seed)).render())
    summary = "\n".join(lines)
    (out_dir / "summary.txt").write_text(summary + "\n")
    out.print(summary)
    if simulate:
        rows = cosim_rows(model, simulate, seed, assets)
        reports = [cosimulate(model, rows, out_dir / f"sim_{sim}", name, assets, sim, pipeline) for sim in simulators]
        for report in reports:
            out.print(report.render())
        if any(r.mismatches for r in reports):
            raise typer.Exit(1)
    if synth:
        _synth(net, out_dir / "synth", device, clock_mhz, placer_seed, placer_timing_weight)


def _synth(net: Netlist, workdir: Path, device: str, clock_mhz: float, placer_seed: int | None,
           timing_weight: int | None) -> None:
    """`violet hdl --synth`: the netlist's module in its register wrapper through yosys and nextpnr; the report."""
    from violet.compile.synth import synthesize

    if not clock_mhz > 0:
        raise InputError(f"--clock-mhz must be positive, got {clock_mhz:g}", where="--clock-mhz")
    if timing_weight is not None and timing_weight < 0:
        raise InputError(f"--placer-timing-weight must not be negative, got {timing_weight}",
                         where="--placer-timing-weight")
    report = synthesize(net, workdir, device, clock_mhz, placer_seed, timing_weight)
    out.print(report.render())
    out.print(f"wrote {workdir / 'report.txt'} and {workdir / 'report.json'}")
    if not (report.fits and report.meets_clock):
        raise typer.Exit(1)


scans_app = typer.Typer(no_args_is_help=True, help="Build scans from a close-price panel.")
app.add_typer(scans_app, name="scans")


@scans_app.command("build")
def scans_build(
        output: Annotated[Path, typer.Option("--output", "-o", help="SCANS.parquet (the universe goes beside it)")],
        prices: Annotated[Optional[Path], typer.Option(help="close-price panel (Parquet: ts index, one column per "
                                                       "symbol); default: the shared Binance panel if present")] = None,
        generate: Annotated[bool, typer.Option(help="use the generated universe instead of a file")] = False,
        fast: Annotated[int, typer.Option(help="fast correlation window (bars)")] = 50,
        slow: Annotated[int, typer.Option(help="slow correlation window (bars)")] = 150,
        score_lookback: Annotated[int, typer.Option(help="bars of the trailing return behind the score")] = 24,
        spike: Annotated[float, typer.Option(help="|log return| above this is a listing artefact")] = 1.0,
        capital: Annotated[float, typer.Option(help="account equity on every scan")] = 10_000.0,
        factors: Annotated[Optional[Path], typer.Option(help="factors table: ts_us and any factor columns, "
                                                        "joined as of each scan")] = None,
        factor_max_age: FactorAgeOpt = None,
        leverage_limits: Annotated[Optional[Path], typer.Option(help="symbol,max_leverage table")] = None,
        feature: Annotated[Optional[list[str]], typer.Option(help="a per-asset column NAME=KIND:WINDOW, e.g. "
                                                             "vol=rolling_std:60 (repeatable)")] = None) -> None:
    """Scans from closes: vel_div from the correlation eigenvalues, per-asset scores, factors, features, and the universe."""
    from violet.scans.build import ScanSettings, build_scans, read_factors, write_scans
    from violet.scans.features import parse_feature
    from violet.scans.panel import default_panel, generate_panel, read_panel
    from violet.table_io import check_output

    check_output(output, "--output", (".parquet",), make_parent=True)
    features = tuple(parse_feature(text) for text in feature or [])
    panel = generate_panel() if generate else read_panel(prices) if prices else default_panel()
    start = time.perf_counter()
    scans, universe = build_scans(panel, ScanSettings(fast, slow, spike, score_lookback, capital, features),
                                  read_factors(factors, factor_max_age), leverage_limits)
    uni_path = write_scans(scans, universe, output)
    stale = [name for row in scans.column("stale_factors").to_pylist() for name in row.split(",") if name]
    if stale:
        counts = ", ".join(f"{name} on {stale.count(name):,}" for name in dict.fromkeys(stale))
        out.print(f"stale factors (taken as neutral): {counts} scans")
    vd = scans.column("vel_div").to_numpy()
    out.print(f"{panel.source}: {panel.close.shape[0]:,} bars x {len(panel.symbols)} symbols -> {scans.num_rows:,} scans "
              f"in {time.perf_counter() - start:.1f} s (warm-up {slow + 1} bars); vel_div in [{vd.min():.4g}, {vd.max():.4g}]")
    out.print(f"wrote {output} and {uni_path} ({sum(universe.column('stable').to_pylist())} stablecoins)")


journal_app = typer.Typer(no_args_is_help=True, help="Read the ClickHouse journal.")
app.add_typer(journal_app, name="journal")
DEFAULT_JOURNAL = "chdb://" + str(Path("out/journal").resolve())
JournalOpt = Annotated[str, typer.Option("--journal", help="chdb:///abs/dir (embedded ClickHouse) or http://host:8123")]


@app.command()
def replay(graph: DecisionArg = None, *,
           input: Annotated[Path, typer.Option("--input", "-i", help="SCANS.parquet (from `violet scans build`)")],
           universe: UniverseOpt = None,
           journal: JournalOpt = DEFAULT_JOURNAL,
           database: Annotated[str, typer.Option(help="journal database")] = "violet",
           run_id: Annotated[Optional[str], typer.Option(help="name of the run; an existing run resumes")] = None,
           reference: Annotated[Optional[str], typer.Option(help="engine class compared scan by scan "
                                                            "(divergence monitor); 'none' for no engine")] = "violet.legacy.engine:BlueEngine",
           reference_trades: Annotated[Optional[Path], typer.Option(help="a trades table (e.g. from `violet run "
                                                                   "--trades`) compared with the shadow's trades")] = None,
           exit_q: Annotated[Optional[float], typer.Option(help="exit-check cadence in seconds (default: one scan)")] = None,
           live_pace: Annotated[Optional[float], typer.Option(help="run on the live monotonic clock, one scan "
                                                             "every this many seconds")] = None,
           progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
           factors: Annotated[Optional[Path], typer.Option(help="factors table joined as of each scan, replacing "
                                                           "the scans' own factor columns")] = None,
           factor_max_age: FactorAgeOpt = None,
           population: Annotated[Optional[list[str]], typer.Option(
               help="host a live population beside the run: every combination of these parameter values "
                    "(name=a,b,c or name=lo:hi:n, repeatable), stepped together on each scan, aggregates "
                    "journaled per instance")] = None,
           population_threads: Annotated[int, typer.Option(help="cores the population's step uses per scan")] = 1,
           realtime: Annotated[Optional[int], typer.Option(
               help="run the decision at real-time priority SCHED_FIFO 1-99 (root or CAP_SYS_NICE), the "
                    "journal writer ordinary: the latency tail under load (docs/runtime.md)")] = None,
           sets: SetOpt = None) -> None:
    """Replay scans through the reactor in DARK mode (observe-only): journal every decision, report divergences."""
    from violet.runtime.session import ReplaySettings, run_replay
    from violet.scans.build import read_factors

    graph = decision_graph(graph)
    ir = load_ir(graph)
    settings = ReplaySettings(graph=graph, scans=input, universe=universe, journal=journal, database=database,
                              run_id=run_id, reference=None if reference in (None, "none") else reference,
                              reference_trades=reference_trades, exit_q_s=exit_q, live_pace_s=live_pace,
                              factors=read_factors(factors, factor_max_age), params=parse_sets(ir, sets or []),
                              population=parse_grid(ir, population).points() if population else [],
                              population_threads=population_threads, realtime=realtime)
    summary = run_replay(settings, out, progress)
    if summary.divergences:
        raise typer.Exit(1)


@journal_app.command("report")
def journal_report(journal: JournalOpt = DEFAULT_JOURNAL,
                   database: Annotated[str, typer.Option(help="journal database")] = "violet",
                   run_id: Annotated[Optional[str], typer.Option(help="the run (default: the latest)")] = None) -> None:
    """Summarise a run from the journal: scans, rejections, decisions by action and reason, orders, trades, divergences."""
    from violet.journal.report import journal_report as report

    out.print(report(journal, database, run_id))


@journal_app.command("list")
def journal_list(journal: JournalOpt = DEFAULT_JOURNAL,
                 database: Annotated[str, typer.Option(help="journal database")] = "violet") -> None:
    """List the journal's runs, newest first: id, start, graph, mode, scans, decisions, divergences."""
    from violet.journal.report import journal_list as listing

    out.print(listing(journal, database))


@journal_app.command("verify")
def journal_verify(graph: DecisionArg = None, journal: JournalOpt = DEFAULT_JOURNAL,
                   database: Annotated[str, typer.Option(help="journal database")] = "violet",
                   run_id: Annotated[Optional[str], typer.Option(help="the run (default: the latest)")] = None) -> None:
    """Recompute a run from the journal alone (its scans, parameters, universe) with GRAPH and compare every
    decision and shadow trade bit for bit; exit 1 on any difference, missing or extra row."""
    from violet.journal.audit import verify_run
    from violet.journal.dsn import existing
    from violet.journal.writer import Journal
    from violet.journal.report import pick_run

    with Journal(existing(journal), database) as j:
        audit = verify_run(j, pick_run(j, run_id), decision_graph(graph))
    out.print(audit.render())
    if not audit.ok:
        raise typer.Exit(1)


def main() -> None:
    """Entry point: user errors -> one message and exit 2; mismatches -> exit 1.

    Typer runs in its standalone mode, so its own usage errors (an unknown option or command, a bad
    value) are printed by Typer with exit 2 through its public API; VIOLET's errors come out here."""
    try:
        app()
    except VioletError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
