"""The requantization stage: accumulator sums to ofmap_bits outputs (the math is
workloads/methods/requant_ref.py's), and the table of per-channel parameters it reads.

- `Requantizer` (combinational), generated for a quantizer (workloads/quantizers.py):
  q = clamp(round_shift((acc + b) * M, s) + z, lo, hi), lo = z with `relu`; the bias adder and
  the zero-point adder exist only under asymmetric quantizers, the multiplier only without
  pow2 scales (the default quantizer's stage: clamp(round_shift(acc * M, s), lo, hi)).
  round_shift(v, s) is computed as ((v >> (s - 1)) + 1) >> 1 for s >= 1 (equal to
  (v + 2**(s-1)) >> s, as floor(floor(x / a) / b) = floor(x / ab)), so no 2**s-wide rounding
  constant is needed; s = 0 passes v.
- `ParamTable` (the first accelerator's, per_channel_symmetric only): fetches the parameters
  of one n-block of filters from DRAM (channels n0 ..
  n0 + n_size - 1 of the table at `requant_base`, program.REQUANT_PIECES byte elements per
  channel: multiplier bits 0-7, bits 8-15, shift) into a small memory, and serves channel
  `channel`'s entry combinationally to the writer. Per piece one read request (one per cycle at
  most, held until the DRAM takes it) tagged `param` with the channel as `word` and the piece
  as `lane`; the response is written where its tag says. `done` is high in the first cycle in
  which every request has been taken and every response has arrived (as the loader's).
"""

from __future__ import annotations

import numpy as np
from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from dlaforge.errors import SpecError
from dlaforge.program import REQUANT_PIECES
from dlaforge.workloads.methods.requant_ref import (BIAS_BITS, MULTIPLIER_BITS, SHIFT_BITS,
                                                    Requant)
from dlaforge.workloads.quantizers import DEFAULT_QUANTIZER, Quantizer

from .layouts import DesignParams, bits_for

PARAM_LAYOUT = data.StructLayout({"multiplier": unsigned(MULTIPLIER_BITS),
                                  "shift": unsigned(SHIFT_BITS)})


def param_layout(quantizer: Quantizer = DEFAULT_QUANTIZER) -> data.StructLayout:
    """The parameters the stage of `quantizer` reads for one channel."""
    fields = {} if quantizer.pow2 else {"multiplier": unsigned(MULTIPLIER_BITS)}
    fields["shift"] = unsigned(SHIFT_BITS)
    if not quantizer.symmetric:
        fields.update({"bias": signed(BIAS_BITS), "zero": signed(8)})
    return data.StructLayout(fields)


def _bytes(values: dict, pieces) -> np.ndarray:
    """The byte `pieces` (quantizers.Quantizer.head/entry names) of per-channel `values`,
    [channels, len(pieces)]."""
    columns = []
    for piece in pieces:
        if piece in ("m0", "m1"):
            columns.append(values["multiplier"] >> (8 * int(piece[1])))
        elif piece[0] == "b" and piece[1:].isdigit():
            columns.append(values["bias"] >> (8 * int(piece[1:])))
        else:
            columns.append(values[piece])
    return (np.stack(columns, axis=1).astype(np.int64) & 0xFF if columns
            else np.zeros((len(values["shift"]), 0), np.int64))


def param_table(requant: Requant, groups: int = 1) -> np.ndarray:
    """The DRAM elements of a layer's parameter table, signed bytes (the DRAM holds signed
    8-bit elements; the stage reads their bits): per group (its channels in order) the
    quantizer's head (per tensor: the scale part), then its entry per channel (quantizers.py).
    The default quantizer's: K x 3 bytes, multiplier bits 0-7, bits 8-15, shift."""
    q = requant.quantizer
    values = {"multiplier": requant.multiplier, "shift": requant.shift, "bias": requant.bias,
              "zero": np.full(requant.channels, requant.zero, np.int64)}
    K = requant.channels // groups
    parts = []
    for g in range(groups):
        mine = {k: v[g * K:(g + 1) * K] for k, v in values.items()}
        parts += [_bytes({k: v[:1] for k, v in mine.items()}, q.head).ravel(),
                  _bytes(mine, q.entry).ravel()]
    pieces = np.concatenate(parts)
    return np.where(pieces >= 128, pieces - 256, pieces)


def unpack_params(m: Module, param, head, entry, quantizer: Quantizer) -> None:
    """Drive the stage's `param` (param_layout) from the byte vectors `head` (the table's head)
    and `entry` (the channel's entry), laid out as quantizers.py says."""
    named = {}
    for value, pieces in ((head, quantizer.head), (entry, quantizer.entry)):
        for i, piece in enumerate(pieces):
            named[piece] = value[8 * i:8 * i + 8]
            if piece == "m0":       # the multiplier's two bytes, adjacent
                named["m"] = value[8 * i:8 * i + 16]
    if not quantizer.pow2:
        m.d.comb += param.multiplier.eq(named["m"])
    m.d.comb += param.shift.eq(named["shift"][:SHIFT_BITS])
    if not quantizer.symmetric:
        m.d.comb += [param.bias.eq(Cat(*(named[f"b{i}"] for i in range(BIAS_BITS // 8)))),
                     param.zero.eq(named["zero"])]


class Requantizer(wiring.Component):
    """`top`: the outputs are clamped to the `top` input (unsigned codes of a command's width,
    with the ReLU's floor 0: a datapath of activation codes) rather than the signed out_bits
    maximum; with `signed_top` also from below, to -top - 1 without the ReLU (signed codes of
    a command's width, top = 2**(bits-1) - 1)."""

    def __init__(self, acc_bits: int, out_bits: int, quantizer: Quantizer = DEFAULT_QUANTIZER,
                 top: bool = False, signed_top: bool = False):
        self.acc_bits, self.out_bits, self.quantizer = acc_bits, out_bits, quantizer
        assert top or not signed_top, "a signed clamp is to a `top`"
        self.clamps_to_top, self.signed_top = top, signed_top
        ports = {"acc": In(signed(acc_bits)), "param": In(param_layout(quantizer)),
                 "relu": In(1), "q": Out(signed(out_bits))}
        if top:
            ports["top"] = In(unsigned(out_bits - 1))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        q = self.quantizer
        value = self.acc
        if not q.symmetric:       # the folded input zero-point correction
            value = Signal(signed(max(self.acc_bits, BIAS_BITS) + 1))
            m.d.comb += value.eq(self.acc + self.param.bias)
        if q.pow2:
            product = value
        else:
            product = Signal(signed(len(value) + MULTIPLIER_BITS + 1))
            m.d.comb += product.eq(value * Cat(self.param.multiplier, Const(0, 1)).as_signed())
        shift, below = self.param.shift, Signal(SHIFT_BITS)
        rounded = Signal(signed(len(product)))
        m.d.comb += below.eq(shift - 1)
        with m.If(shift == 0):
            m.d.comb += rounded.eq(product)
        with m.Else():
            m.d.comb += rounded.eq(((product >> below) + 1) >> 1)
        hi = self.top if self.clamps_to_top else (1 << (self.out_bits - 1)) - 1
        lo = Mux(self.relu, 0, -1 - self.top if self.signed_top else -(1 << (self.out_bits - 1)))
        if not q.symmetric:       # the output zero point, and the ReLU's floor at it
            shifted = Signal(signed(len(rounded) + 1))
            m.d.comb += shifted.eq(rounded + self.param.zero)
            rounded = shifted
            lo = Mux(self.relu, self.param.zero, -(1 << (self.out_bits - 1)))
        m.d.comb += self.q.eq(Mux(rounded > hi, hi, Mux(rounded < lo, lo, rounded)))
        return m


def first_accelerator_refusal(quantizer: Quantizer) -> None:
    """SpecError unless the first accelerator's ParamTable can serve `quantizer` (it is built
    for the default only: slated for deletion, it is not generated per quantizer)."""
    if quantizer != DEFAULT_QUANTIZER:
        raise SpecError(f"the first accelerator requantizes per_channel_symmetric only, not "
                        f"{quantizer.name}; run the controller (--schedule rtl)")


class ParamTable(wiring.Component):
    def __init__(self, geo: DesignParams, quantizer: Quantizer = DEFAULT_QUANTIZER):
        first_accelerator_refusal(quantizer)
        self.geo = geo
        p = geo.params
        super().__init__({
            "requant_base": In(p.addr_bits), "start": In(1), "done": Out(1),
            "n0": In(p.addr_bits), "n_size": In(p.dim_bits),
            "req": Out(stream.Signature(geo.read_request_layout())),
            "resp": In(stream.Signature(geo.read_response_layout())),
            "channel": In(bits_for(geo.block_filters)), "param": Out(PARAM_LAYOUT),
        })

    def elaborate(self, platform):
        m = Module()
        geo, p = self.geo, self.geo.params
        m.submodules.table = table = memory.Memory(
            shape=data.ArrayLayout(8, REQUANT_PIECES), depth=geo.block_filters, init=[])
        write, read = table.write_port(granularity=1), table.read_port(domain="comb")
        m.d.comb += [read.addr.eq(self.channel),
                     self.param.multiplier.eq(Cat(read.data[0], read.data[1])),
                     self.param.shift.eq(read.data[2][:SHIFT_BITS])]

        tag = self.resp.payload.tag
        m.d.comb += [self.resp.ready.eq(1), write.addr.eq(tag.word),
                     write.en.eq(self.resp.valid.replicate(REQUANT_PIECES) & (1 << tag.lane))]
        m.d.comb += [write.data[j].eq(self.resp.payload.data[:8])
                     for j in range(REQUANT_PIECES)]

        channel, piece = Signal(p.dim_bits), Signal(bits_for(REQUANT_PIECES))
        addr, outstanding = Signal(p.addr_bits), Signal(p.dim_bits)
        sent = self.req.valid & self.req.ready
        m.d.sync += outstanding.eq(outstanding + sent - self.resp.valid)
        m.d.comb += [self.req.payload.addr.eq(addr), self.req.payload.tag.param.eq(1),
                     self.req.payload.tag.word.eq(channel), self.req.payload.tag.lane.eq(piece)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [channel.eq(0), piece.eq(0),
                                 addr.eq(self.requant_base + self.n0 * REQUANT_PIECES)]
                    m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += self.req.valid.eq(1)
                with m.If(sent):
                    m.d.sync += [addr.eq(addr + 1), piece.eq(piece + 1)]
                    with m.If(piece == REQUANT_PIECES - 1):
                        m.d.sync += [piece.eq(0), channel.eq(channel + 1)]
                        with m.If(channel + 1 == self.n_size):
                            m.next = "DRAIN"
            with m.State("DRAIN"):
                with m.If(outstanding == 0):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
        return m
