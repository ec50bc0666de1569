"""Hardware that is real: exact division by a known divisor, and synthesis, placement and routing on an ECP5."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest
from conftest import GRAPHS
from hypothesis import given, settings
from hypothesis import strategies as st

from violet.compile.cosim import cosim_rows, cosimulate, run_tool, verilator_lint
from violet.compile.fixed import FixedConfig, FixedModel
from violet.compile.lower import lower
from violet.compile.synth import (CLOCK_PAD_UNROUTED, DEVICES, TOP, SynthReport, nextpnr_exe, place_and_route,
                                  route_failure, wrapper)
from violet.compile.qformat import floor_by_reciprocal, reciprocal
from violet.compile.netlist import to_verilog
from violet.compile.verilog import build_netlist, emit_module
from violet.dag.graph import load_graph
from violet.errors import VioletError


@settings(max_examples=400, deadline=None)
@given(bits=st.integers(1, 90), data=st.data())
def test_a_reciprocal_divides_exactly_at_every_numerator(bits, data):
    """floor(x / d) from (x * m) >> s equals Python's floor division, for signed x of `bits` bits at its
    extremes and inside, and for every divisor of a small table sharing one shift."""
    divisors = data.draw(st.lists(st.integers(1, (1 << bits) + 5), min_size=1, max_size=9))
    magic, shift = reciprocal(divisors, bits)
    edge = st.sampled_from([0, 1, -1, (1 << bits) - 1, -(1 << bits)])
    for x in data.draw(st.lists(st.one_of(edge, st.integers(-(1 << bits), (1 << bits) - 1)), min_size=1)):
        for d, m in zip(divisors, magic):
            assert floor_by_reciprocal(x, m, shift) == x // d


KNOWN_DIVISORS = """
[graph]
name = "known_divisors"
[inputs]
x = { type = "float64", finite = true }
k = { type = "int64", ge = 1, le = 7 }
[params]
lo = 0.25
hi = 0.62
neg = -0.3
[outputs]
by_params = "x / (hi - lo)"
by_negative = "x / neg"
by_int = "x / float(k)"
"""


@pytest.mark.parametrize("frac_bits, int_bits", [(24, 24), (8, 40), (30, 6), (3, 3)])
def test_a_known_divisor_is_a_multiplication_bit_exact_with_the_model(write_graph, tmp_path, frac_bits, int_bits):
    """A divisor of parameters (positive and negative) and an int in [1, 7] become multiplications (no `/`
    left in the module, lint-clean) and co-simulate with 0 mismatches in any format, the format bounds included."""
    model = FixedModel(lower(load_graph(write_graph(KNOWN_DIVISORS))), FixedConfig(frac_bits, int_bits))
    module, counts = emit_module(model, "known_divisors")
    assert counts["dividers"] == 0 and " / " not in module and counts["multipliers"] == 3
    (tmp_path / "known_divisors.v").write_text(module)
    assert verilator_lint(tmp_path / "known_divisors.v") == ""
    rows = cosim_rows(model, 3_000, seed=frac_bits)
    assert {row["k"] for row in rows} == set(range(1, 8))
    report = cosimulate(model, rows, tmp_path, "known_divisors")
    assert report.vectors == 3_000 and report.mismatches == 0, report.render()


def _violet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "violet.cli", *args], capture_output=True, text=True, env=env)


def test_a_missing_synthesis_tool_is_one_message_and_exit_2(tmp_path):
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # the venv's tools, not /usr/bin's yosys
    done = _violet("hdl", str(GRAPHS / "blue_sizing.toml"), "--out", str(tmp_path), "--synth", env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr + done.stdout
    assert "Yosys is not installed" in done.stderr + done.stdout and "apt-get install" in done.stderr + done.stdout


def test_an_unknown_device_is_one_message_and_exit_2(tmp_path):
    done = _violet("hdl", str(GRAPHS / "blue_sizing.toml"), "--out", str(tmp_path), "--synth", "--device", "ecp5-999k")
    assert done.returncode == 2 and "unknown device 'ecp5-999k'" in done.stderr and "ecp5-85k" in done.stderr
    assert not (tmp_path / "synth").exists()


# The CI's synthesis runs: each is routed on the LFE5U-85F and must fit and close at the stated clock.
# Measured (docs/hdl.md) above it; the tools are locked and nextpnr's placer seed fixed, so a run is the
# same every time and the test fails on a change of the lowering, not on noise. The 16-asset selector, the
# score in its real range (--bound-inputs, Q3.24), its comparison tree cut into 11 stages (180.73 MHz
# measured, 14 s: 3 cycles a tree level: the 12-bit pieces of the comparison, their join, the multiplexers),
# at the 150 MHz of issue 13 (the 64-asset one, 174.49 MHz, takes 1.5 minutes); and blue_sizing in 16
# fractional bits, inputs in their typical ranges, cut into 81 stages (122.46 MHz, 3,602 LUT4, 27 DSP
# blocks; 3.5 minutes of one core, the longest test). Its clock here is below every placement measured of
# this lowering (106.52 to 134.34 MHz over six seeds and weights, with carry-save cells in a few more sums):
# issue 13's 150 MHz is not met by it (the lowering before, a longer path, placed once at 152.91 and
# otherwise at 131 to 147), docs/hdl.md.
ROUTED = [("blue_selector", ["--assets", "16", "--pipeline", "11", "--bound-inputs"], 150.0),
          ("blue_sizing", ["--frac-bits", "16", "--bound-inputs", "--pipeline", "80"], 100.0)]


@pytest.mark.long
@pytest.mark.parametrize("graph, options, clock_mhz", ROUTED)
def test_the_module_is_synthesized_placed_and_routed(tmp_path, graph, options, clock_mhz):
    done = _violet("hdl", str(GRAPHS / f"{graph}.toml"), "--out", str(tmp_path), *options, "--synth",
                   "--clock-mhz", str(clock_mhz))
    report = json.loads((tmp_path / "synth" / "report.json").read_text())
    assert done.returncode == 0, done.stdout + done.stderr
    assert report["fits"] and report["meets_clock"] and report["fmax_mhz"] >= clock_mhz
    assert report["part"] == "LFE5U-85F" and report["initiation_interval"] == 1
    assert report["lut4"] > 500 and report["ff"] > 1000  # the wrapper kept the logic: nothing was optimized away
    assert report["share"]["lut4"] < 0.25 and report["share"]["mult18"] < 0.25  # issue 13's resource targets
    assert report["latency_cycles"] == int(options[options.index("--pipeline") + 1]) + 1
    assert "Fmax:" in done.stdout and "meets the requested" in done.stdout


# A small design: routed in seconds, and its ports (two Q2.24 and an int input, three outputs) span several
# bits of the synthesis top's chains.
SUMS_GRAPH = """
[graph]
name = "sums"
[inputs]
a = { type = "float64", finite = true, ge = -4.0, le = 4.0 }
b = { type = "float64", finite = true, ge = -4.0, le = 4.0 }
k = { type = "int64", ge = -100, le = 100 }
[outputs]
y = "a + b"
z = "a - b"
m = "k * 3"
"""


def test_the_placer_seed_and_timing_weight_are_nextpnrs_and_in_the_report(write_graph, tmp_path):
    """`--placer-seed N` starts nextpnr's placer from N (a seed sweep, for a design near its clock) and
    `--placer-timing-weight W` weighs timing against wire length; the report names both, and without the
    options says nextpnr's defaults (a flag nextpnr did not know would leave the module unrouted, exit 1);
    a negative weight is refused before any tool runs."""
    graph = str(write_graph(SUMS_GRAPH))
    done = _violet("hdl", graph, "--out", str(tmp_path / "seeded"), "--synth", "--placer-seed", "7",
                   "--placer-timing-weight", "40")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "seeded" / "synth" / "report.json").read_text())
    assert (report["seed"], report["timing_weight"]) == (7, 40)
    assert "(placer seed 7, timing weight 40)" in (tmp_path / "seeded" / "synth" / "report.txt").read_text()
    done = _violet("hdl", graph, "--out", str(tmp_path / "default"), "--synth")
    text = (tmp_path / "default" / "synth" / "report.txt").read_text()
    assert done.returncode == 0 and "(placer seed default, timing weight default)" in text
    report = json.loads((tmp_path / "default" / "synth" / "report.json").read_text())
    assert report["seed"] is None and report["timing_weight"] is None
    done = _violet("hdl", graph, "--out", str(tmp_path / "bad"), "--synth", "--placer-timing-weight", "-1")
    assert done.returncode == 2 and "--placer-timing-weight must not be negative, got -1" in done.stderr
    assert not (tmp_path / "bad" / "synth").exists()


def test_the_synthesis_top_writes_every_input_bit_and_reads_every_output_bit(write_graph, tmp_path):
    """The top that --synth routes, simulated under Icarus: every input bit shifted in from the pin `sin`
    (the last one in is the first port's bit 0), the outputs captured on `cap` and shifted out on `sout`
    (the first port's top bit first), equal the fixed-point model's for Q2.24 and int inputs: every bit is
    controllable and observable, so synthesis keeps the module's logic whole."""
    model = FixedModel(lower(load_graph(write_graph(SUMS_GRAPH))), FixedConfig(frac_bits=24))
    net, _ = build_netlist(model, "sums", None, 0)
    ins = [p for p in net.ports if not p.output]
    outs = [p for p in net.ports if p.output]
    rng = random.Random(5)
    rows = [{"a": rng.uniform(-4, 4), "b": rng.uniform(-4, 4), "k": rng.randint(-100, 100)} for _ in range(20)]
    shifted = []
    for row in rows:
        values = model.trace(row)
        raw = {f"in_{op.name}": values[op.id] for op in model.ir.ops if op.kind == "input"}
        shifted += reversed(_bits(ins, raw))  # the highest bit first: it travels furthest up the chain
    (tmp_path / "bits.txt").write_text("\n".join(map(str, shifted)) + "\n")
    (tmp_path / "sums.v").write_text(to_verilog(net))
    (tmp_path / "top.v").write_text(wrapper(net))
    win, wout = sum(p.width for p in ins), sum(p.width for p in outs)
    (tmp_path / "tb.v").write_text(TOP_BENCH.format(rows=len(rows), win=win, wout=wout))
    run_tool(["iverilog", "-g2012", "-o", "sim.vvp", "tb.v", "top.v", "sums.v"], tmp_path)
    run_tool(["vvp", "-n", "sim.vvp"], tmp_path)
    read = [int(x) for x in (tmp_path / "read.txt").read_text().split()]
    for r, row in enumerate(rows):
        values = model.trace(row)
        want = {f"out_{name}": values[i] for name, i in model.ir.outputs}
        assert read[r * wout:(r + 1) * wout] == list(reversed(_bits(list(reversed(outs)), want))), row


def _bits(ports: list, raw: dict[str, int]) -> list[int]:
    """The ports' raw values (two's complement, each its width) one after the other, bit 0 first."""
    return [(raw[p.name] >> k) & 1 for p in ports for k in range(p.width)]


TOP_BENCH = """
module tb;
    reg clk = 0, rst = 0, en = 0, sin = 0, cap = 0;
    wire sout;
    integer f, g, r, k, got, b;
    violet_synth_top top(.clk(clk), .rst(rst), .en(en), .sin(sin), .cap(cap), .sout(sout));
    initial begin
        f = $fopen("bits.txt", "r");
        g = $fopen("read.txt", "w");
        for (r = 0; r < {rows}; r = r + 1) begin
            for (k = 0; k < {win}; k = k + 1) begin
                got = $fscanf(f, "%d", b);
                sin = b; #1 clk = 1; #1 clk = 0;
            end
            cap = 1; #1 clk = 1; #1 clk = 0; cap = 0;
            for (k = 0; k < {wout}; k = k + 1) begin
                #1 $fwrite(g, "%0d\\n", sout); clk = 1; #1 clk = 0;
            end
        end
        $fclose(g);
        $finish;
    end
endmodule
"""


def test_a_clock_on_a_pad_without_a_route_to_the_clock_network_is_placed_again_on_the_clock_pin(write_graph,
                                                                                                tmp_path):
    """Left to itself, nextpnr may put the clock's input on a pad with no route to the global clock network
    (blue_decision over 64 assets, twice in session 10: "not routed" for a design that had placed). That
    error, and only it, sends the run again with the clock on the package's clock pin (G2, as on the ULX3S):
    the pinned run routes, its log says the pad is constrained, and the report names the pad."""
    seen = ("ERROR: Failed to route arc 0.0 of net 'clk$TRELLIS_IO_IN', from X0/Y11/JPADDIC_PIO to "
            "X0/Y0/G_CLKI_TDCC0.")
    assert CLOCK_PAD_UNROUTED.search(seen)
    assert not CLOCK_PAD_UNROUTED.search("ERROR: Failed to route arc 3.0 of net 'dut.v12', from X1/Y2 to X3/Y4.")
    assert route_failure(seen, "nextpnr-ecp5") == seen
    graph = str(write_graph(SUMS_GRAPH))
    done = _violet("hdl", graph, "--out", str(tmp_path), "--synth")
    assert done.returncode == 0, done.stdout + done.stderr
    workdir, device = tmp_path / "synth", DEVICES["ecp5-85k"]
    (workdir / "route.json").unlink()
    pinned = place_and_route(nextpnr_exe(), device, workdir, 100.0, None, None, device.clock_pin)
    assert pinned.returncode == 0 and (workdir / "route.json").exists(), pinned.stderr
    assert 'LOCATE COMP "clk" SITE "G2"' in (workdir / "clock.lpf").read_text()
    assert "pin 'clk$tr_io' constrained to Bel" in (workdir / "nextpnr.log").read_text()
    report = SynthReport("sums", "ecp5-85k", 1, 0, 1, 0, 0, 100.0, 1, 1, clock_pin="G2", fmax_mhz=120.0)
    assert "clock on pad G2: the placer's own pad had no route to the clock network" in report.render()


def test_a_tool_the_os_kills_is_one_message_saying_so(tmp_path):
    """A tool killed by a signal (the OS's SIGKILL when memory runs out: Yosys on blue_decision over 64
    assets) prints nothing of its own; the message names the signal and the likely cause."""
    with pytest.raises(VioletError) as killed:
        run_tool(["sh", "-c", "echo mapping; kill -9 $$"], tmp_path, "yosys", "see yosys.log in that directory")
    assert "yosys was killed by SIGKILL (by the OS: most often out of memory): mapping" in str(killed.value)
    assert killed.value.where == str(tmp_path) and "yosys.log" in killed.value.fix
    with pytest.raises(VioletError) as failed:
        run_tool(["sh", "-c", "echo 'ERROR: no such module' >&2; exit 1"], tmp_path, "yosys")
    assert "yosys failed: ERROR: no such module" in str(failed.value)


WIDE_GATHER_GRAPH = """
[graph]
name = "wide_gather"
[inputs]
price = { type = "float64", vector = true, finite = true, ge = -4.0, le = 4.0 }
k = { type = "int64", ge = 0, le = 31 }
[outputs]
picked = "price[k]"
"""


@pytest.mark.long
def test_a_select_bits_register_copies_survive_synthesis(write_graph, tmp_path):
    """Yosys merges identical registers (even `(* keep *)` ones), which would undo a fan-out's copies: the
    synthesis netlist has every copy as its own flip-flop, and the module routes."""
    graph = write_graph(WIDE_GATHER_GRAPH)
    net, _ = build_netlist(FixedModel(lower(load_graph(graph)), FixedConfig(frac_bits=24)), "wide_gather", 32, 3)
    copies = {c.name for c in net.cells.values() if c.replica}
    assert len(copies) >= 8  # 16 multiplexers of 28 bits at the first level: 8 copies of 64 bits or fewer
    done = _violet("hdl", str(graph), "--out", str(tmp_path), "--assets", "32", "--pipeline", "3", "--synth")
    assert done.returncode == 0, done.stdout + done.stderr
    top = json.loads((tmp_path / "synth" / "netlist.json").read_text())["modules"][TOP]
    kept = {name.rsplit(".", 1)[-1].removesuffix("_i") for name, cell in top["cells"].items()
            if cell["type"] == "TRELLIS_FF"}
    assert copies <= kept
