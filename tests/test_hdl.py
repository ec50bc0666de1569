"""The FPGA path: Verilog from the IR, co-simulated under Icarus against the fixed-point model, bit for bit."""

from __future__ import annotations

import math
import random
import re
import subprocess
import sys

import pytest
from conftest import GRAPHS

from violet.compile.cosim import SIMULATORS, cosim_rows, cosimulate, from_hex, to_hex, verilator_lint
from violet.compile.fixed import MISSING, FixedConfig, FixedModel, LoweringError
from violet.compile.interp import Interpreter
from violet.compile.lower import lower
from violet.compile.qformat import shift_round
from violet.compile.verilog import build_netlist, emit_module
from violet.dag.graph import load_graph


@pytest.fixture(scope="module")
def sizing_model():
    return FixedModel(lower(load_graph(GRAPHS / "blue_sizing.toml")), FixedConfig(frac_bits=24, max_int_bits=24))


@pytest.mark.long
def test_sizing_rtl_equals_the_fixed_point_model_on_12k_vectors(sizing_model, tmp_path):
    rows = cosim_rows(sizing_model, 12_000, seed=11)
    for simulator in SIMULATORS:
        report = cosimulate(sizing_model, rows, tmp_path / simulator, "blue_sizing", simulator=simulator)
        assert report.vectors == 12_000 and report.mismatches == 0, report.render()
    # the vectors did reach what they are for: exact rounding ties on negative products, and saturation
    ir = sizing_model.ir
    muls = [op for op in ir.ops if op.kind == "mul"]
    negative_ties = saturated = 0
    for row in rows[:5000]:
        trace = sizing_model.trace(row)
        for op in muls:
            product = trace[op.args[0]] * trace[op.args[1]]
            half = 1 << (sizing_model.formats[op.args[1]].frac_bits - 1)
            negative_ties += product < 0 and product % (2 * half) == half
        saturated += any(trace[i] == sizing_model.formats[i].hi for _, i in ir.outputs
                         if sizing_model.formats[i].saturates)
    assert negative_ties > 0 and saturated > 0
    assert shift_round(-5, 1) == -2  # the tie rule those vectors exercise: half up, toward +infinity


def test_a_wrong_module_is_caught(sizing_model, tmp_path):
    """The comparison can fail: the module with its rounding constant (half an ULP) zeroed disagrees."""
    module, _ = emit_module(sizing_model, "blue_sizing")
    broken = re.sub(r"(c8388608_w\d+ = \d+)'sh800000;", r"\1'sh0;", module)
    assert broken != module
    (tmp_path / "blue_sizing.v").write_text(broken)
    import violet.compile.cosim as cosim

    original = cosim.emit_module
    cosim.emit_module = lambda model, name, assets=0, pipeline=0: (broken, {})
    try:
        report = cosimulate(sizing_model, cosim_rows(sizing_model, 2000, seed=1), tmp_path, "blue_sizing")
    finally:
        cosim.emit_module = original
    assert report.mismatches > 0 and "RTL" in report.first


def test_verilator_lint_is_clean(sizing_model, tmp_path):
    module, counts = emit_module(sizing_model, "blue_sizing")
    path = tmp_path / "blue_sizing.v"
    path.write_text(module)
    assert verilator_lint(path) == ""
    # s's division by a constant and the margin's by exch_lev in [1, 9] are multiplications by reciprocals
    assert counts["multipliers"] > 0 and counts["dividers"] == 0 and " / " not in module
    exit_module, exit_counts = emit_module(FixedModel(lower(load_graph(GRAPHS / "blue_exit.toml"))), "blue_exit", 4)
    (tmp_path / "blue_exit.v").write_text(exit_module)
    assert verilator_lint(tmp_path / "blue_exit.v") == ""
    assert exit_counts["registers"] > 0


EXIT_REASONS = ["NONE", "STOP_LOSS", "TAKE_PROFIT", "TRAILING", "MAX_HOLD"]


def price_walk(model: FixedModel, n: int, seed: int, assets: int = 4) -> list[dict]:
    """Scans whose prices walk in small steps (so stops, trails and holds all happen), quantized to the formats."""
    rnd = random.Random(seed)
    scale = 1 << model.cfg.frac_bits
    prices = [1.0] * assets
    rows = []
    for k in range(n):
        step = rnd.choice([0.002, 0.004, 0.02])
        prices = [max(0.5, p * (1 + rnd.gauss(0, step))) for p in prices]
        rows.append({"scan_id": k, "price": [round(p * scale) / scale for p in prices], "want_entry": rnd.random() < 0.7,
                     "entry_asset": rnd.randrange(assets), "entry_leverage": round(rnd.uniform(0.5, 9) * scale) / scale,
                     "entry_notional": float(rnd.randrange(100, 100_000)), "bar_close": rnd.random() < 0.8})
    return rows


@pytest.mark.long
@pytest.mark.parametrize("params, reasons", [
    ({}, {"TAKE_PROFIT", "MAX_HOLD"}),
    ({"sl_enabled": True, "trail_enabled": True, "max_hold_bars": 6}, {"STOP_LOSS", "TAKE_PROFIT", "TRAILING", "MAX_HOLD"}),
])
def test_exit_graph_rtl_with_state_registers_equals_the_model_over_a_sequence(tmp_path, params, reasons):
    """blue_exit: the position as registers with reset, price[asset] as a multiplexer over 4 assets;
    one 50,000-scan sequence from reset, every output of every scan equal."""
    model = FixedModel(lower(load_graph(GRAPHS / "blue_exit.toml")), FixedConfig(frac_bits=24), params)
    rows = cosim_rows(model, 25_000, seed=5, assets=4) + price_walk(model, 25_000, seed=6)
    for simulator in SIMULATORS:
        report = cosimulate(model, rows, tmp_path / simulator, "blue_exit", assets=4, simulator=simulator)
        assert report.vectors == 50_000 and report.mismatches == 0, report.render()
    out = dict(model.ir.outputs)
    seen, state = set(), model.initial_state(4)
    for row in rows[25_000:]:
        trace, state = model.advance(row, state)
        if trace[out["exit"]]:
            seen.add(EXIT_REASONS[trace[out["exit_reason"]]])
    assert reasons <= seen, seen  # every exit rule fired in the sequence


@pytest.mark.long
@pytest.mark.parametrize("stages, bound", [(1, False), (12, True)])
def test_pipelined_sizing_streams_one_vector_per_clock(sizing_model, tmp_path, stages, bound):
    """--pipeline N: registers between N + 1 segments of the logic, in_valid carried to out_valid N clocks later;
    vectors streamed one per clock, the outputs in order and equal to the model (with --bound-inputs too: the
    formats narrowed from the inputs' typical ranges, products in 18-bit pieces cut across stages)."""
    model = FixedModel(sizing_model.ir, FixedConfig(24, 24, bound_inputs=True)) if bound else sizing_model
    module, counts = emit_module(model, "blue_sizing", pipeline=stages)
    assert counts["registers"] > stages and module.count("_p1 <=") > 0
    rows = cosim_rows(model, 4_000, seed=stages)
    for simulator in SIMULATORS:
        report = cosimulate(model, rows, tmp_path / simulator, "blue_sizing", simulator=simulator, pipeline=stages)
        assert report.vectors == 4_000 and report.mismatches == 0, report.render()
    (tmp_path / "blue_sizing.v").write_text(module)
    assert verilator_lint(tmp_path / "blue_sizing.v") == ""


STOPS_AND_TRAILS = {"sl_enabled": True, "trail_enabled": True, "max_hold_bars": 6}


@pytest.mark.long
@pytest.mark.parametrize("stages", [1, 6])
def test_a_pipelined_stateful_graph_takes_a_scan_every_depth_plus_one_clocks(tmp_path, stages):
    """blue_exit pipelined: its state read in the first stage and written on out_valid's clock edge, so a scan
    enters every N + 1 clocks (the testbench waits for out_valid); the pnl divider's cells spread over the
    stages. 20,000 scans (half a price walk: every rule fires) equal the model under both simulators."""
    model = FixedModel(lower(load_graph(GRAPHS / "blue_exit.toml")), FixedConfig(frac_bits=24), STOPS_AND_TRAILS)
    net, counts = build_netlist(model, "blue_exit", 4, stages)
    assert net.interval == stages + 1 and counts["dividers"] == 1
    pnl = next(op.id for op in model.ir.ops if op.kind == "div")
    first, last = net.op_stages()[pnl]
    assert last - first >= max(1, stages - 1)  # the divider, most of the longest chain, is cut across the stages
    rows = cosim_rows(model, 10_000, seed=7, assets=4) + price_walk(model, 10_000, seed=8)
    for simulator in SIMULATORS:
        report = cosimulate(model, rows, tmp_path / simulator, "blue_exit", 4, simulator, pipeline=stages)
        assert report.vectors == 20_000 and report.mismatches == 0, report.render()
    (tmp_path / "blue_exit.v").write_text(emit_module(model, "blue_exit", 4, stages)[0])
    assert verilator_lint(tmp_path / "blue_exit.v") == ""


WIDE_GATHER_GRAPH = """
[graph]
name = "wide_gather"
[inputs]
price = { type = "float64", vector = true, finite = true, ge = -4.0, le = 4.0 }
k = { type = "int64", ge = -1, le = 40 }
[outputs]
picked = "price[k] * 0.5 + price[k - 1]"
"""


@pytest.mark.long
def test_a_wide_gathers_select_copies_equal_the_model_stateful_and_streamed(write_graph, tmp_path):
    """A select bit driving FAN_OUT_BITS multiplexer bits or more is copies of one register (netlist's
    `_replicate_fan_out`): blue_exit over 16 assets at 4 stages (its 49-bit price gather: 8 copies at the
    first level, loading the held position's asset) and a streamed gather over 32 assets at 3 stages (one
    scan a clock: the copies load the index's pipeline register input) equal the model under both simulators."""
    exit_model = FixedModel(lower(load_graph(GRAPHS / "blue_exit.toml")), FixedConfig(frac_bits=24), STOPS_AND_TRAILS)
    gather_model = FixedModel(lower(load_graph(write_graph(WIDE_GATHER_GRAPH))), FixedConfig(frac_bits=24))
    exit_rows = cosim_rows(exit_model, 500, seed=3, assets=16) + price_walk(exit_model, 1_000, seed=4, assets=16)
    cases = [(exit_model, "blue_exit", 16, 4, exit_rows), (gather_model, "wide_gather", 32, 3,
                                                           cosim_rows(gather_model, 1_500, seed=5, assets=32))]
    for model, name, assets, stages, rows in cases:
        net, _ = build_netlist(model, name, assets, stages)
        assert sum(c.replica for c in net.cells.values()) >= 8, name
        for simulator in SIMULATORS:
            report = cosimulate(model, rows, tmp_path / name / simulator, name, assets, simulator, pipeline=stages)
            assert report.vectors == len(rows) and report.mismatches == 0, report.render()


def test_a_pipelined_state_written_on_every_clock_is_caught(tmp_path, monkeypatch):
    """The testbench's check of a pipelined stateful module is not vacuous: the same module writing its state
    on every clock (not only on out_valid's) disagrees with the model."""
    from violet.compile import cosim

    model = FixedModel(lower(load_graph(GRAPHS / "blue_exit.toml")), FixedConfig(frac_bits=24), STOPS_AND_TRAILS)
    module, counts = emit_module(model, "blue_exit", 4, 6)
    enabled = re.compile(r"end else if \(valid_e\d+\) begin")
    assert len(enabled.findall(module)) >= 2 and module.count("valid_e0 <= ~rst & valid_q[4];") == 1
    broken = enabled.sub("end else begin", module)
    monkeypatch.setattr(cosim, "emit_module", lambda *args, **kwargs: (broken, counts))
    report = cosimulate(model, price_walk(model, 500, seed=8), tmp_path, "blue_exit", 4, "icarus", pipeline=6)
    assert report.mismatches > 0


@pytest.mark.parametrize("universe", [None, 5])
def test_selector_argmax_over_the_universe(tmp_path, universe):
    """blue_selector: argmax with ties to the lowest index and any(), as a comparison tree and an or tree over 5
    assets; the model built for any universe (the index in Q24.0) or for these 5 (Q3.0, [-1, 4])."""
    model = FixedModel(lower(load_graph(GRAPHS / "blue_selector.toml")), FixedConfig(assets=universe))
    asset = dict(model.ir.outputs)["asset"]
    assert model.formats[asset].int_bits == (24 if universe is None else 3)
    rows = cosim_rows(model, 8_000, seed=2, assets=5)
    rows += [{"score": [1.0, 3.0, 3.0, -2.0, 3.0], "stable": [False, False, False, False, True]}]  # a tie: index 1
    for simulator in SIMULATORS:
        report = cosimulate(model, rows, tmp_path / simulator, "blue_selector", assets=5, simulator=simulator)
        assert report.mismatches == 0, report.render()
    trace = model.trace(rows[-1])
    assert trace[dict(model.ir.outputs)["asset"]] == 1


def test_a_model_built_for_fewer_assets_than_the_module_is_refused():
    """Indices sized to 4 assets ([-1, 3]) cannot name asset 7: emitting the module for 8 is one message
    naming the node, never an index saturated into another asset's."""
    model = FixedModel(lower(load_graph(GRAPHS / "blue_selector.toml")), FixedConfig(assets=4))
    with pytest.raises(LoweringError) as refused:
        build_netlist(model, "blue_selector", 8, 0)
    assert "argmax over 8 assets" in str(refused.value) and "node 'asset'" in refused.value.where
    assert "FixedConfig(assets=8)" in refused.value.fix


MISSING_GRAPH = """
[graph]
name = "flagged"
[inputs]
x = { type = "float64", finite = true, ge = -4.0, le = 4.0 }
p = { type = "bool" }
q = { type = "bool" }
[consts]
missing = nan
[outputs]
y = "(x * 0.5 if q else missing) if p else missing"
z = "x + 1.0"
"""


def test_a_nan_constant_chosen_by_selects_is_a_missing_flag_in_hardware(write_graph, tmp_path):
    """NaN as "missing": value 0 and out_y_nan = 1 in the RTL, MISSING (NaN) in the model, under both simulators."""
    model = FixedModel(lower(load_graph(write_graph(MISSING_GRAPH))), FixedConfig(frac_bits=8))
    y = dict(model.ir.outputs)["y"]
    assert model.trace({"x": 1.5, "p": False, "q": True})[y] is MISSING
    assert model.trace({"x": 1.5, "p": True, "q": False})[y] is MISSING
    assert model.trace({"x": 1.5, "p": True, "q": True})[y] == 192  # 0.75 in Q.8
    assert math.isnan(model.step({"x": 1.5, "p": True, "q": False})["y"])
    module, _ = emit_module(model, "flagged")
    assert "output wire out_y_nan" in module and "out_z_nan" not in module
    rows = cosim_rows(model, 2_000, seed=4)
    flags = {model.trace(row)[y] is MISSING for row in rows}
    assert flags == {True, False}
    for simulator in SIMULATORS:
        report = cosimulate(model, rows, tmp_path / simulator, "flagged", simulator=simulator)
        assert report.vectors == 2_000 and report.mismatches == 0, report.render()
    (tmp_path / "flagged.v").write_text(module)
    assert verilator_lint(tmp_path / "flagged.v") == ""


@pytest.mark.parametrize("use, where", [
    ("y = \"missing + 1.0\"", "node 'out.y'"),
    ("y = \"x if missing > 0.0 else 1.0\"", "node 'out.y'"),
])
def test_a_nan_constant_reaching_arithmetic_is_refused_naming_node_and_op(write_graph, use, where):
    text = MISSING_GRAPH.split("[outputs]")[0] + "[outputs]\n" + use + "\n"
    with pytest.raises(LoweringError, match="a NaN constant reaches '(add|gt)'") as err:
        FixedModel(lower(load_graph(write_graph(text))))
    assert where in str(err.value)


@pytest.mark.long
@pytest.mark.parametrize("stages, scans", [(0, 6_000), (12, 3_000)])
def test_the_whole_decision_graph_in_rtl_equals_the_model_over_a_sequence(tmp_path, stages, scans):
    """blue_decision (exit check, entry decision, selection, sizing, exchange leverage) over 4 assets: one
    sequence from reset under both simulators, combinational and pipelined (its missing flags carried
    through the stages like values), every output and every missing flag equal."""
    model = FixedModel(lower(load_graph(GRAPHS / "blue_decision.toml")))
    rows = cosim_rows(model, scans, seed=9, assets=4)
    for simulator in SIMULATORS:
        report = cosimulate(model, rows, tmp_path / simulator, "blue_decision", 4, simulator, pipeline=stages)
        assert report.vectors == scans and report.mismatches == 0, report.render()
    out = dict(model.ir.outputs)
    actions, missing, state = set(), set(), model.initial_state(4)
    for row in rows:
        trace, state = model.advance(row, state)
        actions.add(trace[out["action"]])
        missing.add(trace[out["leverage"]] is MISSING)
    assert actions == {0, 1, 2} and missing == {True, False}  # NONE, ENTER_SHORT and EXIT all happened
    module, _ = emit_module(model, "blue_decision", 4, stages)
    (tmp_path / "blue_decision.v").write_text(module)
    assert verilator_lint(tmp_path / "blue_decision.v") == ""


def test_vectors_need_the_universe_size(tmp_path):
    model = FixedModel(lower(load_graph(GRAPHS / "blue_exit.toml")))
    with pytest.raises(LoweringError, match="has vectors over the universe"):
        emit_module(model, "blue_exit")


def test_cli_hdl_writes_module_testbench_summary_and_simulates(tmp_path):
    out = tmp_path / "hdl"
    done = subprocess.run([sys.executable, "-m", "violet.cli", "hdl", str(GRAPHS / "blue_sizing.toml"), "--out", str(out),
                           "--frac-bits", "20", "--simulate", "3000", "--pipeline", "2"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "blue_sizing.v").is_file() and (out / "tb.v").is_file() and (out / "summary.txt").is_file()
    netlist = (out / "netlist.dot").read_text()
    assert "cluster_stage2" in netlist and "Q4.20" in netlist  # ops grouped by pipeline stage, formats on them
    assert "co-simulation (icarus): 3,000 vectors, 0 mismatches" in done.stdout and "multipliers" in done.stdout
    assert "co-simulation (verilator): 3,000 vectors, 0 mismatches" in done.stdout and "pipeline depth 2" in done.stdout
    assert "output leverage: Q4.20" in done.stdout and "output regime: Q24.20 (saturating)" in done.stdout and "output s: Q1.20" in done.stdout
    assert "warning: node regime has no proven finite range: Q24.20 from --int-bits, saturating" in done.stdout


@pytest.mark.parametrize("text, width, signed, value", [
    ("1ffffff", 25, True, -1),     # Icarus: exactly the port's 25 bits
    ("fffffff", 25, True, -1),     # Verilator: a signed value padded with sign copies to whole hex digits
    ("0ffffff", 25, True, 2**24 - 1),
    ("1000000", 25, True, -(2**24)),
    ("1f", 5, False, 31),
])
def test_simulator_hex_is_read_as_the_ports_own_bits(text, width, signed, value):
    assert from_hex(text, width, signed) == value
    assert from_hex(to_hex(value, width), width, signed) == value


GATHER_GRAPH = """
[graph]
name = "gathers"
[inputs]
price = { type = "float64", vector = true, finite = true, ge = -4.0, le = 4.0 }
flag = { type = "bool", vector = true }
k = { type = "int64", ge = 0, le = 2 }
[outputs]
below = "price[k - 1]"
above = "price[k + 2]"
flag_below = "flag[k - 1]"
"""


def test_a_gather_outside_the_universe_is_zero_in_rtl_model_and_interpreter(write_graph, tmp_path):
    """`price[k - 1]` with k in [0, 2]: the index is Q1.0 (2 bits), at which width the asset numbers 2
    and 3 read as -2 and -1; the mux once picked price[3] for k - 1 = -1. docs/semantics.md: an index
    outside [0, N) gives the type's zero. Over 4 assets the interpreter, the fixed-point model and the
    RTL (both simulators) must all say 0 for k - 1 = -1 and k + 2 = 4, and the element otherwise."""
    ir = lower(load_graph(write_graph(GATHER_GRAPH)))
    model = FixedModel(ir, FixedConfig(frac_bits=24, max_int_bits=24))
    price, flag = [1.5, -2.25, 3.0, 0.75], [True, True, False, True]
    want = {0: (0.0, 3.0, False), 1: (1.5, 0.75, True), 2: (-2.25, 0.0, True)}  # by hand: price[-1], price[4] are 0
    interp = Interpreter(ir)
    for k, (below, above, flag_below) in want.items():
        row = {"price": price, "flag": flag, "k": k}
        assert interp.step(row) == {"below": below, "above": above, "flag_below": flag_below}
        assert model.step(row) == {"below": below, "above": above, "flag_below": flag_below}
    rows = [{"price": price, "flag": flag, "k": k} for k in want] + cosim_rows(model, 3_000, seed=8, assets=4)
    assert {row["k"] for row in rows} == {0, 1, 2}
    for simulator in SIMULATORS:
        report = cosimulate(model, rows, tmp_path / simulator, "gathers", assets=4, simulator=simulator)
        assert report.vectors == len(rows) and report.mismatches == 0, report.render()


DIVIDE_GRAPH = """
[graph]
name = "divide"
[inputs]
x = { type = "float64", finite = true, ge = -1.0, le = 1.0 }
y = { type = "float64", finite = true }
[outputs]
q = "x / y"
r = "y / x"
"""


@pytest.mark.parametrize("frac_bits, int_bits", [(8, 24), (4, 40), (30, 6), (1, 3)])
def test_the_divider_holds_a_divisor_wider_than_its_numerator_in_any_format(write_graph, tmp_path, frac_bits,
                                                                            int_bits):
    """A bounded numerator (Q1.n) over an unbounded divisor (Q<int_bits>.n, saturating): the divider was
    sized from the numerator alone and dropped the divisor's upper bits (109 of 200 vectors wrong at
    --frac-bits 8). Every format now co-simulates with 0 mismatches."""
    model = FixedModel(lower(load_graph(write_graph(DIVIDE_GRAPH))), FixedConfig(frac_bits, int_bits))
    fy = model.formats[dict(model.ir.outputs)["r"]]
    assert fy.int_bits == int_bits and fy.saturates
    rows = cosim_rows(model, 2_000, seed=frac_bits)
    report = cosimulate(model, rows, tmp_path, "divide")
    assert report.vectors == 2_000 and report.mismatches == 0, report.render()


SMALL_DIVISOR_GRAPH = """
[graph]
name = "small_divisor"
[inputs]
x = { type = "float64", finite = true, ge = -100.0, le = 100.0 }
k = { type = "int64", ge = 0, le = 5 }
[outputs]
q = "x / float(k)"
"""


@pytest.mark.parametrize("frac_bits", [0, 8, 24])
def test_a_divisor_of_a_few_integers_and_zero_is_a_reciprocal_table(write_graph, tmp_path, frac_bits):
    """k in [0, 5]: the nonzero k divide by their exact reciprocals (a multiplication, no divider) and k = 0
    saturates by x's sign, as the divider does (blue_decision's exchange leverage is 0 when no asset is
    selected); every k, the zero included, co-simulates with 0 mismatches."""
    model = FixedModel(lower(load_graph(write_graph(SMALL_DIVISOR_GRAPH))), FixedConfig(frac_bits, 12))
    _, counts = emit_module(model, "small_divisor")
    assert counts["dividers"] == 0 and counts["multipliers"] == 1
    rows = cosim_rows(model, 3_000, seed=frac_bits)
    assert {row["k"] for row in rows} == set(range(6)) and any(row["k"] == 0 and row["x"] for row in rows)
    report = cosimulate(model, rows, tmp_path, "small_divisor")
    assert report.vectors == 3_000 and report.mismatches == 0, report.render()


def test_argmax_over_more_assets_than_its_format_holds_is_refused(tmp_path):
    """The analysis bounds argmax only by [-1, INT64_MAX] (it does not know N), so under --int-bits 1 the
    index is Q1.0, [-2, 1]: over 5 assets the module is refused, naming the fix, instead of wrapping
    index 3 to -1. At 3 integer bits ([-8, 7]) it co-simulates."""
    ir = lower(load_graph(GRAPHS / "blue_selector.toml"))
    with pytest.raises(LoweringError, match=r"(?s)argmax over 5 assets gives indices up to 4.*raise --int-bits to at least 3"):
        emit_module(FixedModel(ir, FixedConfig(frac_bits=8, max_int_bits=1)), "blue_selector", 5)
    model = FixedModel(ir, FixedConfig(frac_bits=8, max_int_bits=3))
    report = cosimulate(model, cosim_rows(model, 2_000, seed=3, assets=5), tmp_path, "blue_selector", assets=5)
    assert report.mismatches == 0, report.render()
