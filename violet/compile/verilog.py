"""Verilog from the IR: one combinational module whose outputs equal the fixed-point model bit for bit.

Every value is a `wire signed [W-1:0]` of its format's width (bools are 1-bit
unsigned wires). Each op is computed in a wire wide enough for its exact result
(`t<id>`), then rounded (round half up: add half an ULP, arithmetic shift) and
saturated into its format only where the format cannot hold every result.
Signedness is kept by construction: every arithmetic operand is a signed wire
or `$signed(...)`, and constants are `localparam signed` of explicit width,
never bare sized literals in a signed expression (which would make it unsigned).

A NaN constant that selects carry to outputs ("missing", see fixed.py) is the
value 0 with a one-bit flag `m<id>` travelling beside it through the selects;
such an output gets a second port, `out_<name>_nan`.

Each op's hardware is its rule in the op catalog (`violet.compile.ops`), called
with the emitter; this module builds the module around them: ports, constants,
state registers, pipeline registers, and the wire helpers the rules share.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field

from violet.compile.fixed import MISSING, FixedModel, Fmt, LoweringError
from violet.compile.ir import Op
from violet.compile.ops import Refusal, spec


# IEEE 1800-2017 (SystemVerilog, a superset of Verilog-2005) reserved words: a graph may be named `module`
VERILOG_KEYWORDS = frozenset("""
accept_on alias always always_comb always_ff always_latch and assert assign assume automatic before begin bind
bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle checker class clocking cmos config
const constraint context continue cover covergroup coverpoint cross deassign default defparam design disable
dist do edge else end endcase endchecker endclass endclocking endconfig endfunction endgenerate endgroup
endinterface endmodule endpackage endprimitive endprogram endproperty endspecify endsequence endtable endtask
enum event eventually expect export extends extern final first_match for force foreach forever fork forkjoin
function generate genvar global highz0 highz1 if iff ifnone ignore_bins illegal_bins implements implies import
incdir include initial inout input inside instance int integer interconnect interface intersect join join_any
join_none large let liblist library local localparam logic longint macromodule matches medium modport module
nand negedge nettype new nexttime nmos nor noshowcancelled not notif0 notif1 null or output package packed
parameter pmos posedge primitive priority program property protected pull0 pull1 pulldown pullup
pulsestyle_ondetect pulsestyle_onevent pure rand randc randcase randsequence rcmos real realtime ref reg
reject_on release repeat restrict return rnmos rpmos rtran rtranif0 rtranif1 s_always s_eventually s_nexttime
s_until s_until_with scalared sequence shortint shortreal showcancelled signed small soft solve specify
specparam static string strong strong0 strong1 struct super supply0 supply1 sync_accept_on sync_reject_on
table tagged task this throughout time timeprecision timeunit tran tranif0 tranif1 tri tri0 tri1 triand trior
trireg type typedef union unique unique0 unsigned until until_with untyped use uwire var vectored virtual void
wait wait_order wand weak weak0 weak1 while wildcard wire with within wor xnor xor
""".split())
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def ident(name: str) -> str:
    """A graph name (checked at load) as a Verilog identifier: a composed path's dots become `__`.

    Generated Verilog holds no other text from a graph file; anything else is refused here, not emitted."""
    text = name.replace(".", "__")
    if not IDENT.fullmatch(text):
        raise ValueError(f"{text!r} is not an identifier")
    return text


def module_name(graph_name: str) -> str:
    """The module's (and its file's) name: the graph's, with `_g` added if it is a reserved word."""
    text = ident(graph_name)
    return f"{text}_g" if text in VERILOG_KEYWORDS else text


def lit(value: int, width: int) -> str:
    """A signed constant of explicit width (two's complement hex)."""
    return f"{width}'sh{value & ((1 << width) - 1):x}"


@dataclass
class Emitter:
    model: FixedModel
    lines: list[str]
    counts: dict[str, int]
    constants: set[str] = field(default_factory=set)
    element: int | None = None  # the asset being emitted, inside a vector op
    stages: dict[int, int] = field(default_factory=dict)  # op id -> pipeline stage (empty: combinational)
    stage: int = 0  # the stage of the op being emitted
    delayed: dict[str, tuple[int, int, int, bool]] = field(default_factory=dict)  # wire -> (from, to, width, signed)
    assets: int = 0  # N, the universe's size: vector ops are built once per asset

    def ref(self, i: int) -> str:
        """The wire holding op i's value (its element for the current asset, for a vector)."""
        vector = self.model.ir.ops[i].type.vector
        return self.at_stage(i, f"v{i}_{self.element}" if vector and self.element is not None else f"v{i}")

    def elem(self, i: int, j: int) -> str:
        """Element j of vector op i, as seen from the current stage."""
        return self.at_stage(i, f"v{i}_{j}")

    def at_stage(self, i: int, wire: str) -> str:
        """`wire` (of op i) as the current stage sees it: itself, or its copy registered at this stage."""
        produced = self.stages.get(i, 0)
        if self.model.ir.ops[i].kind in ("param", "const") or produced >= self.stage:
            return wire
        fmt = self.fmt(i)
        needed = self.delayed.get(wire, (produced, 0, 0, False))[1]
        self.delayed[wire] = (produced, max(needed, self.stage), fmt.width, not fmt.boolean)
        return f"{wire}_p{self.stage}"

    def name(self, prefix: str, i: int) -> str:
        """A wire made for op i (per asset inside a vector op)."""
        return f"{prefix}{i}" if self.element is None else f"{prefix}{i}_{self.element}"

    def fmt(self, i: int) -> Fmt:
        return self.model.formats[i]

    def w(self, i: int) -> int:
        return self.fmt(i).width

    def ext(self, i: int, width: int) -> str:
        """v<i> sign-extended to exactly `width` bits, as a signed expression (never a bare concatenation)."""
        return self.resize(self.ref(i), self.w(i), width)

    def decl(self, name: str, width: int, expr: str, signed: bool = True) -> None:
        sign = "signed " if signed else ""
        self.lines.append(f"    wire {sign}[{width - 1}:0] {name} = {expr};")

    def localparam(self, name: str, value: int, width: int) -> str:
        self.lines.append(f"    localparam signed [{width - 1}:0] {name} = {lit(value, width)};")
        return name

    def fit(self, op: Op, tname: str, lo: int, hi: int, twidth: int) -> None:
        """v<id> from t<id>: saturate only if the exact result range [lo, hi] can leave the format."""
        out = self.fmt(op.id)
        result = self.name("v", op.id)
        if out.boolean:
            self.decl(result, 1, tname, signed=False)
            return
        if lo >= out.lo and hi <= out.hi:
            if twidth > out.width:  # the dropped upper bits of t are sign copies: the range is proven
                self.waive_unused(tname)
            self.decl(result, out.width, self.resize(tname, twidth, out.width))
            return
        width = max(twidth, out.width)
        t = self.resize(tname, twidth, width)
        top = self.const(out.hi, width)
        bottom = self.const(out.lo, width)
        self.counts["saturations"] += 1
        self.decl(result, out.width, f"({t} > {top}) ? {top}[{out.width - 1}:0] : ({t} < {bottom}) ? "
                                          f"{bottom}[{out.width - 1}:0] : {self.resize(tname, twidth, out.width)}")

    def missing_flag(self, i: int) -> str:
        """Op i's missing flag: its wire if it can hold a NaN constant, else a constant 0."""
        return f"m{i}" if i in self.model.missing else "1'b0"

    def waive_unused(self, name: str) -> None:
        """Tell the linter that `name` (some of its bits, or a constant the logic folded) is unused on purpose."""
        k = next(j for j, line in enumerate(self.lines) if f"] {name} = " in line)
        self.lines[k:k + 1] = ["    /* verilator lint_off UNUSED */", self.lines[k], "    /* verilator lint_on UNUSED */"]

    @staticmethod
    def resize(name: str, width: int, to: int) -> str:
        """A signed wire `name` of `width` bits as exactly `to` bits: sign-extended or its low bits
        (only where the value is proven to fit)."""
        if width == to:
            return name
        if width > to:
            return f"$signed({name}[{to - 1}:0])"
        return f"$signed({{{{{to - width}{{{name}[{width - 1}]}}}}, {name}}})"

    def emit(self, op: Op) -> None:
        """The op's wires, by its catalog rule: per asset for an elementwise op on vectors."""
        entry = spec(op.kind)
        rule = entry.verilog
        if isinstance(rule, Refusal):
            raise LoweringError(f"op '{op.kind}' cannot be lowered to Verilog: {rule.reason}", where=f"node '{op.node}'",
                                fix=op.render())
        if not (entry.elementwise and op.type.vector):
            rule(self, op)
            return
        for k in range(self.assets):
            self.element = k
            rule(self, op)
        self.element = None

    def gather_index(self, idx: int, n: int) -> tuple[str, int]:
        """The index of a gather over n assets, sign-extended to a width holding both its own range and
        every asset number 0..n-1: compared at the index's own width, a constant j >= 2**(w-1) would
        wrap negative (3 at 2 bits is -1) and a negative index would pick an asset instead of the zero
        the IR defines outside [0, N)."""
        width = max(self.w(idx), n.bit_length() + 1)
        return self.ext(idx, width), width

    def const(self, value: int, width: int) -> str:
        """A named signed constant of exact width (declared once), for width-clean comparisons."""
        name = f"c{'m' if value < 0 else ''}{abs(value)}_w{width}"
        if name not in self.constants:
            self.constants.add(name)
            self.localparam(name, value, width)
        return name


def pipeline_stages(model: FixedModel, stages: int) -> dict[int, int]:
    """Each computed op's stage: its depth (longest path from the inputs) cut into stages + 1 segments."""
    ir = model.ir
    level: dict[int, int] = {}
    for op in ir.ops:
        level[op.id] = 0 if not op.args else 1 + max(level[a] for a in op.args)
    deepest = max(level.values(), default=1) or 1
    return {i: ((lv - 1) * (stages + 1)) // deepest if lv else 0 for i, lv in level.items()}


def emit_module(model: FixedModel, name: str, assets: int | None = None, pipeline: int = 0
                ) -> tuple[str, dict[str, int]]:
    """The Verilog module text and a summary of what it holds.

    Vectors become `assets` wires (ports `in_<name>_<k>`); state fields become
    registers with a synchronous reset to their initial values, advanced on a
    clock edge when `en` is high; outputs are combinational from inputs and state.
    With `pipeline` = N > 0 (stateless graphs), the logic is cut by depth into
    N + 1 segments with registers between them, and `in_valid` travels with the
    data to `out_valid` N clocks later."""
    ir = model.ir
    if pipeline and ir.stateful:
        raise LoweringError("a stateful graph is not pipelined (its next state needs this scan's result)",
                            where=ir.name, fix="drop --pipeline, or pipeline a stateless graph")
    if pipeline and model.missing:
        raise LoweringError("a graph with a NaN ('missing') constant is not pipelined", where=ir.name,
                            fix="drop --pipeline")
    has_vectors = any(op.type.vector for op in ir.ops)
    if has_vectors and not assets:
        raise LoweringError(f"graph {ir.name} has vectors over the universe", where=ir.name,
                            fix="give the universe size: --assets N")
    em = Emitter(model, [], {"adders": 0, "multipliers": 0, "dividers": 0, "comparators": 0, "saturations": 0,
                             "registers": 0})
    ports = ["    input  wire clk,", "    input  wire rst,", "    input  wire en,"] if ir.stateful else []
    if pipeline:
        em.stages = pipeline_stages(model, pipeline)
        ports = ["    input  wire clk,", "    input  wire rst,", "    input  wire in_valid,", "    output wire out_valid,"]
    n = em.assets = assets or 0
    for op in ir.leaves("input"):
        fmt = model.formats[op.id]
        sign = "" if fmt.boolean else "signed "
        for suffix in _suffixes(op, n):
            ports.append(f"    input  wire {sign}[{fmt.width - 1}:0] in_{ident(op.name)}{suffix},  // {fmt}")
            em.decl(f"v{op.id}{suffix}", fmt.width, f"in_{ident(op.name)}{suffix}", signed=not fmt.boolean)
            if not any(op.id in other.args for other in ir.ops):  # an input the logic never reads
                em.waive_unused(f"v{op.id}{suffix}")
    for op in ir.ops:
        if op.kind in ("param", "const"):
            fmt = model.formats[op.id]
            value = model.constant(op)
            if value is MISSING:
                em.lines.append(f"    wire [0:0] m{op.id} = 1'b1;  // {op.render()}: missing")
                value = 0
            if fmt.boolean:
                em.lines.append(f"    wire [0:0] v{op.id} = 1'b{value};")
            else:
                em.localparam(f"v{op.id}", value, fmt.width)
        elif op.kind == "state":  # a register, or one per asset for a vector field
            fmt = model.formats[op.id]
            for suffix in _suffixes(op, n):
                em.lines.append(f"    reg {'' if fmt.boolean else 'signed '}[{fmt.width - 1}:0] s{op.id}{suffix};")
                em.decl(f"v{op.id}{suffix}", fmt.width, f"s{op.id}{suffix}", signed=not fmt.boolean)
                em.counts["registers"] += fmt.width
        elif op.kind == "input":
            continue
        em.stage = em.stages.get(op.id, 0)
        if op.kind in ("param", "const", "state"):
            continue
        em.emit(op)
    if ir.stateful:
        em.lines += _registers(em)
    em.stage = pipeline
    for out_name, i in ir.outputs:
        fmt = model.formats[i]
        if ir.ops[i].type.vector:
            raise LoweringError(f"output '{out_name}' is a vector", where=ir.name, fix="output one asset's value")
        sign = "" if fmt.boolean else "signed "
        ports.append(f"    output wire {sign}[{fmt.width - 1}:0] out_{ident(out_name)},  // {fmt}")
        em.lines.append(f"    assign out_{ident(out_name)} = {em.ref(i)};")
        if i in model.missing:
            ports.append(f"    output wire out_{ident(out_name)}_nan,  // 1: missing (NaN), the value is 0")
            em.lines.append(f"    assign out_{ident(out_name)}_nan = m{i};")
    if pipeline:
        em.lines = _pipeline_registers(em, pipeline) + em.lines
    ports[-1] = ports[-1].replace(",  //", "   //", 1)
    header = [f"// Generated by VIOLET from graph {ir.name!r}, content hash {ir.content_hash[:16]}.",
              f"// Fixed point: {model.cfg.frac_bits} fractional bits; round half up; saturation where no range"
              " is proven.", "`default_nettype none", f"module {name} ("]
    return "\n".join(header + ports + [");"] + em.lines + ["endmodule", "`default_nettype wire", ""]), em.counts


def _pipeline_registers(em: Emitter, stages: int) -> list[str]:
    """The registers between pipeline segments (declared first), and the valid bit's shift register."""
    decls, moves = [], []
    for wire, (produced, needed, width, signed) in sorted(em.delayed.items()):
        for b in range(produced + 1, needed + 1):
            decls.append(f"    reg {'signed ' if signed else ''}[{width - 1}:0] {wire}_p{b};")
            moves.append(f"        {wire}_p{b} <= {wire if b == produced + 1 else f'{wire}_p{b - 1}'};")
    em.counts["registers"] += sum(int(line.split("[")[1].split(":")[0]) + 1 for line in decls) + stages
    shift = "in_valid" if stages == 1 else f"{{valid_q[{stages - 2}:0], in_valid}}"
    return [*decls, f"    reg [{stages - 1}:0] valid_q;", f"    assign out_valid = valid_q[{stages - 1}];",
            "    always @(posedge clk) begin", "        if (rst) valid_q <= 0;", f"        else valid_q <= {shift};",
            "    end", "    always @(posedge clk) begin", *moves, "    end"]


def _suffixes(op: Op, assets: int) -> list[str]:
    """The suffixes of a leaf's wires: one per asset (`_0`, `_1`, ...) for a vector, else none."""
    return [f"_{k}" for k in range(assets)] if op.type.vector else [""]


def _registers(em: Emitter) -> list[str]:
    """State registers (one per asset for a vector field): reset to the initial values, the next state
    on an enabled clock edge."""
    ir, model = em.model.ir, em.model
    init = model.initial_state(1)  # a vector field's registers all reset to the one value
    nexts = dict(ir.next_state)
    reset, advance = [], []
    for op in ir.leaves("state"):
        fmt, nxt = model.formats[op.id], nexts[op.name]
        if model.formats[nxt].width > fmt.width:
            raise LoweringError(f"state '{op.name}' is narrower than its next value", where=ir.name)
        start = init[op.name][0] if op.type.vector else init[op.name]
        value = f"1'b{start}" if fmt.boolean else lit(start, fmt.width)
        for suffix in _suffixes(op, em.assets):
            reset.append(f"            s{op.id}{suffix} <= {value};")
            wire = f"v{nxt}{suffix}"
            nxt_ref = wire if fmt.boolean else em.resize(wire, model.formats[nxt].width, fmt.width)
            advance.append(f"            s{op.id}{suffix} <= {nxt_ref};  // next {op.name}{suffix}")
    return ["    always @(posedge clk) begin", "        if (rst) begin", *reset, "        end else if (en) begin",
            *advance, "        end", "    end"]
