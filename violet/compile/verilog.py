"""Verilog from the IR: one module whose outputs equal the fixed-point model bit for bit.

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
with the `Builder`; this module builds the rest of the netlist around them
(ports, constants, state registers) and the helpers the rules share. The
netlist (`violet.compile.netlist`) is then pipelined and written as Verilog.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from violet.compile.fixed import MISSING, FixedModel, Fmt, LoweringError
from violet.compile.ir import IR, Op
from violet.compile.netlist import (DSP, DSP_LATENCY, IDENT, LUT, WIRING, Cell, Expr, Netlist, Port, Ref, carry, cut_pipeline,
                                   longest_path, shift_add, text, to_verilog)
from violet.compile.ops import Refusal, spec
from violet.compile.qformat import signed_digits


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


DSP_BITS = 18  # a MULT18X18D multiplies two 18-bit operands, each signed or unsigned
SMALL_CHUNK = 4  # a piece of an operand this narrow multiplies in logic (an adder row per bit), not in a DSP


@dataclass(frozen=True)
class Chunk:
    """Bits lo .. lo + bits - 1 of a product's operand; `top`: the piece holding the operand's sign."""

    lo: int
    bits: int
    top: bool


def chunks(width: int) -> list[Chunk]:
    """A signed operand of `width` bits cut for MULT18X18D blocks, from the top down: its top 18 bits
    (signed), then pieces of 17 bits read as 18-bit signed numbers with a zero on top (so every partial
    product is one signed 18x18 block), the lowest one the remainder."""
    top = min(width, DSP_BITS)
    out, lo = [Chunk(width - top, top, True)], width - top
    while lo > 0:
        n = min(DSP_BITS - 1, lo)
        lo -= n
        out.append(Chunk(lo, n, False))
    return out


def sum_plan(times: list[float], width: int, save: bool) -> tuple[list[tuple[int, ...]], float]:
    """How `Builder.sum` adds `width`-bit terms ready at `times`, earliest first, and when the sum is ready:
    each step reads two terms (an adder) or three (a carry-save cell, with `save`, when the third is ready
    within an adder's delay of the second) by index, and appends its one or two results to the terms."""
    ready = [(t, k) for k, t in enumerate(times)]
    heapq.heapify(ready)
    steps: list[tuple[int, ...]] = []
    made = len(ready)
    while len(ready) > 1:
        (t1, a), (t2, b) = heapq.heappop(ready), heapq.heappop(ready)
        if save and ready and ready[0][0] - t2 < carry(width) - LUT:
            t3, c = heapq.heappop(ready)
            steps.append((a, b, c))
            out = [max(t1, t2, t3) + LUT] * 2
        else:
            steps.append((a, b))
            out = [max(t1, t2) + carry(width)]
        for t in out:
            heapq.heappush(ready, (t, made))
            made += 1
    return steps, ready[0][0] if ready else 0.0


def lit(value: int, width: int) -> str:
    """A signed constant of explicit width (two's complement hex)."""
    return f"{width}'sh{value & ((1 << width) - 1):x}"


@dataclass
class Builder:
    """What the op rules build the netlist with: reads of op values (per asset inside a vector op), wires,
    constants, and the fit of an exact result into its format."""

    model: FixedModel
    net: Netlist
    counts: dict[str, int]
    element: int | None = None  # the asset being built, inside a vector op
    assets: int = 0  # N, the universe's size: vector ops are built once per asset
    op: int | None = None  # the IR op being built (its cells are tagged with it)
    registered: bool = False  # DSP blocks with their input and output registers (a pipelined module)
    products: dict[tuple, Expr] = field(default_factory=dict)  # each product built, by its operands

    def ref(self, i: int) -> Expr:
        """Op i's value (its element for the current asset, for a vector)."""
        vector = self.model.ir.ops[i].type.vector
        return Expr(Ref(f"v{i}_{self.element}" if vector and self.element is not None else f"v{i}"))

    def elem(self, i: int, j: int) -> Expr:
        """Element j of vector op i."""
        return Expr(Ref(f"v{i}_{j}"))

    def name(self, prefix: str, i: int) -> str:
        """A wire made for op i (per asset inside a vector op)."""
        return f"{prefix}{i}" if self.element is None else f"{prefix}{i}_{self.element}"

    def fmt(self, i: int) -> Fmt:
        return self.model.formats[i]

    def w(self, i: int) -> int:
        return self.fmt(i).width

    def ext(self, i: int, width: int) -> Expr:
        """v<i> sign-extended to exactly `width` bits, as a signed expression (never a bare concatenation)."""
        return self.resize(self.ref(i), self.w(i), width)

    def decl(self, name: str, width: int, expr: Expr | str, signed: bool = True, delay: float = LUT) -> Expr:
        """A wire of the op being built, `delay` LUT levels after what it reads; a read of it."""
        value = text(expr) if isinstance(expr, str) else expr
        return self.net.add(Cell(name, width, signed, value, delay=delay, op=self.op))

    def localparam(self, name: str, value: int, width: int) -> Expr:
        return self.net.add(Cell(name, width, True, text(lit(value, width)), kind="localparam", stage=None))

    def fit(self, op: Op, t: Expr, lo: int, hi: int, twidth: int) -> Expr:
        """v<id> from t: saturate only if the exact result range [lo, hi] can leave the format."""
        out = self.fmt(op.id)
        if (exact := self.model.exact_bounds(op.id)) is not None:  # what the arguments' values allow
            lo, hi = max(lo, exact[0]), min(hi, exact[1])
        result = self.name("v", op.id)
        if out.boolean:
            return self.decl(result, 1, t, signed=False, delay=WIRING)
        if lo >= out.lo and hi <= out.hi:  # dropped upper bits of t are sign copies: the range is proven
            return self.decl(result, out.width, self.resize(t, twidth, out.width), delay=WIRING)
        width = max(twidth, out.width)
        wide = self.resize(t, twidth, width)
        top = self.const(out.hi, width)
        bottom = self.const(out.lo, width)
        self.counts["saturations"] += 1
        above = self.decl(self.name("sh", op.id), 1, Expr(wide, " > ", top), signed=False, delay=carry(width))
        below = self.decl(self.name("sl", op.id), 1, Expr(wide, " < ", bottom), signed=False, delay=carry(width))
        return self.decl(result, out.width, Expr(above, " ? ", top.bits(out.width - 1, 0), " : ", below, " ? ",
                                                 bottom.bits(out.width - 1, 0), " : ", self.resize(t, twidth, out.width)))

    def product(self, prefix: str, a: Expr, wa: int, b: Expr, wb: int, width: int, signed: bool = True,
                addend: int | Expr = 0) -> Expr:
        """The exact product of two whole signals (both signed, or both unsigned), plus an `addend` (one more
        term of the tree: a constant, as a rounding's half ULP, or a `width`-bit signal), as a `width`-bit
        signal.

        Each operand is cut into pieces (`chunks`: 18 bits for the top, 17 below), every pair of pieces is
        its own partial product cell, one MULT18X18D block (or, with a piece of at most SMALL_CHUNK bits,
        an adder row per bit), and `sum` adds them shifted into place, each adder and carry-save cell its
        own cell: the pipelining can cut between a block and the adders, so one product does not set a
        stage's delay. The sums are taken modulo 2**width, exact since the product fits."""
        key = (a.ref().name, wa, b.ref().name, wb, width, signed, addend if isinstance(addend, int) else addend.render())
        if key in self.products:  # the same product again (blue_sizing's s * s in two nodes): its signal
            return self.decl(prefix, width, self.products[key], delay=WIRING)
        pieces = [self._pieces(f"{prefix}a", a, wa, signed), self._pieces(f"{prefix}b", b, wb, signed)]
        terms: list[tuple[Expr, int, int]] = []  # partial product, its width, its shift
        for x, cx, rx in pieces[0]:
            for y, cy, ry in pieces[1]:
                shift = cx.lo + cy.lo
                if shift >= width:
                    continue
                name = f"{prefix}_pp{cx.lo}_{cy.lo}"
                terms += [(t, w, shift + k) for t, w, k in self._partial(name, (x, cx, rx), (y, cy, ry))]
        level = [self._placed(t, w, shift, width) for t, w, shift in terms if shift < width]
        if isinstance(addend, Expr):
            level.append(addend)
        elif addend:
            level.append(self.const(addend, width))
        self.products[key] = self.decl(f"{prefix}", width, self.sum(prefix, level, width), delay=WIRING)
        return self.products[key]

    def constant_product(self, prefix: str, x: Expr, wx: int, c: int, width: int, addend: int = 0) -> Expr:
        """x * c + addend for a constant c, as a `width`-bit signal: x shifted by each signed digit of c
        (`signed_digits`), a negative digit's copy complemented (-y = ~y + 1: its 1 joins the addend), all
        summed as one tree (`sum`); a single positive digit and no addend is wiring."""
        terms: list[Expr] = []
        for sign, k in signed_digits(c):
            if k >= width:
                continue
            term = self._placed(x, wx, k, width)
            if sign < 0:
                term, addend = self.decl(f"{prefix}_n{k}", width, Expr("~", term), delay=WIRING), addend + 1
            terms.append(term)
        if addend % (1 << width) or not terms:
            terms.append(self.const(addend % (1 << width), width))
        return self.decl(prefix, width, self.sum(prefix, terms, width), delay=WIRING)

    def sum(self, prefix: str, terms: list[Expr], width: int) -> Expr:
        """The sum of `terms` (each exactly `width` bits) modulo 2**width, earliest terms first, so that a
        late one (a DSP block's product) meets as few adders as possible after it (`sum_plan`): the two
        earliest go through an adder, or, where that makes the sum ready at least a LUT level sooner, the
        three earliest through a carry-save cell (one LUT level, two terms out) when the third is not much
        later than the second: the partial products of one wide product, which adders alone would sum in
        several carry chains where one is enough. Carry-save cells cost two LUTs a bit, so they are used
        only where they shorten the path."""
        times = [self.net.arrival(t) for t in terms]
        steps, saved = sum_plan(times, width, True)
        plain = sum_plan(times, width, False)
        if saved > plain[1] - LUT:
            steps = plain[0]
        terms = list(terms)
        for step in steps:
            name = f"{prefix}_{'x' if len(step) == 3 else 's'}{len(terms)}"
            a, b, *rest = (terms[k] for k in step)
            if rest:
                c = rest[0]
                terms.append(self.decl(name, width, Expr(a, " ^ ", b, " ^ ", c), delay=LUT))
                terms.append(self.decl(f"{prefix}_y{len(terms) - 1}", width, Expr(
                    "((", a, " & ", b, ") | (", a, " & ", c, ") | (", b, " & ", c, ")) <<< 1"), delay=LUT))
            else:
                terms.append(self.decl(name, width, Expr(a, " + ", b), delay=carry(width)))
        return terms[-1]

    def long_division(self, prefix: str, num: Expr, nw: int, den: Expr, dw: int, bits: int
                      ) -> tuple[Expr, Expr, Expr | None]:
        """floor(num / den) and num mod den of an unsigned `nw`-bit numerator and a `dw`-bit divisor
        den > 0 (both unsigned wires), by restoring division in radix 4: two quotient bits a step, each step
        its own cells, so the pipelining cuts a divider like any other chain of adders.

        The partial remainder r stays in [0, den). A step takes 4r + the next two bits of num and subtracts
        den, 2 den and 3 den from it side by side (three carry chains, where radix 2 takes two in series; the
        multiples are made once, off the numerator's path), then keeps the result of the largest that is not
        negative: the two bits are how many of the three are not. An odd count of quotient bits starts with
        one radix-2 step.

        Only the quotient's low `bits` bits are computed (a caller saturating at its format needs no more):
        the remainder starts as num >> bits, and the third value is 1 when that is not below den (the
        quotient needs more bits), or None when it cannot be. A zero den gives a quotient of all ones; the
        caller chooses its own value for it."""
        steps = min(bits, nw)
        rem: Expr = Expr(f"{dw}'d0")
        overflow = None
        if steps < nw:
            top, cw = num.bits(nw - 1, steps), max(nw - steps, dw)
            wide = lambda e, n: e if n == cw else Expr(f"{{{cw - n}'d0, ", e, "}")  # noqa: E731
            overflow = self.decl(f"{prefix}_o", 1, Expr(wide(top, nw - steps), " >= ", wide(den, dw)), signed=False,
                                 delay=carry(cw))
            fit = num.bits(min(nw - 1, steps + dw - 1), steps)
            rem = self.decl(f"{prefix}_r{steps}", dw, Expr(f"{{{dw - min(nw - steps, dw)}'d0, ", fit, "}")
                            if nw - steps < dw else fit, signed=False, delay=WIRING)
        multiples = [Expr("{2'd0, ", den, "}"), Expr("{1'd0, ", den, ", 1'b0}")]  # den, 2 den, 3 den: dw + 2 bits
        multiples.append(self.decl(f"{prefix}_d3", dw + 2, Expr(multiples[0], " + ", multiples[1]), signed=False,
                                   delay=carry(dw + 2)))
        digits: list[Expr] = []
        j = steps - 1
        if steps % 2:  # one radix-2 step first
            rem, got = self._division_step(prefix, j, rem, [self._bit(prefix, num, j)], multiples[:1], dw)
            digits += got
            j -= 1
        while j > 0:
            bits_in = [self._bit(prefix, num, j), self._bit(prefix, num, j - 1)]
            rem, got = self._division_step(prefix, j, rem, bits_in, multiples, dw)
            digits += got
            j -= 2
        parts: list[str | Expr] = []
        for k, digit in enumerate(digits):
            parts += [", " if k else "", digit]
        quotient = self.decl(f"{prefix}_q", steps, Expr("{", *parts, "}"), signed=False, delay=WIRING)
        return quotient, rem, overflow

    def _division_step(self, prefix: str, j: int, rem: Expr, taken: list[Expr], multiples: list[Expr], dw: int
                       ) -> tuple[Expr, list[Expr]]:
        """One restoring step of radix 2**k, k the numerator bits `taken` (one or two): r' = r with them
        shifted in, less each multiple of den (`multiples`: den .. (2**k - 1) den, unsigned) side
        by side; the next remainder is the result of the largest that is not negative (else r'), and the k
        quotient bits count how many are not."""
        k = len(taken)
        w = dw + k
        shifted = self.decl(f"{prefix}_x{j}", w, Expr("{", rem, *(part for bit in taken for part in (", ", bit)), "}"),
                            signed=False, delay=WIRING)
        results = [self.decl(f"{prefix}_t{j}_{m + 1}", w + 1, Expr("{1'b0, ", shifted, "} - {", d, "}"),
                             signed=False, delay=carry(w + 1)) for m, d in enumerate(multiples)]
        kept = [self.decl(f"{prefix}_g{j}_{m + 1}", 1, Expr("~", t.bit(w)), signed=False, delay=WIRING)
                for m, t in enumerate(results)]
        choice = Expr(shifted.bits(dw - 1, 0))
        for g, t in zip(kept, results):
            choice = Expr(g, " ? ", t.bits(dw - 1, 0), " : ", choice)
        rem = self.decl(f"{prefix}_r{j - k + 1}", dw, choice, signed=False,
                        delay=k * LUT)  # a 2**k:1 multiplexer, its selects routed to every bit
        if k == 1:
            return rem, kept
        return rem, [kept[1], self.decl(f"{prefix}_g{j}_lo", 1, Expr(kept[2], " | (", kept[0], " & ~", kept[1], ")"),
                                        signed=False)]

    def _bit(self, prefix: str, num: Expr, j: int) -> Expr:
        """Bit j of a divider's numerator as its own signal: each step reads its own bits, so a pipeline
        carries bits to where they are read, not whole words."""
        return self.decl(f"{prefix}_n{j}", 1, num.bit(j), signed=False, delay=WIRING)

    def _pieces(self, prefix: str, x: Expr, width: int, signed: bool) -> list[tuple[Expr, Chunk, int]]:
        """The operand's pieces as signed wires (a piece, its chunk, its width): the top one as is (an
        unsigned operand's with a zero on top), the others with a zero on top."""
        out = []
        for c in chunks(width + (0 if signed else 1)):
            hi = min(c.lo + c.bits, width) - 1
            if c.top and signed:
                value, bits = Expr("$signed(", x.bits(hi, c.lo), ")"), c.bits
            else:
                bits = hi - c.lo + 2
                value = Expr("$signed({1'b0, ", x.bits(hi, c.lo), "})")
            out.append((self.decl(f"{prefix}{c.lo}", bits, value, delay=WIRING), c, bits))
        return out

    def _partial(self, name: str, x: tuple[Expr, Chunk, int], y: tuple[Expr, Chunk, int]
                 ) -> list[tuple[Expr, int, int]]:
        """One partial product of two signed pieces, as terms of the tree (each a signal, its width, its shift
        within the product): a DSP block (registered in a pipelined module); or, for a narrow piece, a row per
        bit (the other piece where the bit is set: a multiplexer, each its own cell), but for a narrow piece
        holding an operand's sign, whose rows are one cell (its sign bit's row subtracts)."""
        (px, cx, rx), (py, cy, ry) = x, y
        width = rx + ry
        if min(cx.bits, cy.bits) > SMALL_CHUNK:  # one MULT18X18D: its operands as 18 bits, its product 36
            a = self.decl(f"{name}a", DSP_BITS, self.resize(px, rx, DSP_BITS), delay=WIRING)
            b = self.decl(f"{name}b", DSP_BITS, self.resize(py, ry, DSP_BITS), delay=WIRING)
            block = Cell(name, 2 * DSP_BITS, True, Expr(a, " * ", b), kind="dsp", delay=DSP, op=self.op,
                         latency=DSP_LATENCY if self.registered else 0)
            return [(self.net.add(block), 2 * DSP_BITS, 0)]
        (rows, n, c), (other, m) = ((px, rx, cx), (py, ry)) if rx <= ry else ((py, ry, cy), (px, rx))
        if n > c.bits:  # a zero on top: each set bit adds the other piece, shifted
            zero = self.const(0, m)
            return [(self.decl(f"{name}r{k}", m, Expr(rows.bit(k), " ? ", other, " : ", zero)), m, k)
                    for k in range(c.bits)]
        wide, zero = self.resize(other, m, width), self.const(0, width)
        parts: list[str | Expr] = []
        for k in range(n):  # row k adds other * 2**k where bit k is set; the sign bit's row subtracts
            sign = " - " if k == n - 1 else " + " if k else ""
            parts += [sign, "((", rows.bit(k), " ? ", wide, " : ", zero, f") <<< {k})"]
        return [(self.decl(name, width, Expr(*parts), delay=shift_add(n, width)), width, 0)]

    def _placed(self, term: Expr, width: int, shift: int, to: int) -> Expr:
        """A partial product shifted left by `shift`, as exactly `to` bits (sign-extended)."""
        if not shift:
            return self.resize(term, width, to)
        return Expr("{", self.resize(term, width, to - shift), f", {shift}'b0}}")

    def missing_flag(self, i: int) -> Expr:
        """Op i's missing flag: its wire if it can hold a NaN constant, else a constant 0."""
        return Expr(Ref(f"m{i}")) if i in self.model.missing else text("1'b0")

    @staticmethod
    def resize(e: Expr, width: int, to: int) -> Expr:
        """A signed signal `e` of `width` bits as exactly `to` bits: sign-extended or its low bits
        (only where the value is proven to fit)."""
        if width == to:
            return e
        if width > to:
            return Expr("$signed(", e.bits(to - 1, 0), ")")
        return Expr(f"$signed({{{{{to - width}{{", e.bit(width - 1), "}}, ", e, "})")

    def emit(self, op: Op) -> None:
        """The op's cells, by its catalog rule: per asset for an elementwise op on vectors."""
        entry = spec(op.kind)
        rule = entry.verilog
        if isinstance(rule, Refusal):
            raise LoweringError(f"op '{op.kind}' cannot be lowered to Verilog: {rule.reason}", where=f"node '{op.node}'",
                                fix=op.render())
        self.op = op.id
        if not (entry.elementwise and op.type.vector):
            rule(self, op)
            return
        for k in range(self.assets):
            self.element = k
            rule(self, op)
        self.element = None

    def gather_index(self, idx: int, n: int) -> tuple[Expr, int]:
        """The index of a gather over n assets, sign-extended to a width holding both its own range and
        every asset number 0..n-1: compared at the index's own width, a constant j >= 2**(w-1) would
        wrap negative (3 at 2 bits is -1) and a negative index would pick an asset instead of the zero
        the IR defines outside [0, N)."""
        width = max(self.w(idx), n.bit_length() + 1)
        return self.ext(idx, width), width

    def const(self, value: int, width: int) -> Expr:
        """A named signed constant of exact width (declared once), for width-clean comparisons."""
        name = f"c{'m' if value < 0 else ''}{abs(value)}_w{width}"
        if name in self.net.cells:
            return Expr(Ref(name))
        return self.localparam(name, value, width)


def build_netlist(model: FixedModel, name: str, assets: int | None = None, pipeline: int = 0
                  ) -> tuple[Netlist, dict[str, int]]:
    """The module's netlist and a summary of what it holds.

    Vectors become `assets` wires (ports `in_<name>_<k>`); state fields become
    registers with a synchronous reset to their initial values, advanced on a
    clock edge when `en` is high; outputs are combinational from inputs and state.
    With `pipeline` = N > 0, the logic is cut on its accumulated delay into
    N + 1 segments with registers between them, and `in_valid` travels with the
    data to `out_valid` N clocks later; a stateful graph's registers are then
    written on `out_valid`'s clock edge (no `en`), one scan every N + 1 clocks."""
    ir = model.ir
    has_vectors = any(op.type.vector for op in ir.ops)
    if has_vectors and not assets:
        raise LoweringError(f"graph {ir.name} has vectors over the universe", where=ir.name,
                            fix="give the universe size: --assets N")
    header = [f"// Generated by VIOLET from graph {ir.name!r}, content hash {ir.content_hash[:16]}.",
              f"// Fixed point: {model.cfg.frac_bits} fractional bits; round half up; saturation where no range"
              " is proven."]
    net = Netlist(name, header)
    b = Builder(model, net, {"adders": 0, "multipliers": 0, "dividers": 0, "comparators": 0, "saturations": 0,
                             "registers": 0}, assets=assets or 0, registered=pipeline > 0)
    if ir.stateful:
        for port in ("clk", "rst", "en"):
            net.port(Port(port, 1, False))
    for op in ir.ops:
        b.op = op.id
        if op.kind == "input":
            _input(b, op)
        elif op.kind in ("param", "const"):
            _constant(b, op)
        elif op.kind == "state":
            for suffix in _suffixes(op, b.assets):
                fmt = model.formats[op.id]
                b.decl(f"v{op.id}{suffix}", fmt.width, Expr(Ref(f"s{op.id}{suffix}")), signed=not fmt.boolean,
                       delay=WIRING)
        else:
            b.emit(op)
    if ir.stateful:
        _registers(b)
    _outputs(b)
    net.path = longest_path(net)
    if pipeline:
        cut_pipeline(net, pipeline)
    b.counts["registers"] = net.registers()
    return net, b.counts


def path_report(ir: IR, net: Netlist) -> str:
    """The netlist's longest chain of logic by graph node, in order (consecutive cells of one node as one
    step, its ops' estimated delays beside it): which nodes a shorter latency has to shorten."""
    steps: list[tuple[str, dict[str, float]]] = []
    for c in net.path:
        op = ir.ops[c.op] if c.op is not None else None
        node, kind = (op.node or op.name or op.kind, op.kind) if op is not None else ("(outputs)", "wiring")
        if not steps or steps[-1][0] != node:
            steps.append((node, {}))
        kinds = steps[-1][1]
        kinds[kind] = kinds.get(kind, 0.0) + c.delay
    total = sum(c.delay for c in net.path)
    parts = [f"{node} {sum(kinds.values()):.0f} ("
             + ", ".join(f"{kind} {d:.0f}" for kind, d in kinds.items() if d >= 0.5) + ")"
             for node, kinds in steps if sum(kinds.values()) >= 0.5]
    return f"longest path about {total:.0f} LUT levels (estimated, before pipelining): " + " -> ".join(parts)


def emit_module(model: FixedModel, name: str, assets: int | None = None, pipeline: int = 0
                ) -> tuple[str, dict[str, int]]:
    """The Verilog module text (of `build_netlist`'s netlist) and its summary."""
    net, counts = build_netlist(model, name, assets, pipeline)
    return to_verilog(net), counts


def _input(b: Builder, op: Op) -> None:
    """An input's ports (one per asset for a vector) and the wires reading them."""
    fmt = b.model.formats[op.id]
    for suffix in _suffixes(op, b.assets):
        port = b.net.port(Port(f"in_{ident(op.name)}{suffix}", fmt.width, not fmt.boolean, comment=str(fmt)))
        b.decl(f"v{op.id}{suffix}", fmt.width, port, signed=not fmt.boolean, delay=WIRING)


def _constant(b: Builder, op: Op) -> None:
    """A parameter or constant: a named constant (a bool one a constant wire); a NaN one is 0 with its
    missing flag set."""
    fmt, value = b.model.formats[op.id], b.model.constant(op)
    if value is MISSING:
        b.net.add(Cell(f"m{op.id}", 1, False, text("1'b1"), stage=None, comment=f"{op.render()}: missing"))
        value = 0
    if fmt.boolean:
        b.net.add(Cell(f"v{op.id}", 1, False, text(f"1'b{value}"), stage=None))
    else:
        b.localparam(f"v{op.id}", value, fmt.width)


def _outputs(b: Builder) -> None:
    """An output port per output (a scalar), and its missing flag's port where it can be NaN."""
    ir, model = b.model.ir, b.model
    for out_name, i in ir.outputs:
        fmt = model.formats[i]
        if ir.ops[i].type.vector:
            raise LoweringError(f"output '{out_name}' is a vector", where=ir.name, fix="output one asset's value")
        port = f"out_{ident(out_name)}"
        b.net.port(Port(port, fmt.width, not fmt.boolean, output=True, comment=str(fmt)))
        b.net.outputs.append((port, b.ref(i)))
        if i in model.missing:
            b.net.port(Port(f"{port}_nan", 1, False, output=True, comment="1: missing (NaN), the value is 0"))
            b.net.outputs.append((f"{port}_nan", b.missing_flag(i)))


def _suffixes(op: Op, assets: int) -> list[str]:
    """The suffixes of a leaf's wires: one per asset (`_0`, `_1`, ...) for a vector, else none."""
    return [f"_{k}" for k in range(assets)] if op.type.vector else [""]


def _registers(b: Builder) -> None:
    """State registers (one per asset for a vector field): reset to the initial values, the next state
    on an enabled clock edge."""
    ir, model = b.model.ir, b.model
    init = model.initial_state(1)  # a vector field's registers all reset to the one value
    nexts = dict(ir.next_state)
    for op in ir.leaves("state"):
        fmt, nxt = model.formats[op.id], nexts[op.name]
        if model.formats[nxt].width > fmt.width:
            raise LoweringError(f"state '{op.name}' is narrower than its next value", where=ir.name)
        start = init[op.name][0] if op.type.vector else init[op.name]
        value = f"1'b{start}" if fmt.boolean else lit(start, fmt.width)
        for suffix in _suffixes(op, b.assets):
            wire = Expr(Ref(f"v{nxt}{suffix}"))
            nxt_ref = wire if fmt.boolean else b.resize(wire, model.formats[nxt].width, fmt.width)
            b.net.add(Cell(f"s{op.id}{suffix}", fmt.width, not fmt.boolean, nxt_ref, kind="reg", op=op.id,
                           reset=value, enable="en", comment=f"next {op.name}{suffix}"))
