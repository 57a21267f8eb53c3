"""The tile loops: `TileWalker` walks a command's tiles (n, k, c, p, q) in its loop order.

Five counters with programmable bounds, as Gemmini's loop unrollers: n counts images, k0, c0,
p0 and q0 step by kt, ct, pt and qt filters, channels, output rows and output columns up to K,
C, P and Q; the command's `order` (an index into program.LOOP_ORDERS, outermost first, the
column loop q directly inside p: program.nest_order) says which carries into which.
The walker shows the current tile (`tile`, a TILE layout): its starts and sizes (edge tiles
smaller), its ifmap rows [lo, lo + in_rows) (analytical.tile_rows, clipped to the image) and
columns [wlo, wlo + in_cols) (program.cols_read: the last column tile reaches W), and
the contract's reuse rule: load_ifmap when (n, c, p, q) changed from the previous tile,
load_weight when (k, c) did, readback when the output (n, k, p, q) did and the tile is not its
output's first channel tile (`c_first`: c0 = 0); `leaves` when the next tile's output differs
(or this is the last), `final` when c is the last channel tile. A command of slice passes (a
datapath's, Datapath.slice_bits) runs its channel loop once per pass, the passes counted with
it as one loop (a_slice, w_slice: c0 steps through the channels, then the next pass begins at
c0 = 0), so every pass loads its tiles again; `c_first` is then c0 = 0 in the first pass, and
`final` the last channel tile of the last pass.
Each operand's buffer-half bit flips on each load of it; the accumulator's when the output
changes. A loop with one trip never changes, so it never causes a load.

The accelerator keeps three walkers (load, compute, write-back), each a few tiles behind the
previous; `next` advances one tile, `restart` goes back to tile 0, `finished` rises after the
last.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.program import LOOP_ORDERS, nest_order

from .nest import clip, minimum


SLICE_FIELD_BITS = 4        # a command's slices per operand: 1 .. 15


def tile_layout(dim_bits: int) -> data.StructLayout:
    d, e = dim_bits, SLICE_FIELD_BITS
    return data.StructLayout({
        "n": d, "k0": d, "c0": d, "p0": d, "q0": d, "k_size": d, "c_size": d, "p_size": d,
        "q_size": d, "lo": d, "in_rows": d, "wlo": d, "in_cols": d,
        "a_slice": e, "w_slice": e,     # the slice pass (0 without slice passes)
        "half_i": 1, "half_w": 1, "half_a": 1,
        "load_ifmap": 1, "load_weight": 1, "readback": 1, "leaves": 1, "final": 1,
        "c_first": 1})                  # the output's first channel tile (and first pass)


class TileWalker(wiring.Component):
    """`slices`: the command's channel loop runs once per slice pass (its a_slices x
    w_slices pairs, the weight slice inner), the pass in the tile's a_slice and w_slice."""

    def __init__(self, command_layout, dim_bits: int, slices: bool = False):
        self.dim_bits, self.slices = dim_bits, slices
        super().__init__({"cmd": In(command_layout), "restart": In(1), "next": In(1),
                          "tile": Out(tile_layout(dim_bits)), "finished": Out(1)})

    def elaborate(self, platform):
        m = Module()
        cmd, t = self.cmd, self.tile
        db = self.dim_bits
        n, k0, c0, p0, q0 = (Signal(db, name=x) for x in ("n", "k0", "c0", "p0", "q0"))
        half_i, half_w, half_a = Signal(), Signal(), Signal()
        load_ifmap, load_weight = Signal(), Signal()
        a_slice, w_slice = Signal(SLICE_FIELD_BITS), Signal(SLICE_FIELD_BITS)
        channels_end = c0 + cmd.ct >= cmd.C          # the last channel tile (of the pass)
        last_pass = 1
        if self.slices:
            last_pass = (a_slice + 1 >= cmd.a_slices) & (w_slice + 1 >= cmd.w_slices)
        loops = {"n": (n, 1, n + 1 == cmd.N), "k": (k0, cmd.kt, k0 + cmd.kt >= cmd.K),
                 "c": (c0, cmd.ct, channels_end & last_pass),
                 "p": (p0, cmd.pt, p0 + cmd.pt >= cmd.P),
                 "q": (q0, cmd.qt, q0 + cmd.qt >= cmd.Q)}
        # carry[x]: the step reaches loop x (every loop inside it wraps), by the order
        carry = {x: Signal(name=f"carry_{x}") for x in "nkcpq"}
        wrapped = Signal()
        with m.Switch(cmd.order):
            for index, order in enumerate(LOOP_ORDERS):
                with m.Case(index):
                    reach = 1
                    for x in reversed(nest_order(order)):
                        m.d.comb += carry[x].eq(reach)
                        reach = reach & loops[x][2]
                    m.d.comb += wrapped.eq(reach)
        # a loop changes when the step reaches it, unless it wraps from 0 to 0 (one trip)
        changes = {x: carry[x] & (~last | (reg != 0)) for x, (reg, _, last) in loops.items()}
        c_first = c0 == 0
        if self.slices:     # the channel loop of several passes has more than one trip
            c_first = c_first & (a_slice == 0) & (w_slice == 0)
            changes["c"] = carry["c"] & (~loops["c"][2] | ~c_first)
        new_ifmap = changes["n"] | changes["c"] | changes["p"] | changes["q"]
        new_weight = changes["k"] | changes["c"]
        new_out = changes["n"] | changes["k"] | changes["p"] | changes["q"]

        new_o = Signal()                 # this tile's output differs from the previous tile's
        top = Signal(signed(2 * db + 2))
        bottom = Signal(signed(2 * db + 2))
        left = Signal(signed(2 * db + 2))
        right = Signal(signed(2 * db + 2))
        lo, hi, wlo, whi = Signal(db), Signal(db), Signal(db), Signal(db)
        m.d.comb += [
            t.k_size.eq(minimum(cmd.kt, cmd.K - k0)), t.c_size.eq(minimum(cmd.ct, cmd.C - c0)),
            t.p_size.eq(minimum(cmd.pt, cmd.P - p0)), t.q_size.eq(minimum(cmd.qt, cmd.Q - q0)),
            top.eq(p0 * cmd.stride - cmd.padding),
            bottom.eq((p0 + t.p_size - 1) * cmd.stride - cmd.padding + cmd.R),
            lo.eq(clip(top, 0, cmd.H)), hi.eq(clip(bottom, 0, cmd.H)),
            t.lo.eq(lo), t.in_rows.eq(hi - lo),
            # columns: the last column tile reaches the right edge (program.cols_read)
            left.eq(q0 * cmd.stride - cmd.padding),
            right.eq((q0 + t.q_size - 1) * cmd.stride - cmd.padding + cmd.S),
            wlo.eq(clip(left, 0, cmd.W)),
            whi.eq(Mux(loops["q"][2], cmd.W, clip(right, 0, cmd.W))),
            t.wlo.eq(wlo), t.in_cols.eq(Mux(whi > wlo, whi - wlo, 0)),
            t.readback.eq(new_o & ~c_first), t.final.eq(loops["c"][2]), t.c_first.eq(c_first),
            t.a_slice.eq(a_slice), t.w_slice.eq(w_slice),
            t.leaves.eq(new_out | wrapped),
            t.n.eq(n), t.k0.eq(k0), t.c0.eq(c0), t.p0.eq(p0), t.q0.eq(q0), t.half_i.eq(half_i),
            t.half_w.eq(half_w), t.half_a.eq(half_a), t.load_ifmap.eq(load_ifmap),
            t.load_weight.eq(load_weight),
        ]
        flags = (load_ifmap, load_weight, new_o)
        with m.If(self.restart):
            m.d.sync += [x.eq(0) for x in (n, k0, c0, p0, q0, half_i, half_w, half_a,
                                           a_slice, w_slice, self.finished)]
            m.d.sync += [flag.eq(1) for flag in flags]
        with m.Elif(self.next):
            with m.If(wrapped):
                m.d.sync += self.finished.eq(1)
            for x, (reg, step, last) in loops.items():
                with m.If(carry[x]):    # the channel tiles start again in the next pass
                    m.d.sync += reg.eq(Mux(channels_end if x == "c" else last, 0, reg + step))
            if self.slices:
                with m.If(carry["c"] & channels_end):       # the next pass, or the first
                    last_w = w_slice + 1 >= cmd.w_slices
                    m.d.sync += w_slice.eq(Mux(last_w, 0, w_slice + 1))
                    with m.If(last_w):
                        m.d.sync += a_slice.eq(Mux(a_slice + 1 >= cmd.a_slices, 0,
                                                   a_slice + 1))
            m.d.sync += [load_ifmap.eq(new_ifmap), load_weight.eq(new_weight),
                         new_o.eq(new_out), half_i.eq(half_i ^ new_ifmap),
                         half_w.eq(half_w ^ new_weight), half_a.eq(half_a ^ new_out)]
        return m


def raw_window_layout(dim_bits: int) -> data.StructLayout:
    """A Winograd-domain tile's raw window (`raw_window`)."""
    d, s = dim_bits, signed(2 * dim_bits + 2)
    return data.StructLayout({"top": s, "left": s, "lo": d, "in_rows": d, "wlo": d,
                              "in_cols": d})


def raw_window(m: Module, cmd, t, side: int, dim_bits: int):
    """The raw input window of a Winograd-domain tile `t` (a transforming design's,
    ControllerParams.transforms; `side` the output tile side m), a raw_window_layout signal:
    its p_size x q_size patches of side + 2 pixels at stride `side` start at raw row `top` =
    p0*side - raw_padding and column `left` = q0*side - raw_padding (negative: padding); the
    window the load stages is their rows [lo, lo + in_rows) and columns [wlo, wlo + in_cols),
    clipped to the raw image (raw_H x raw_W)."""
    db = dim_bits
    w = Signal(raw_window_layout(db), name="raw_window")
    bottom, right = Signal(signed(2 * db + 2)), Signal(signed(2 * db + 2))
    hi, whi = Signal(db), Signal(db)
    m.d.comb += [w.top.eq(t.p0 * side - cmd.raw_padding),
                 w.left.eq(t.q0 * side - cmd.raw_padding),
                 bottom.eq((t.p0 + t.p_size) * side - cmd.raw_padding + 2),
                 right.eq((t.q0 + t.q_size) * side - cmd.raw_padding + 2),
                 w.lo.eq(clip(w.top, 0, cmd.raw_H)), hi.eq(clip(bottom, 0, cmd.raw_H)),
                 w.wlo.eq(clip(w.left, 0, cmd.raw_W)), whi.eq(clip(right, 0, cmd.raw_W)),
                 w.in_rows.eq(Mux(hi > w.lo, hi - w.lo, 0)),
                 w.in_cols.eq(Mux(whi > w.wlo, whi - w.wlo, 0))]
    return w


def sum_pixel(cmd, t, p, q, plane=None, planes: int = 1):
    """The DRAM pixel index of output pixel (p, q) of tile `t` (from its first row and column)
    in a command's outputs and partial sums: (n*P + p0 + p)*Q + q0 + q; with `plane`, of that
    plane of a Winograd-domain command's spilled sums (`planes` = a² of them per image):
    ((n*planes + plane)*P + p0 + p)*Q + q0 + q."""
    image = t.n if plane is None else t.n * planes + plane
    return (image * cmd.P + t.p0 + p) * cmd.Q + t.q0 + q
