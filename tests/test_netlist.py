"""The netlist under the Verilog: expressions that read signals structurally, the pipelining and lint passes
on it, and the pipelined comparison tree of the selector, bit for bit with the fixed-point model."""

from __future__ import annotations

import random
import re

import pytest
from conftest import GRAPHS

from violet.compile.cosim import cosim_rows, cosimulate
from violet.compile.fixed import FixedConfig, FixedModel, Fmt, quantize
from violet.compile.lower import lower
from violet.compile.qformat import shift_round
from violet.compile.netlist import (DSP_LATENCY, FAN_OUT_BITS, FF_PARAMETERS, HELD_COPY_STAGES, LUT, REPLICA_BITS, Cell,
                                    Expr, Netlist, Port, Ref, carry, cut_pipeline, longest_path, lookup, to_verilog, unused_bits)
from violet.compile.ops.arith import clamp_chain
from violet.compile.verilog import Builder, Chunk, build_netlist, chunks, path_report
from violet.dag.graph import load_graph


@pytest.fixture(scope="module")
def selector():
    return FixedModel(lower(load_graph(GRAPHS / "blue_selector.toml")))


def test_an_expression_reads_signals_as_refs_never_as_text():
    e = Expr("(", Ref("a"), " + ", Ref("b", 3, 0), ") > ", Ref("c", 7, 7))
    assert e.render() == "(a + b[3:0]) > c[7]"
    assert e.renamed({"a": "a_p2", "c": "c_p1"}).render() == "(a_p2 + b[3:0]) > c_p1[7]"
    assert [r.name for r in e.refs()] == ["a", "b", "c"]
    with pytest.raises(TypeError, match="not text"):
        f"{e}"  # noqa: B018  # an f-string would hide the reads from the passes
    with pytest.raises(ValueError, match="whole signal"):
        e.bits(1, 0)


def test_the_lint_waiver_covers_exactly_the_signals_with_unread_bits():
    """a is read only as a[3:0], c never, b wholly, the register r through its low bit, the constant k never
    (a constant read in part is no warning): a, c, r and k are waived."""
    net = Netlist("m", ports=[Port("clk", 1, False), Port("out_y", 4, True, output=True)])
    a = net.add(Cell("a", 8, True, Expr("8'sh0")))
    one = net.add(Cell("one", 4, True, Expr("4'sh1"), kind="localparam"))
    b = net.add(Cell("b", 4, True, Expr(a.bits(3, 0), " + ", one.bits(3, 0))))
    net.add(Cell("c", 2, False, Expr("2'b0")))
    net.add(Cell("k", 4, True, Expr("4'sh3"), kind="localparam"))
    r = net.add(Cell("r", 3, False, Expr("{", b.bits(2, 0), "}"), kind="reg"))
    net.outputs.append(("out_y", Expr(b, " + ", r.bit(0))))
    assert unused_bits(net) == {"a", "c", "r", "k"}
    text = to_verilog(net)
    assert text.count("lint_off UNUSED") == 4 and "lint_off UNUSED */\n    wire signed [3:0] b" not in text


def test_pipelining_cuts_the_argmax_tree_by_level_and_registers_every_crossing(selector):
    """64 assets, 6 stages: every wire reads wires of its own stage, registered copies made for its stage, or
    constants; outputs read stage 6; the argmax tree spans the stages, and no segment holds more than a
    tree level and a half (one 49-bit comparison and its multiplexers, by the delay model)."""
    net, counts = build_netlist(selector, "blue_selector", 64, 6)
    stage_of = {c.name: c.stage for c in net.cells.values()}
    for cell in net.cells.values():
        if cell.kind != "wire" or cell.stage is None:
            continue
        for r in cell.expr.refs():
            read = net.cells.get(r.name)
            if read is not None and read.stage is not None:
                assert stage_of[r.name] == cell.stage, (cell.name, r.name)
    for _, expr in net.outputs:
        assert all(stage_of.get(r.name) in (6, None) for r in expr.refs())
    argmax = next(op.id for op in selector.ir.ops if op.kind == "argmax")
    assert net.op_stages()[argmax] == (0, 6) and net.stages == 6
    assert counts["registers"] == net.registers() == sum(c.width for c in net.cells.values() if c.kind == "reg")
    arrival = _arrivals(net)
    level = carry(49) + LUT  # one node of the tree: compare 49-bit scores, then a multiplexer
    assert max(arrival.values()) <= 1.5 * level


def test_pipelining_a_netlist_with_fewer_levels_than_stages_delays_its_outputs():
    """A single gate pipelined 3 deep: its result still leaves 3 clocks later, through 3 registers."""
    net = Netlist("m")
    net.add(Cell("v0", 1, False, Expr(Ref("in_a")), delay=0.0))
    x = net.add(Cell("v1", 1, False, Expr("!", Ref("v0"))))
    net.outputs.append(("out_y", x))
    cut_pipeline(net, 3)
    regs = sorted(c.name for c in net.cells.values() if c.kind == "reg")
    assert regs == ["v1_p1", "v1_p2", "v1_p3", "valid_q"] and net.outputs[0][1].render() == "v1_p3"


def test_the_longest_path_is_the_chain_with_the_largest_summed_delay():
    """Two chains from the inputs, a (1 + 3 = 4) and b (2.5), joined by y (0.5): a's is the longest, 4.5; a
    register's value starts a chain again (the state is read at the scan's start), so z, which reads the
    register r, adds only its own 1."""
    net = Netlist("m")
    a1 = net.add(Cell("a1", 8, True, Expr(Ref("in_a")), delay=1.0))
    a2 = net.add(Cell("a2", 8, True, Expr(a1, " + 1"), delay=3.0))
    b1 = net.add(Cell("b1", 8, True, Expr(Ref("in_b")), delay=2.5))
    y = net.add(Cell("y", 8, True, Expr(a2, " - ", b1), delay=0.5))
    r = net.add(Cell("r", 8, True, y, kind="reg", reset="0"))
    z = net.add(Cell("z", 8, True, Expr(r, " + ", y), delay=1.0))
    net.outputs.append(("out_z", z))
    assert [c.name for c in longest_path(net)] == ["a1", "a2", "y", "z"]
    assert sum(c.delay for c in longest_path(net)) == 5.5
    assert longest_path(Netlist("constants_only")) == []


def test_the_hdl_summary_names_the_nodes_on_the_longest_path():
    """blue_exit's longest chain runs through its pnl divider (one adder a quotient bit) and ends in a next
    state; the report gives each node's share in path order, summing to the total."""
    model = FixedModel(lower(load_graph(GRAPHS / "blue_exit.toml")), FixedConfig(assets=4))
    net, _ = build_netlist(model, "blue_exit", 4, 0)
    report = path_report(model.ir, net)
    total = float(re.search(r"about (\d+) LUT levels", report)[1])
    shares = [float(x) for x in re.findall(r"(?:^|-> )\S+ (\d+) \(", report.split(": ", 1)[1])]
    assert report.split(": ", 1)[1].startswith("pnl ") and "div " in report and "next." in report
    assert abs(sum(shares) - total) <= len(shares) and shares[0] > total / 2


def _arrivals(net: Netlist) -> dict[str, float]:
    """Each wire's estimated delay from the start of its stage (what it reads in its own stage, plus itself)."""
    arrival: dict[str, float] = {}
    for cell in net.cells.values():
        if cell.kind == "wire" and cell.stage is not None:
            same = [arrival[r.name] for r in cell.expr.refs() if r.name in arrival
                    and net.cells[r.name].stage == cell.stage]
            arrival[cell.name] = cell.delay + max(same, default=0.0)
    return arrival


def test_a_stateful_pipeline_registers_a_value_once_unless_several_stages_read_it():
    """blue_exit over 4 assets, 12 stages: the state is written on out_valid's clock (valid_q's last bit), the
    inputs and the state are read where they are (no register carries them), and a value gets more than one
    register only when several later stages read it (a copy near each)."""
    model = FixedModel(lower(load_graph(GRAPHS / "blue_exit.toml")), FixedConfig(assets=4))
    net, _ = build_netlist(model, "blue_exit", 4, 12)
    assert net.interval == 13 and [p.name for p in net.ports[:4]] == ["clk", "rst", "in_valid", "out_valid"]
    assert "en" not in {p.name for p in net.ports}
    state = [c for c in net.cells.values() if c.kind == "reg" and c.reset is not None and c.name != "valid_q"]
    enables = {c.enable for c in state}
    assert state and all(sum(c.width for c in state if c.enable == e) <= REPLICA_BITS for e in enables)
    for e in enables:  # each a copy of valid_q[11]: it loads what valid_q[11] loads, and is 0 under reset
        assert net.cells[e].replica and net.cells[e].expr.render() == "~rst & valid_q[10]"
    leaves = {f"v{op.id}" for op in model.ir.ops if op.kind in ("input", "state")}
    copies: dict[str, list[str]] = {}
    for c in net.cells.values():
        if c.kind == "reg" and "_p" in c.name and c.name.rsplit("_p", 1)[1].isdigit():
            copies.setdefault(c.name.rsplit("_p", 1)[0], []).append(c.name)
    assert copies and not any(name.split("_")[0] in leaves for name in copies)
    reader_stages: dict[str, set[int]] = {}
    for c in net.cells.values():
        for r in c.expr.refs():
            if r.name in {x for names in copies.values() for x in names}:
                reader_stages.setdefault(r.name.rsplit("_p", 1)[0], set()).add(c.stage if c.kind != "reg" or
                                                                                c.reset is None else 12)
    for source, names in copies.items():
        assert len(names) == 1 or len(reader_stages.get(source, ())) > 1, (source, names)


def test_a_gathers_wide_select_bits_are_copies_of_a_register_each_driving_a_few_multiplexers():
    """blue_decision over 64 assets, 80 stages: a gather's select bit read by FAN_OUT_BITS multiplexer bits or
    more becomes copies of one register (Yosys would merge them; synthesis instantiates them as flip-flops),
    each selecting at most REPLICA_BITS bits, so no route from one flip-flop spans the device; one read by
    fewer stays a plain bit of the index."""
    model = FixedModel(lower(load_graph(GRAPHS / "blue_decision.toml")), FixedConfig(assets=64, bound_inputs=True))
    net, _ = build_netlist(model, "blue_decision", 64, 80)
    selected: dict[str, int] = {}  # each select signal: the bits of the multiplexers it selects
    for c in net.cells.values():
        if c.name.startswith("gm"):
            select = next(c.expr.refs()).name
            selected[select] = selected.get(select, 0) + c.width
    copies = {name: bits for name, bits in selected.items() if net.cells[name].replica}
    # three gathers over 64 assets: the selected asset's exchange leverage (Q7.0: 32 x 8 bits at its first
    # level, 4 copies of 8 multiplexers) and two prices (Q20.24: 32, 16 and 8 multiplexers of 45 bits at their
    # first three levels, one copy each)
    assert len(copies) == 4 + 2 * (32 + 16 + 8)
    assert sorted(set(copies.values())) == [45, 64] and sum(v == 64 for v in copies.values()) == 4
    assert max(selected.values()) < FAN_OUT_BITS and max(copies.values()) <= REPLICA_BITS
    for name in copies:
        copy = net.cells[name]
        assert copy.kind == "reg" and copy.width == 1 and copy.reset is None and copy.stage >= 1
        source = next(copy.expr.refs())
        assert source.name.startswith(("gi", "gs")) and source.hi == source.lo  # one bit of the index
    module = to_verilog(net, primitives=True)
    enables = [c for c in net.cells.values() if c.name.startswith("valid_e")]  # out_valid's copies
    assert enables and all(c.replica for c in enables)
    held = [c for c in net.cells.values() if c.comment.endswith(f"held, copied for stage {c.stage}")]
    assert module.count("TRELLIS_FF #(") == len(copies) + len(enables) + sum(c.width for c in held)
    assert f"wire [0:0] {next(iter(copies))};" in module
    assert "TRELLIS_FF" not in to_verilog(net)  # simulation: plain registers


def test_a_value_held_for_the_scan_read_in_many_stages_is_copied_for_each():
    """blue_exit over 4 assets, 6 stages: the pnl divider's divisor, the held entry price, is read by the
    divider's steps in HELD_COPY_STAGES stages or more; logic in each stage from the second reads its own
    copy, a register loading the held value whole (valid from the scan's second stage on), and logic in the
    first reads the value itself; synthesis keeps the copies apart, a flip-flop a bit. (The same netlist is
    co-simulated over 20,000 scans: test_hdl.py, test_a_pipelined_stateful_graph_...)"""
    model = FixedModel(lower(load_graph(GRAPHS / "blue_exit.toml")), FixedConfig(frac_bits=24))
    net, _ = build_netlist(model, "blue_exit", 4, 6)
    copies = {c.name: c for c in net.cells.values() if c.comment.endswith(f"held, copied for stage {c.stage}")}
    (held,) = {next(c.expr.refs()).name for c in copies.values()}
    source = net.cells[held]
    assert len(copies) >= HELD_COPY_STAGES and source.kind == "wire" and source.width > 1
    logic = [c for c in net.cells.values() if c.kind in ("wire", "dsp")]
    for c in copies.values():
        assert (c.kind, c.replica, c.reset, c.width, c.expr.render()) == ("reg", True, None, source.width, held)
        assert c.stage >= 1 and {x.stage for x in logic if c.name in {r.name for r in x.expr.refs()}} == {c.stage}
    assert all(x.stage == 0 for x in logic if held in {r.name for r in x.expr.refs()})
    module = to_verilog(net, primitives=True)
    assert sum(module.count(f"TRELLIS_FF #({FF_PARAMETERS}) {name}_i") for name in copies) == source.width * len(copies)


def test_a_constant_chosen_by_a_wide_key_counts_a_lut_level_per_three_more_key_bits():
    """A table's output bit is a function of its key: one LUT4 for 4 key bits, two for 5 to 7 (blue_decision's
    margin: the reciprocal of 2 * exch_lev chosen by the 5-bit saturated exchange leverage, measured at
    10.2 ns with the saturation before it, where one level had been counted)."""
    assert [lookup(bits) for bits in (1, 4, 5, 7, 8, 10, 11)] == [1, 1, 2, 2, 3, 3, 4]
    model = FixedModel(lower(load_graph(GRAPHS / "blue_decision.toml")), FixedConfig(assets=64, bound_inputs=True))
    net, _ = build_netlist(model, "blue_decision", 64, 80)
    (choice,) = [c for c in net.cells.values() if re.fullmatch(r"ms\d+", c.name) and " == " in c.expr.render()]
    assert choice.delay == 2 * LUT and _arrivals(net)[choice.name] <= net.budget


@pytest.mark.parametrize("assets, stages, simulator", [(1, 1, "icarus"), (7, 2, "icarus"), (13, 4, "verilator"),
                                                       (64, 6, "icarus")])
def test_the_pipelined_selector_equals_the_model_with_ties_to_the_lowest_index(selector, tmp_path, assets, stages,
                                                                              simulator):
    """Scores drawn from eight values, so many scans tie, and some differ only in the lowest or a middle
    16-bit piece of the 49-bit comparison (one ULP, 2**-10 apart) or in sign; masks at random (none eligible
    too): the tree's pick, streamed one scan per clock, equals the fixed-point model's, arg_extreme's chain."""
    rnd = random.Random(assets)
    ulp = 2.0 ** -24
    values = [-1.0, -1.0 + ulp, 0.0, ulp, 0.5, 0.5 + ulp, 0.5 + 2.0 ** -10, 1.0]
    rows = [{"score": [rnd.choice(values) for _ in range(assets)],
             "stable": [rnd.random() < (0.3 if k % 50 else 1.0) for _ in range(assets)]} for k in range(400)]
    ties = sum(row["score"].count(max(row["score"])) > 1 for row in rows)
    assert assets == 1 or ties > 40
    tie = {"score": [0.5] * assets, "stable": [k == 0 for k in range(assets)]}  # all tie, the first is a stablecoin
    assert selector.step(tie) == {"asset": min(1, assets - 1) if assets > 1 else -1, "has_asset": assets > 1}
    report = cosimulate(selector, [*rows, tie], tmp_path, "blue_selector", assets=assets, simulator=simulator,
                        pipeline=stages)
    assert report.vectors == 401 and report.mismatches == 0, report.render()


def test_an_operand_is_cut_into_pieces_for_18x18_blocks():
    """The top 18 bits (the sign's piece), then 17-bit pieces read as 18-bit signed numbers, the rest last."""
    assert chunks(18) == [Chunk(0, 18, True)]
    assert chunks(49) == [Chunk(31, 18, True), Chunk(14, 17, False), Chunk(0, 14, False)]
    assert chunks(19) == [Chunk(1, 18, True), Chunk(0, 1, False)]


PRODUCT_GRAPH = """
[graph]
name = "product"
[inputs]
x = { type = "float64", finite = true }
y = { type = "float64", finite = true }
[outputs]
z = "x * y"
"""


def _equals_model(model: FixedModel, tmp_path, name: str, vectors: int, seed: int) -> None:
    """The combinational module, under Icarus, equals the fixed-point model on `vectors` rows."""
    report = cosimulate(model, cosim_rows(model, vectors, seed=seed), tmp_path, name)
    assert report.vectors == vectors and report.mismatches == 0, report.render()


@pytest.mark.parametrize("frac_bits, int_bits, blocks, rows", [
    (14, 4, 1, 3),    # 19 bits: an 18x18 block, the 1-bit pieces as adder rows (x_lo * y_top, x_top * y_lo, lo * lo)
    (24, 24, 9, 0),   # 49 bits: 18 + 17 + 14, nine blocks
    (20, 30, 9, 0),   # 51 bits: 18 + 17 + 16
    (1, 1, 0, 1),     # 3 bits: adder rows, no block
])
def test_a_product_is_its_partial_products_summed_bit_for_bit(write_graph, tmp_path, frac_bits, int_bits, blocks,
                                                             rows):
    """Each partial product is its own cell (an 18x18 block, or adder rows for a piece of at most SMALL_CHUNK
    bits). Nine blocks, ready together, and the rounding's half ULP are summed by carry-save cells (three
    terms in, two out) down to two terms, then one carry chain; one block and its rows by adders, the rows
    first, so that the block, the latest term, meets one adder. The module equals the model (signed pieces,
    ties)."""
    model = FixedModel(lower(load_graph(write_graph(PRODUCT_GRAPH))), FixedConfig(frac_bits, int_bits))
    net, _ = build_netlist(model, "product")
    partial = [c for c in net.cells.values() if "_pp" in c.name and c.delay]  # not the blocks' 18-bit operands
    assert sum(c.kind == "dsp" for c in partial) == blocks and sum(c.kind == "wire" for c in partial) == rows
    adders = [c for c in net.cells.values() if re.fullmatch(r"p\d+_s\d+", c.name)]
    saves = [c for c in net.cells.values() if re.fullmatch(r"p\d+_[xy]\d+", c.name)]
    assert len(adders) + len(saves) // 2 == len(partial) + (frac_bits > 0) - 1  # each cell takes one term away
    if blocks == 1:
        block = next(c for c in partial if c.kind == "dsp")
        (last,) = net.cells[f"p{block.op}"].expr.refs()  # the product's last adder reads the block itself
        assert saves == [] and block.name in {r.name for r in net.cells[last.name].expr.refs()}
    else:
        assert len(adders) == 1
    _equals_model(model, tmp_path, "product", 600, frac_bits)


@pytest.mark.parametrize("stages, registered", [(1, False), (6, True)])
def test_dsp_blocks_take_their_input_and_output_registers_when_the_pipeline_is_deep_enough(
        write_graph, tmp_path, stages, registered):
    """A 49-bit product's nine blocks are registered (inputs, then the product: two clocks) when the stages
    leave room, wires otherwise; either way the streamed module equals the model under both simulators, and
    the synthesis view instantiates each as a MULT18X18D with REG_INPUTA/B and REG_OUTPUT on CLK0."""
    model = FixedModel(lower(load_graph(write_graph(PRODUCT_GRAPH))), FixedConfig(24, 24))
    net, _ = build_netlist(model, "product", pipeline=stages)
    blocks = [c for c in net.cells.values() if c.kind == "dsp"]
    assert len(blocks) == 9 and all(c.latency == (DSP_LATENCY if registered else 0) for c in blocks)
    module, synthesis = to_verilog(net), to_verilog(net, primitives=True)
    assert module.count("(.clk(clk), .a(") == (9 if registered else 0) and "MULT18X18D" not in module
    assert ('.REG_INPUTA_CLK("CLK0"), .REG_INPUTB_CLK("CLK0"), .REG_OUTPUT_CLK("CLK0")' in synthesis) == registered
    rows = cosim_rows(model, 500, seed=stages)
    for simulator in ("icarus", "verilator"):
        report = cosimulate(model, rows, tmp_path / simulator, "product", simulator=simulator, pipeline=stages)
        assert report.vectors == 500 and report.mismatches == 0, report.render()


ROUNDING_GRAPH = """
[graph]
name = "rounding"
[inputs]
x = { type = "float64", finite = true, ge = -40.0, le = 40.0 }
p = { type = "float64", finite = true, ge = 0.25, le = 40.0 }
k = { type = "int64", ge = 1, le = 9 }
[outputs]
up = "ceil(x)"
down = "floor(x)"
whole = "int(x)"
whole_p = "int(ceil(p))"
at_least = "max(ceil(p), 1.0)"
share = "p / float(k)"
signed_share = "x / float(k)"
"""


@pytest.mark.parametrize("frac_bits", [8, 16])
def test_what_the_ranges_decide_is_wiring_and_the_rest_equals_the_model(write_graph, tmp_path, frac_bits):
    """A ceil is one carry chain; an int() of a value proven non-negative (ceil(p), p >= 0.25) drops the
    fraction, no logic; max(ceil(p), 1) is ceil(p) (no comparator); p / float(k) of a non-negative p needs
    no complement of its numerator, x / float(k) does. Hand values (ties and negatives), then every output
    bit for bit with the model under Icarus."""
    model = FixedModel(lower(load_graph(write_graph(ROUNDING_GRAPH))), FixedConfig(frac_bits, 8, True))
    out = model.step({"x": -2.5, "p": 2.25, "k": 4})
    assert out == {"up": -2.0, "down": -3.0, "whole": -2, "whole_p": 3, "at_least": 3.0, "share": 0.5625,
                   "signed_share": -0.625}
    net, _ = build_netlist(model, "rounding")
    op = dict(model.ir.outputs)
    assert net.cells[f"t{op['whole_p']}"].delay == 0 and net.cells[f"t{op['whole']}"].delay > carry(8)
    assert f"k{op['at_least']}" not in net.cells
    assert f"x{op['share']}" not in net.cells and f"x{op['signed_share']}" in net.cells
    _equals_model(model, tmp_path, "rounding", 400, frac_bits)


CONSTANT_PRODUCTS = """
[graph]
name = "scaled"
[inputs]
x = { type = "float64", finite = true, ge = -100.0, le = 100.0 }
[params]
eight = 8.0
gap = 7.5
minus_three = -3.0
root_half = 0.7071
[outputs]
whole = "x * eight"
gapped = "gap * x"
negative = "x * minus_three"
fraction = "x * root_half"
"""


@pytest.mark.parametrize("frac_bits", [8, 16])
def test_a_product_by_a_constant_of_few_signed_digits_is_shifted_copies(write_graph, tmp_path, frac_bits):
    """x * 8 (a whole number, one digit) is wiring: no block, no adder, no rounding. 7.5 * x (2**3 - 2**-1)
    and x * -3 (-4 + 1) are two copies of x and a constant summed by two cells, no block; x * 0.7071 (5 signed digits at
    n = 8, 7 at 16: more than SHIFT_ADD_DIGITS) keeps its DSP block. Every output bit for bit with the model
    (Icarus)."""
    model = FixedModel(lower(load_graph(write_graph(CONSTANT_PRODUCTS))), FixedConfig(frac_bits, 24, True))
    q = Fmt(8, frac_bits)  # 0.7071 is not exact: -2.5 * round(0.7071 * 2**n), rounded half up, over 2**n
    root = shift_round(quantize(-2.5, q) * quantize(0.7071, q), frac_bits) / 2**frac_bits
    assert model.step({"x": -2.5}) == {"whole": -20.0, "gapped": -18.75, "negative": 7.5, "fraction": root}
    assert root == (-452 / 256 if frac_bits == 8 else -115852 / 65536)  # -2.5 * 181 = -452.5 -> -452
    net, counts = build_netlist(model, "scaled")
    op = dict(model.ir.outputs)
    logic = {name: [c for c in net.cells.values() if c.op == i and c.delay] for name, i in op.items()}
    assert logic["whole"] == []
    for name in ("gapped", "negative"):
        assert [c.kind for c in logic[name] if c.kind == "dsp"] == []
        assert sum("_s" in c.name for c in logic[name]) + sum("_x" in c.name for c in logic[name]) == 2
    assert any(c.kind == "dsp" for c in logic["fraction"]) and counts["multipliers"] == 4
    _equals_model(model, tmp_path, "scaled", 400, frac_bits)


CLAMPS = """
[graph]
name = "clamps"
[inputs]
x = { type = "float64", finite = true, ge = -8.0, le = 8.0 }
[outputs]
unit = "min(max(x, 0.0), 1.0)"
unit_swapped = "max(1.0 * 0.0, min(1.0, x))"
capped = "min(min(x, 9.0), 2.0)"
constant = "max(min(x, 1.0), 3.0)"
nested = "min(max(max(x, -1.0), 0.5), 4.0)"
single = "max(x, 0.5)"
"""


def test_a_chain_of_min_and_max_by_constants_is_one_clamp_of_its_value(write_graph, tmp_path):
    """Each chain reads x once: min(max(x, 0), 1) and max(0, min(1, x)) are clamp(x, 0, 1); min(min(x, 9), 2)
    only caps at 2; max(min(x, 1), 3) is 3 whatever x; max(max(x, -1), 0.5) then min 4 is clamp(x, 0.5, 4).
    Both comparisons read x, one multiplexer follows (the pick before compared the previous pick's result).
    A single pick is left as it was. Every output bit for bit with the model (Icarus)."""
    model = FixedModel(lower(load_graph(write_graph(CLAMPS))), FixedConfig(8, 4))
    net, _ = build_netlist(model, "clamps")
    em = Builder(model, net, {}, 0)
    op = dict(model.ir.outputs)
    x = next(o.id for o in model.ir.leaves("input"))
    one = 256
    assert clamp_chain(em, op["unit"]) == (x, 0, one) and clamp_chain(em, op["unit_swapped"]) == (x, 0, one)
    assert clamp_chain(em, op["capped"]) == (x, None, 2 * one)
    assert clamp_chain(em, op["constant"]) == (x, 3 * one, 3 * one)
    assert clamp_chain(em, op["nested"]) == (x, one // 2, 4 * one) and clamp_chain(em, op["single"]) is None
    assert model.step({"x": -3.0}) == {"unit": 0.0, "unit_swapped": 0.0, "capped": -3.0, "constant": 3.0,
                                       "nested": 0.5, "single": 0.5}
    assert model.step({"x": 7.5}) == {"unit": 1.0, "unit_swapped": 1.0, "capped": 2.0, "constant": 3.0,
                                      "nested": 4.0, "single": 7.5}
    reads = {c.name for c in net.cells.values() if f"v{x}" in {r.name for r in c.expr.refs()}}
    assert {f"kl{op['unit']}", f"kh{op['unit']}", f"kh{op['capped']}"} <= reads
    _equals_model(model, tmp_path, "clamps", 400, 8)


COMPLEMENT = """
[graph]
name = "complement"
[inputs]
b = { type = "float64", finite = true, ge = 0.0, le = 4.0 }
x = { type = "float64", finite = true, ge = 0.0, le = 4.0 }
[nodes.r]
expr = "(b - x) / b"
typical = [-2.0, 1.0]
[outputs]
r = "r"
"""


def test_a_ratio_to_its_own_divisor_divides_the_part_and_equals_the_model(write_graph, tmp_path):
    """(b - x) / b, x and b not negative, is divided as 1 - x / b: the divider reads x itself (no
    subtraction, no sign moved); Q1.8 from the declared range. Hand values at 8 bits: 2/3 is 170.67/256,
    171; 1/3 is 85; (2 - 511/256) / 2 is half an ULP, a tie, rounded up to 1/256; x four times b is -3,
    held at -2; b = 0: -2 (the numerator is negative), and 0 / 0 is 0. Every bit under both simulators."""
    model = FixedModel(lower(load_graph(write_graph(COMPLEMENT))), FixedConfig(8, 24, bound_inputs=True))
    rows = [{"b": 3.0, "x": 1.0}, {"b": 3.0, "x": 2.0}, {"b": 2.0, "x": 511 / 256}, {"b": 1.0, "x": 4.0},
            {"b": 0.0, "x": 1.0}, {"b": 0.0, "x": 0.0}, {"b": 2.0, "x": 1.0}]
    assert [model.step(row)["r"] for row in rows] == [171 / 256, 85 / 256, 1 / 256, -2.0, -2.0, 0.0, 0.5]
    net, counts = build_netlist(model, "complement")
    div = dict(model.ir.outputs)["r"]
    assert f"cx{div}" in net.cells and f"sn{div}" not in net.cells and counts["dividers"] == 1
    assert not any(model.ir.ops[c.op].kind == "sub" for c in net.path if c.op is not None)
    rows += cosim_rows(model, 400, seed=5)
    for simulator in ("icarus", "verilator"):
        report = cosimulate(model, rows, tmp_path / simulator, "complement", simulator=simulator)
        assert report.mismatches == 0 and report.vectors == len(rows), report.render()
