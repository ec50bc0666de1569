"""A typed netlist of the lowered graph, the hardware passes over it, and its Verilog, written in one place.

The op rules (`violet.compile.ops`, through `violet.compile.verilog.Builder`)
declare cells: a wire, constant or register of a known width and signedness,
its value an `Expr` whose reads of other signals are `Ref`s, never names
inside text. The passes then work on that structure rather than on emitted
text (Amaranth's model):

- `cut_pipeline`: each wire's stage by accumulated delay (every cell carries an
  estimate, in LUT levels), registers inserted where a value crosses a stage
  boundary, and the reads rewritten to the registered copies;
- `unused_bits`: which signals have bits no one reads (a sign copy dropped
  after a proven range, a divisor folded into constants, an input the logic
  never uses), for the linter's waiver;
- `to_verilog`: the module text.

Every name in a netlist is an identifier checked when its cell is added.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Delay estimates in LUT levels (a LUT4 and its routing, about 1 ns on an ECP5): what the pipelining cuts on.
LUT = 1.0
WIRING = 0.0  # a rename, a bit select, a sign extension: no logic


def carry(width: int) -> float:
    """An adder or comparator of `width` bits: a LUT level into the carry chain, which ripples fast
    (a CCU2C takes two bits)."""
    return LUT + width / 32


DSP = 4 * LUT  # one MULT18X18D block, combinational: an 18x18 partial product
DSP_IN = 2 * LUT  # a registered block's input side: the route from a fabric register to its input registers
DSP_OUT = LUT  # and its output side: from its output registers to the next cell
DSP_LATENCY = 2  # a registered block: input registers, then output registers
SHIFT_ADD_DIGITS = 4  # a product by a constant of this many signed digits or fewer: shifted copies, no DSP
FAN_OUT = 2 * LUT  # the route from a register to many cells spread over the device
FAN_OUT_BITS = 256  # how many bits a signal selects before its route is that long (measured on blue_decision)
REPLICA_BITS = 64  # in a pipeline, each copy of such a signal's register drives at most this many bits
HELD_COPY_STAGES = 3  # a value held for the scan read in this many stages or more: a copy of it in each


def lookup(bits: int) -> float:
    """A value chosen by a key of `bits` bits (a table of constants): each output bit a function of the key,
    one LUT4 level for up to 4 key bits, then one more for every 3 (a slice's wider functions are LUT4s
    and multiplexers)."""
    return LUT * max(1, math.ceil((bits - 1) / 3))


def shift_add(rows: int, width: int) -> float:
    """A product by a chunk of `rows` bits in logic: one adder of `width` bits per row."""
    return rows * carry(width)


@dataclass(frozen=True)
class Ref:
    """A read of signal `name` (bits hi..lo of it, or all of it) inside an expression."""

    name: str
    hi: int | None = None
    lo: int | None = None

    def text(self, name: str) -> str:
        if self.hi is None:
            return name
        return f"{name}[{self.hi}]" if self.hi == self.lo else f"{name}[{self.hi}:{self.lo}]"


class Expr:
    """A Verilog expression as operator text and `Ref`s. Built by `Expr(...)` or `+`, never by f-strings:
    an Expr refuses to become text except through `render`, so a read cannot hide inside a string."""

    __slots__ = ("parts",)

    def __init__(self, *parts: str | Ref | Expr) -> None:
        flat: list[str | Ref] = []
        for part in parts:
            flat.extend(part.parts if isinstance(part, Expr) else (part,))
        self.parts = tuple(flat)

    def __add__(self, other: str | Expr) -> Expr:
        return Expr(self, other)

    def __radd__(self, other: str) -> Expr:
        return Expr(other, self)

    def __str__(self) -> str:
        raise TypeError("an Expr is not text: compose it with Expr(...) or +")

    def __format__(self, spec: str) -> str:
        raise TypeError("an Expr is not text: compose it with Expr(...) or +")

    def refs(self) -> Iterator[Ref]:
        return (p for p in self.parts if isinstance(p, Ref))

    def ref(self) -> Ref:
        """The one signal this expression is (a plain read), for a bit select."""
        if len(self.parts) != 1 or not isinstance(self.parts[0], Ref) or self.parts[0].hi is not None:
            raise ValueError("a bit select needs a whole signal")
        return self.parts[0]

    def bits(self, hi: int, lo: int) -> Expr:
        return Expr(Ref(self.ref().name, hi, lo))

    def bit(self, k: int) -> Expr:
        return self.bits(k, k)

    def render(self, rename: dict[str, str] | None = None) -> str:
        rename = rename or {}
        return "".join(p if isinstance(p, str) else p.text(rename.get(p.name, p.name)) for p in self.parts)

    def renamed(self, rename: dict[str, str]) -> Expr:
        """The same expression reading `rename[name]` in place of each renamed signal."""
        return Expr(*(Ref(rename.get(p.name, p.name), p.hi, p.lo) if isinstance(p, Ref) else p for p in self.parts))


def text(value: str) -> Expr:
    """Verilog text holding no read of a signal (a literal)."""
    return Expr(value)


@dataclass
class Cell:
    """One signal. `kind`: "wire" (a continuous assignment), "localparam" (a named signed constant), "reg"
    (its `expr` is the next value on a clock edge, `reset` its value under rst, `enable` gating the edge) or
    "dsp" (an 18x18 signed product `a * b` of two 18-bit wires in a MULT18X18D block: a wire while `latency`
    is 0, else the block's input and output registers make its value `latency` clocks later).
    `fans_out`: a signal read by many cells spread over the device (a gather's select bit, read by every
    multiplexer of its level): a pipeline makes it copies of a register, each read by a few of those cells
    (`replica`: a register synthesis must keep apart from its twins, the usual cure for a long route, which
    Yosys would otherwise merge back into one). `stage` is None for what every stage sees alike (constants), a dsp's stage the one its inputs are read
    in; `op` is the IR op it was built for."""

    name: str
    width: int
    signed: bool
    expr: Expr
    kind: str = "wire"
    delay: float = LUT
    op: int | None = None
    stage: int | None = 0
    reset: str | None = None
    enable: str = ""
    comment: str = ""
    latency: int = 0
    fans_out: bool = False  # drives many cells across the device: read from a register (its stage's first cell)
    replica: bool = False  # a register with identical twins, each driving a part of one fan-out

    def declaration(self) -> str:
        sign = "signed " if self.signed else ""
        note = f"  // {self.comment}" if self.comment else ""
        if self.kind == "dsp" and self.latency:
            return f"    wire {sign}[{self.width - 1}:0] {self.name};{note}"
        if self.kind == "localparam":
            return f"    localparam {sign}[{self.width - 1}:0] {self.name} = {self.expr.render()};{note}"
        if self.kind == "reg":
            return f"    reg {sign}[{self.width - 1}:0] {self.name};{note}"
        return f"    wire {sign}[{self.width - 1}:0] {self.name} = {self.expr.render()};{note}"


@dataclass(frozen=True)
class Port:
    name: str
    width: int
    signed: bool
    output: bool = False
    comment: str = ""

    def declaration(self) -> str:
        kind = "output" if self.output else "input "
        size = f"{'signed ' if self.signed else ''}[{self.width - 1}:0] " if self.width > 1 or self.signed else ""
        return f"    {kind} wire {size}{self.name}," + (f"  // {self.comment}" if self.comment else "")


@dataclass
class Netlist:
    """A module: ports, cells in dependency order (a wire reads only cells added before it, a register
    anything), and each output port's expression. `stages`: pipeline registers between the inputs and the
    outputs (0: combinational); `interval`: the initiation interval, clocks from one input to the next."""

    name: str
    header: list[str] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)
    cells: dict[str, Cell] = field(default_factory=dict)
    outputs: list[tuple[str, Expr]] = field(default_factory=list)
    stages: int = 0
    interval: int = 1  # clocks between two inputs: 1, or a pipelined stateful module's stages + 1
    budget: float = 0.0  # the slowest pipeline segment's estimated delay, in LUT levels
    path: list[Cell] = field(default_factory=list)  # the longest chain of logic, before any pipelining
    arrivals: dict[str, float] = field(default_factory=dict)  # each wire's estimated delay from the inputs

    def add(self, cell: Cell) -> Expr:
        """Add a cell (its name a fresh identifier); a read of it."""
        if not IDENT.fullmatch(cell.name) or cell.name in self.cells:
            raise ValueError(f"{cell.name!r} is not a fresh identifier")
        self.cells[cell.name] = cell
        if cell.kind in ("wire", "dsp"):
            self.arrivals[cell.name] = cell.delay + self.arrival(cell.expr)
        return Expr(Ref(cell.name))

    def arrival(self, e: Expr) -> float:
        """When an expression's value is ready, in estimated LUT levels after the inputs, the state and the
        constants (all at 0), before any pipelining: what a sum of many terms orders its adders by."""
        return max((self.arrivals.get(r.name, 0.0) for r in e.refs()), default=0.0)

    def port(self, port: Port) -> Expr:
        if not IDENT.fullmatch(port.name):
            raise ValueError(f"{port.name!r} is not an identifier")
        self.ports.append(port)
        return Expr(Ref(port.name))

    def registers(self) -> int:
        """Flip-flops: the bits of every register."""
        return sum(c.width for c in self.cells.values() if c.kind == "reg")

    def op_stages(self) -> dict[int, tuple[int, int]]:
        """Each IR op's first and last pipeline stage, over the cells built for it."""
        spans: dict[int, tuple[int, int]] = {}
        for c in self.cells.values():
            if c.op is not None and c.stage is not None and c.kind in ("wire", "dsp"):
                lo, hi = spans.get(c.op, (c.stage, c.stage))
                spans[c.op] = (min(lo, c.stage), max(hi, c.stage))
        return spans


def longest_path(net: Netlist) -> list[Cell]:
    """The chain of wires with the largest summed delay estimate, from an input or a state register to an
    output or a next state, in order: what bounds the latency at any clock (the stages' delays add up to at
    least its), and what a shorter decision must shorten first. Read before pipelining (its registers would
    cut the chain)."""
    if not net.arrivals:
        return []
    chain = [max(net.arrivals, key=net.arrivals.__getitem__)]
    while reads := [r.name for r in net.cells[chain[-1]].expr.refs() if r.name in net.arrivals]:
        chain.append(max(reads, key=net.arrivals.__getitem__))
    return [net.cells[name] for name in reversed(chain)]


# ---------------------------------------------------------------- pipelining


def cut_pipeline(net: Netlist, stages: int) -> None:
    """Cut the wires into `stages` + 1 segments on accumulated delay and register every value crossing a
    boundary; `in_valid` travels to `out_valid` through a `stages`-bit shift register.

    Each wire's stage is the greedy one: the latest stage of what it reads, or the next when its delay on
    top of that stage's arrival would pass the budget. The budget is the smallest (by bisection) for which
    that needs no more than `stages` + 1 segments, so the slowest segment is as short as the cells allow.

    A registered DSP block takes its inputs in one stage and gives its product `latency` stages later; when
    the stages are too few for that on the longest chain of blocks, every block is a wire instead.

    State registers (a stateful graph) are read in the first stage and written from the last, on the clock
    edge that ends `out_valid`'s cycle: the next scan may enter on the clock after that one, so the
    initiation interval is `stages` + 1 (a scan's next state needs its whole result). The inputs are then
    held from `in_valid` to `out_valid`, and the state does not change in between, so every register of
    the scan holds its value once computed: the inputs and state are read directly by every stage, and a
    value read in one later stage is registered once, where it is made (`_register_crossings`)."""
    wires = [c for c in net.cells.values() if c.kind in ("wire", "dsp") and c.stage is not None]
    if _segments(net, wires, math.inf) > stages + 1:
        for c in wires:
            c.latency = 0
    lo = max((_delay(c) for c in wires), default=0.0)
    hi = max(lo, sum(c.delay for c in wires))
    for _ in range(40):
        mid = (lo + hi) / 2
        if _segments(net, wires, mid) <= stages + 1:
            hi = mid
        else:
            lo = mid
    _segments(net, wires, hi)
    net.stages, net.budget = stages, hi
    state = [c for c in net.cells.values() if c.kind == "reg"]
    held = _held(net, wires) if state else set()
    _register_crossings(net, wires, state, held)
    _replicate_fan_out(net, held, bool(state))
    if state:
        _held_copies(net, held | {c.name for c in state})
    _enable_copies(net, state, stages)
    net.interval = stages + 1 if state else 1
    control = [p for p in net.ports if p.name in ("clk", "rst", "en")]
    net.ports[:] = [Port("clk", 1, False), Port("rst", 1, False), Port("in_valid", 1, False),
                    Port("out_valid", 1, False, output=True), *(p for p in net.ports if p not in control)]
    shift = Expr(Ref("in_valid")) if stages == 1 else Expr("{", Ref("valid_q", stages - 2, 0), ", ", Ref("in_valid"), "}")
    net.add(Cell("valid_q", stages, False, shift, kind="reg", stage=None, reset="0"))
    net.outputs.append(("out_valid", Expr(Ref("valid_q", stages - 1, stages - 1))))


def _held_copies(net: Netlist, held: set[str]) -> None:
    """In a stateful pipeline, a value held for the scan (an input, a state register, a wire of them) that
    logic reads in HELD_COPY_STAGES stages or more is read, in each stage from the second on, from a copy of
    its own: a register loading it every clock, valid from the scan's second stage on (the inputs are held
    from `in_valid`, the state written on `out_valid`'s edge, and a scan enters a clock later at the soonest),
    which synthesis can place near that stage's logic. One state register (blue_exit's entry price, the pnl
    divider's divisor) read by the divider's steps across 13 stages had been routed 8.65 ns across the
    device (blue_decision over 64 assets, 50 stages)."""
    readers = [c for c in net.cells.values() if c.kind in ("wire", "dsp") and c.stage]
    read_in: dict[str, set[int]] = {}
    for c in readers:
        for r in c.expr.refs():
            if r.name in held:
                read_in.setdefault(r.name, set()).add(c.stage)  # type: ignore[arg-type]
    copied = {name: at for name, at in read_in.items() if len(at) >= HELD_COPY_STAGES}
    for name, at in copied.items():
        source = net.cells[name]
        for b in sorted(at):
            net.add(Cell(f"{name}_h{b}", source.width, source.signed, Expr(Ref(name)), kind="reg", stage=b,
                         op=source.op, replica=True, comment=f"{name} held, copied for stage {b}"))
    for c in readers:
        rename = {r.name: f"{r.name}_h{c.stage}" for r in c.expr.refs() if r.name in copied}
        if rename:
            c.expr = c.expr.renamed(rename)


def _enable_copies(net: Netlist, state: list[Cell], stages: int) -> None:
    """The state registers are written on `out_valid`'s clock, each group of at most REPLICA_BITS bits
    enabled by its own copy of `out_valid`'s register (loading what it loads, reset as it is): one register
    enabling every state bit of a wide design was routed across the device (15.8 ns, blue_decision over 64
    assets)."""
    before = Ref("in_valid") if stages == 1 else Ref("valid_q", stages - 2, stages - 2)
    for k, group in enumerate(_groups(state, REPLICA_BITS) if state else []):
        net.add(Cell(f"valid_e{k}", 1, False, Expr("~rst & ", before), kind="reg", stage=None, replica=True,
                     comment="a copy of out_valid's register: it enables state registers"))
        for c in group:
            c.enable = f"valid_e{k}"


def _delay(c: Cell) -> float:
    """A cell's delay inside its stage: a registered block's only the route into its input registers."""
    return DSP_IN if c.latency else c.delay


def _ready(c: Cell) -> int:
    """The stage a cell's value is in: its own, or a registered block's `latency` later."""
    return (c.stage or 0) + c.latency


def _segments(net: Netlist, wires: list[Cell], budget: float) -> int:
    """Assign each wire its greedy stage under `budget`; how many segments that takes."""
    arrival: dict[str, float] = {}
    for c in wires:
        reads = [net.cells[r.name] for r in c.expr.refs() if r.name in arrival]
        stage = max((_ready(r) for r in reads), default=0)
        start = max((arrival[r.name] for r in reads if _ready(r) == stage), default=0.0)
        if c.fans_out or (start > 0 and (c.latency or start + _delay(c) > budget)):  # from registers
            stage, start = stage + 1, 0.0
        c.stage, arrival[c.name] = stage, DSP_OUT if c.latency else start + c.delay
    return 1 + max((_ready(c) for c in wires), default=0)


def _register_crossings(net: Netlist, wires: list[Cell], state: list[Cell], held: set[str]) -> None:
    """Registers `<name>_p<b>` for each value read b stages after its own, and the reads pointed at them
    (a state register's next value, and an output, are read in the last stage). With state (inputs held
    for the scan), nothing for the inputs and state, and a value read in only one later stage gets one
    register, `<name>_p<s + 1>` after its stage s; one read in several is still carried stage by stage,
    so that each stage reads a copy placed near it (a divisor read by every step of a divider)."""
    staged = {c.name: _ready(c) for c in wires if c.name not in held}
    readers: list[tuple[int, Cell | int]] = [(c.stage or 0, c) for c in wires]
    readers += [(net.stages, c) for c in state] + [(net.stages, k) for k in range(len(net.outputs))]
    exprs = [reader.expr if isinstance(reader, Cell) else net.outputs[reader][1] for _, reader in readers]
    read_in: dict[str, set[int]] = {}
    for (stage, _), expr in zip(readers, exprs):
        for r in expr.refs():
            if staged.get(r.name, stage) < stage:
                read_in.setdefault(r.name, set()).add(stage)
    once = {name for name, at in read_in.items() if state and len(at) == 1}

    def copy(name: str, stage: int) -> int:
        """The stage of the register a reader in `stage` reads `name` from."""
        return staged[name] + 1 if name in once else stage

    for (stage, reader), expr in zip(readers, exprs):
        rename = {r.name: f"{r.name}_p{copy(r.name, stage)}" for r in expr.refs() if r.name in read_in
                  and staged[r.name] < stage}
        if isinstance(reader, Cell):
            reader.expr = expr.renamed(rename)
        elif rename:
            net.outputs[reader] = (net.outputs[reader][0], expr.renamed(rename))
    for name, at in read_in.items():
        source = net.cells[name]
        for b in range(staged[name] + 1, copy(name, max(at)) + 1):
            previous = name if b == staged[name] + 1 else f"{name}_p{b - 1}"
            net.add(Cell(f"{name}_p{b}", source.width, source.signed, Expr(Ref(previous)), kind="reg", stage=b,
                         op=source.op))


def _replicate_fan_out(net: Netlist, held: set[str], stateful: bool) -> None:
    """Each fan-out cell (a select bit, one stage after what it reads) and each register that carries it to
    a later stage become copies of one register, each read by readers of at most REPLICA_BITS bits: a copy
    loads what that register loads (a bit of a fan-out cell's pipeline register is that register's input's
    bit; in a stateful pipeline, the held input, state or wire itself, which the inputs' hold keeps valid
    from the scan's second stage on)."""
    readers: dict[str, list[Cell]] = {}
    for c in net.cells.values():
        for name in dict.fromkeys(r.name for r in c.expr.refs()):
            readers.setdefault(name, []).append(c)
    for c in [c for c in net.cells.values() if c.fans_out]:
        carried = _carried(net, c)
        for x in [c, *carried]:
            source = _replica_source(net, x, held, stateful)
            users = [r for r in readers.get(x.name, []) if r not in carried]
            if source is None or not users:
                continue
            for k, group in enumerate(_groups(users, REPLICA_BITS)):
                copy = f"{x.name}_r{k}"
                net.add(Cell(copy, 1, False, source, kind="reg", stage=x.stage, op=x.op, replica=True))
                for reader in group:
                    reader.expr = reader.expr.renamed({x.name: copy})
            if len(users) == len(readers[x.name]):
                del net.cells[x.name]


def _carried(net: Netlist, c: Cell) -> list[Cell]:
    """The pipeline registers carrying `c` to later stages (`c_p<b>`, each loading `c` or the one before)."""
    chain, names = [], {c.name}
    for x in net.cells.values():
        refs = list(x.expr.refs())
        if x.kind == "reg" and x.reset is None and len(refs) == 1 and refs[0].name in names and refs[0].hi is None:
            chain.append(x)
            names.add(x.name)
    return chain


def _replica_source(net: Netlist, x: Cell, held: set[str], stateful: bool) -> Expr | None:
    """What a copy of `x`'s register loads: a pipeline register's copy, its input; a fan-out cell, one bit
    of a pipeline register (that register's input's bit) or of a held signal; None otherwise (a bit of the
    scan's first stage)."""
    (read,) = x.expr.refs()
    if x.kind == "reg":
        return x.expr
    source = net.cells.get(read.name)
    if stateful and x.stage and (source is None or read.name in held or source.reset is not None):
        return Expr(read)
    if source is not None and source.kind == "reg" and source.reset is None and source.stage is not None and (
            source.stage == x.stage or (stateful and source.stage < x.stage)):
        (inner,) = source.expr.refs()
        if inner.hi is None:
            return Expr(Ref(inner.name, read.hi, read.lo))
    return None


def _groups(cells: list[Cell], bits: int) -> list[list[Cell]]:
    """`cells` in order, cut into runs of at most `bits` bits (a wider cell alone in its run)."""
    groups: list[list[Cell]] = [[]]
    for c in cells:
        if groups[-1] and sum(x.width for x in groups[-1]) + c.width > bits:
            groups.append([])
        groups[-1].append(c)
    return groups


def _held(net: Netlist, wires: list[Cell]) -> set[str]:
    """The wires that only rename or select bits of inputs, state or constants (or of such wires): in a
    stateful pipeline, inputs held for the scan, every stage reads them as they are."""
    held: set[str] = set()
    for c in wires:
        sources = [net.cells.get(r.name) for r in c.expr.refs()]
        if c.kind == "wire" and c.delay == WIRING and all(
                x is None or x.kind in ("reg", "localparam") or x.stage is None or x.name in held for x in sources):
            held.add(c.name)
    return held


# ---------------------------------------------------------------- lint waiver


def unused_bits(net: Netlist) -> set[str]:
    """Wires and registers with a bit no cell and no output reads, and constants no one reads (the linter
    is told it is on purpose: the upper sign copies of a value proven to fit, a divisor folded into the
    reciprocal's constants, an unused input)."""
    read: dict[str, set[int]] = {}
    exprs = [c.expr for c in net.cells.values()] + [e for _, e in net.outputs]
    for expr in exprs:
        for r in expr.refs():
            cell = net.cells.get(r.name)
            if cell is None:
                continue
            hi, lo = (cell.width - 1, 0) if r.hi is None else (r.hi, r.lo if r.lo is not None else r.hi)
            read.setdefault(r.name, set()).update(range(lo, hi + 1))
    return {c.name for c in net.cells.values()
            if (c.name not in read if c.kind == "localparam" else len(read.get(c.name, ())) < c.width)}


# ---------------------------------------------------------------- Verilog


def to_verilog(net: Netlist, primitives: bool = False) -> str:
    """The module: ports, constants, registers, wires (a lint waiver around those with unused bits), the
    registered DSP blocks, the registers' clocked updates, and the output assignments; after it, the blocks'
    module (a model for simulation, or with `primitives` the MULT18X18D for synthesis). With `primitives`,
    a register's replicas are TRELLIS_FF flip-flops, which Yosys keeps apart."""
    waived = unused_bits(net)
    cells = list(net.cells.values())

    flip_flops = [c for c in cells if c.replica] if primitives else []  # instantiated, so wires here
    instantiated = {c.name for c in flip_flops}

    def declare(c: Cell) -> list[str]:
        line = c.declaration().replace("    reg ", "    wire ", 1) if c.name in instantiated else c.declaration()
        return ["    /* verilator lint_off UNUSED */", line, "    /* verilator lint_on UNUSED */"] if c.name in waived \
            else [line]

    ports = [p.declaration() for p in net.ports]
    ports[-1] = ports[-1].replace(",  //", "   //", 1) if ",  //" in ports[-1] else ports[-1].rstrip(",")
    body = [line for kind in ("localparam", "reg", "wire", "dsp") for c in cells if c.kind == kind
            for line in declare(c)]
    blocks = [c for c in cells if c.kind == "dsp" and c.latency]
    body += [f"    {net.name}_mul18 {c.name}_i (.clk(clk), .a({a.text(a.name)}), .b({b.text(b.name)}), .p({c.name}));"
             for c in blocks for a, b in [tuple(c.expr.refs())]]
    body += [f"    TRELLIS_FF #({FF_PARAMETERS}) {c.name}_i{k} (.CLK(clk), .LSR(1'b0), .DI({d}), .Q({q}));"
             for c in flip_flops for k, d, q in _bits(c)]
    body += _clocked(c for c in cells if c.kind == "reg" and c.name not in instantiated)
    body += [f"    assign {port} = {expr.render()};" for port, expr in net.outputs]
    helper = ["/* verilator lint_off DECLFILENAME */", *(mul18_primitive if primitives else mul18_model)(
        f"{net.name}_mul18"), "/* verilator lint_on DECLFILENAME */"] if blocks else []  # a second module
    return "\n".join([*net.header, "`default_nettype none", f"module {net.name} (", *ports, ");", *body,
                      "endmodule", *helper, "`default_nettype wire", ""])


def _bits(c: Cell) -> list[tuple[str, str, str]]:
    """A replica register's flip-flops: (instance suffix, input, output) per bit; a copy of a whole held
    value (`_held_copies`) is one flip-flop a bit."""
    if c.width == 1:
        return [("", c.expr.render(), c.name)]
    (read,) = c.expr.refs()
    assert read.hi is None and c.expr.render() == read.name  # a copy of a whole signal
    return [(f"_{k}", Ref(read.name, k, k).text(read.name), f"{c.name}[{k}]") for k in range(c.width)]


# An ECP5 fabric flip-flop, clocked, always enabled, never reset (a pipeline register's copy for synthesis)
FF_PARAMETERS = '.GSR("DISABLED"), .CEMUX("1"), .CLKMUX("CLK"), .LSRMUX("LSR"), .REGSET("RESET")'


def mul18_model(name: str) -> list[str]:
    """The registered 18x18 signed multiplier as simulators run it: input registers, then the product into
    output registers (two clocks), as a MULT18X18D with REG_INPUTA/B and REG_OUTPUT on one clock."""
    return [f"module {name} (", "    input wire clk,", "    input wire signed [17:0] a,",
            "    input wire signed [17:0] b,", "    output wire signed [35:0] p", ");",
            "    reg signed [17:0] ra, rb;", "    reg signed [35:0] rp;", "    always @(posedge clk) begin",
            "        ra <= a;", "        rb <= b;", "        rp <= ra * rb;", "    end", "    assign p = rp;",
            "endmodule"]


def mul18_primitive(name: str) -> list[str]:
    """The same multiplier for synthesis: the ECP5 MULT18X18D block with its input and output registers on
    CLK0 (Yosys 0.23 does not pack fabric registers into the block, so it is instantiated)."""
    bus = lambda pin, n, sig: ", ".join(f".{pin}{k}({sig}[{k}])" for k in range(n))  # noqa: E731
    zero = lambda pins: ", ".join(f".{p}(1'b0)" for p in pins)  # noqa: E731
    return [f"module {name} (input wire clk, input wire signed [17:0] a, input wire signed [17:0] b,",
            "                 output wire signed [35:0] p);",
            '    MULT18X18D #(.REG_INPUTA_CLK("CLK0"), .REG_INPUTB_CLK("CLK0"), .REG_OUTPUT_CLK("CLK0"),',
            '                 .GSR("DISABLED")) block (',
            f"        {bus('A', 18, 'a')},", f"        {bus('B', 18, 'b')},",
            f"        {zero(f'C{k}' for k in range(18))},",
            "        .SIGNEDA(1'b1), .SIGNEDB(1'b1), .SOURCEA(1'b0), .SOURCEB(1'b0), .CLK0(clk), .CE0(1'b1),",
            f"        {zero(['CLK1', 'CLK2', 'CLK3', 'CE1', 'CE2', 'CE3', 'RST0', 'RST1', 'RST2', 'RST3'])},",
            f"        {bus('P', 36, 'p')});", "endmodule"]


def _clocked(regs: Iterator[Cell]) -> list[str]:
    """One always block per kind of register: reset and enabled (state), reset only (valid), neither (pipeline)."""
    groups: dict[tuple[bool, str], list[Cell]] = {}
    for c in regs:
        groups.setdefault((c.reset is not None, c.enable), []).append(c)
    lines = []
    for (has_reset, enable), group in groups.items():
        nxt = [f"            {c.name} <= {c.expr.render()};" + (f"  // {c.comment}" if c.comment else "")
               for c in group]
        lines.append("    always @(posedge clk) begin")
        if has_reset:
            lines += ["        if (rst) begin", *[f"            {c.name} <= {c.reset};" for c in group],
                      f"        end else{f' if ({enable})' if enable else ''} begin", *nxt, "        end"]
        else:
            lines += [line[4:] for line in nxt]
        lines.append("    end")
    return lines
