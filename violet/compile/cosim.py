"""Co-simulation: the generated Verilog under Icarus Verilog against the fixed-point model, bit for bit.

A generated testbench reads input vectors (two's-complement hex, one row per
line) from a file into registers, lets the combinational module settle, and
writes every output as hex. The same rows go through `FixedModel`; the raw
integers must be equal.
"""

from __future__ import annotations

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
