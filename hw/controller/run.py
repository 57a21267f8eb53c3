"""Runs of a ControllerJob: in Amaranth's simulator (`run_amaranth`), or on the generated
Verilog under cocotb (`run_cocotb`: Icarus by default, or Verilator; the testbench is
hw/controller/testbench.py). Both serve the DRAM port from hw/dram.py's model with the
contract's timing (a request of n elements of b bytes holds the channel
program.beat_gap(n, b, bandwidth) cycles, its data comes back max(1, latency) cycles later),
each command from reset with an idle channel, the commands of a layer one after another on one
DRAM image. free_run.py runs the same jobs free-running, much faster (the DRAM model in
Verilog too); `run_layer` and network.run_network take that path. `generate` writes the
Verilog and its port manifest."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from dlaforge.arch import ArchSpec
from dlaforge.errors import RunError, SpecError
from dlaforge.outputs import publish_files
from dlaforge.program import CONTROLLER_DATAFLOWS, COUNTERS, LOOP_ORDERS

from ..dram import DramModel
from ..layouts import GeneratorParams
from ..run_amaranth import serve_command
from ..run_cocotb import compile_verilog
from ..verilog import manifest
from .accelerator import ControllerAccelerator
from .stimulus import ControllerJob, ControllerResult, summed
from .layouts import ControllerParams

TOP = "dlaforge_controller"


def dram_of(job: ControllerJob, memory: np.ndarray) -> DramModel:
    dram = job.arch.dram
    return DramModel(memory, dram.bandwidth_bytes_per_cycle, dram.latency_cycles, (1, 1), 1)


def run_amaranth(job: ControllerJob, dut: ControllerAccelerator = None,
                 max_cycles: int = 10_000_000) -> ControllerResult:
    dut = dut or ControllerAccelerator(job.arch, getattr(job, "params", GeneratorParams()),
                                       datapath=getattr(job, "datapath", None))
    lane_bits = dut.geo.read_bits
    memory = job.dram_image()
    start = time.perf_counter()
    per_command = []
    for command in job.commands():
        dram = dram_of(job, memory)

        def read(ctx, t, dram=dram):
            p = dut.rd_req.payload
            dram.read_run(t, ctx.get(p.addr), ctx.get(p.count), ctx.get(p.bytes),
                          ctx.get(p.tag.as_value()), lane_bits)

        def write(ctx, t, dram=dram):
            p = dut.wr.payload
            values = [ctx.get(p.data[j]) for j in range(ctx.get(p.count))]
            dram.write_run(t, ctx.get(p.addr), values, ctx.get(p.bytes))

        per_command.append(serve_command(dut, command, dram, read, write, max_cycles,
                                         "the controller"))
    return ControllerResult(job.output_of(memory), summed(per_command),
                            sum(c for _, c in per_command), per_command,
                            time.perf_counter() - start)


# what each command field means (the manifest's "command" section; docs/controller.md)
COMMAND_FIELDS = {
    "N": "images in the command", "C": "input channels of one group",
    "H": "input rows (unpadded)", "W": "input columns (unpadded)",
    "K": "filters of one group", "R": "kernel rows", "S": "kernel columns",
    "P": "output rows", "Q": "output columns (windows may hang past the edge: zeros)",
    "stride": "the window's stride (rows and columns)",
    "padding": "zero padding on every side",
    "Ct": "channels of the whole layer: the ifmap's DRAM pitch",
    "Kt": "filters of the whole layer: the weights', outputs' and partial sums' DRAM pitch",
    "kt": "filters per tile", "ct": "channels per tile", "pt": "output rows per tile",
    "qt": "output columns per tile",
    "order": "the tile loops' order: an index into loop_orders (outermost first)",
    "ifmap_base": ("DRAM element address of this group's first ifmap channel (with pack_in: "
                   "of the byte holding it)"),
    "weight_base": "DRAM element address of this group's first filter",
    "ofmap_base": ("DRAM element address of this group's first output channel (with "
                   "pack_out: of the byte holding it)"),
    "psum_base": "DRAM element address of this group's partial-sum spill region",
    "requant_base": "DRAM element address of this group's requantization parameters",
    "requant": "1: requantize the outputs to ofmap_bits; 0: write the psum_bits sums",
    "relu": "1: ReLU after requantization",
    "dataflow": "the fold sequencer: an index into dataflow_codes (its value)",
    "pad": ("asymmetric quantizers only: the value of every tap outside the image (the layer's "
            "input zero point z_x, an ifmap element in two's complement): real-zero padding"),
    "mode": ("dual-PE designs only (a method's datapath with a MAC mode): the PE operation, an "
             "index into pe_modes (the method's operation, or mac for its int8 layers)"),
    "a_slices": ("slice-pass designs only: the ifmap's unsigned codes as this many "
                 "slice_bits-bit slices (1: one pass; mode 0 takes 1)"),
    "w_slices": ("slice-pass designs only: the weights' unsigned codes as this many slices; "
                 "the command runs a_slices x w_slices passes of its channel loop, pass (i, j) "
                 "reading slice i (j) of every ifmap (weight) element, bits slice_bits*i up, "
                 "its sums shifted left by slice_bits*(i + j); ct must divide C"),
    "out_codes": ("activation-code designs only: the requantized outputs are codes of this "
                  "many bits, the width the next layer reads: unsigned (0 .. 2**out_codes - 1, "
                  "relu must be 1) or, on a design of signed codes, two's complement "
                  "(-2**(out_codes-1) .. 2**(out_codes-1) - 1, relu as given)"),
    "pack_in": ("code-packing designs only: 1: the ifmap region holds the codes packed "
                "(mode 0; see dram_layouts)"),
    "pack_out": ("code-packing designs only: 1: the requantized outputs are written packed "
                 "(out_codes must be the datapath's codes; kt a multiple of the codes a byte "
                 "holds, or K)"),
    "kmap_base": ("scale-map designs only (XNOR's): the N x P x Q map of unsigned K_q "
                  "(scale_map_bits, 2-byte elements) a mode-0 command without `binarize` "
                  "reads; each requantized mode-0 output is (2*sum - taps*tap_bias) * K_q"),
    "tap_bias": ("scale-map designs only: what each of a pixel's in-image taps adds to 2 x its "
                 "popcount sum beyond the signs' dot product (2*C*64 - the layer's channels)"),
    "binarize": ("binarizing designs only: 1: the ifmap region holds int8 activations of "
                 "`signs` channels (Ct their pitch), packed into sign words on the load, K_q "
                 "formed on chip from their magnitudes"),
    "signs": "binarizing designs only: the layer's channels per group (int8 activations)",
    "recip": ("binarizing designs with a scale map: K_q = min((sum of |x| over the window's "
              "in-image taps and channels) * recip >> k_shift, 2**scale_map_bits - 1)"),
    "k_shift": "binarizing designs with a scale map: the shift of K_q's fixed point (recip)",
    "raw_H": ("Winograd designs only: a Winograd-domain command's (mode 0) layer: its ifmap "
              "height (H, W, R, S, P, Q, stride and padding describe the tap GEMMs: P x Q "
              "output tiles of m x m, R = S = stride = a, H = P*a, W = Q*a, padding 0)"),
    "raw_W": "Winograd designs only: the layer's ifmap width (see raw_H)",
    "raw_P": "Winograd designs only: the layer's output height (see raw_H)",
    "raw_Q": "Winograd designs only: the layer's output width (see raw_H)",
    "raw_padding": "Winograd designs only: the layer's zero padding (see raw_H)",
    "v_shift": ("Winograd designs only: per tap (r*a + s) the input transform's rounding right "
                "shift of V (the tap-wise scales)"),
    "align": ("Winograd designs only: per tap the left shift aligning its sums before the "
              "output transform"),
}
DRAM_LAYOUTS = {
    "ifmap": "N x H x W x Ct, channels innermost (NHWC), ifmap_bits elements",
    "weight": "R x S x C x Kt, filters innermost (RSCK), weight_bits elements",
    "requant": ("the quantizer's table (parameters.quantizer; workloads/quantizers.py): a head "
                "(per-tensor scale part) then an entry per output channel; per_channel_symmetric: "
                "3 elements per channel, multiplier bits 0-7, bits 8-15, shift (0-63)"),
    "ofmap": "N x P x Q x Kt at ofmap_bits (requantized) or psum_bits: the next layer's ifmap",
    "psum": "N x P x Q x Kt at psum_bits (partial sums spilled and read back)",
}


def buildable(arch: ArchSpec, params: GeneratorParams = GeneratorParams(),
              datapath=None) -> ControllerParams:
    """The controller's geometry for `arch` (with `datapath`'s PEs; None: the MAC array), or
    SpecError if it cannot be built (call it before constructing a ControllerAccelerator:
    Amaranth warns about an elaboratable whose constructor failed)."""
    pe = arch.pe_array
    if not any(d in CONTROLLER_DATAFLOWS for d in pe.dataflows):
        raise SpecError(f"arch {arch.name!r} has no dataflow the RTL builds (the controller "
                        f"runs {', '.join(CONTROLLER_DATAFLOWS)}; it has "
                        f"{', '.join(pe.dataflows)})")
    return ControllerParams.of(arch, params, datapath)


def controller_manifest(dut: ControllerAccelerator, arch: ArchSpec, top: str = TOP) -> dict:
    """hw/verilog.manifest's ports and parameters, plus the command interface: what each
    command field means, the loop orders and dataflow codes, the DRAM layouts, the counters,
    and the DRAM beats."""
    info = manifest(dut, arch)
    geo = dut.geo
    info["top"] = top
    info["parameters"]["beat_elements"] = {k: getattr(geo.beats, k) for k in
                                           ("ifmap", "weight", "psum", "param", "ofmap")}
    info["parameters"]["read_lane_bits"] = geo.read_bits
    info["parameters"]["quantizer"] = geo.quantizer.name
    info["parameters"]["dram_bandwidth_bytes_per_cycle"] = arch.dram.bandwidth_bytes_per_cycle
    if not geo.datapath.is_baseline:    # a method's PEs (workloads/methods/datapath.py)
        info["parameters"]["datapath"] = {"family": geo.datapath.family,
                                          "pe_ops": list(geo.datapath.pe_ops)}
    layouts = dict(DRAM_LAYOUTS)
    d = geo.datapath
    if d.unsigned_codes:    # unsigned activation codes in, the next layer's codes out
        info["parameters"]["datapath"].update(codes=d.codes)
        layouts["ifmap"] += (f"; unsigned codes (0 .. {(1 << d.codes) - 1} in mode 0; a slice "
                             f"pass's wider codes in the MAC mode)")
        layouts["ofmap"] += ("; requantized: unsigned codes of the command's out_codes bits "
                             "(relu must be 1)")
    elif d.codes:           # signed values, sign-extended into the lanes
        info["parameters"]["datapath"].update(codes=d.codes, signed_codes=True)
        half = 1 << d.codes - 1
        layouts["ifmap"] += (f"; signed values (two's complement, {-half} .. {half - 1} in "
                             f"mode 0, sign-extended into the lanes; int8 in the MAC mode)")
        layouts["ofmap"] += ("; requantized: two's complement values of the command's "
                             "out_codes bits")
    if geo.packs_codes:     # activation codes packed, pack_in and pack_out
        info["parameters"]["datapath"].update(packed_codes=True)
        packed = (f"packed ({8 // d.codes} codes a byte): each pixel's row of the layer's "
                  f"codes (Ct or Kt) ceil(codes*{d.codes}/8) bytes, code c at bit c*{d.codes} "
                  f"mod 8 of byte c*{d.codes} // 8 (least significant bit first); the base "
                  f"field in bytes, a group's first code on a byte")
        layouts["ifmap"] += f"; a command with pack_in: {packed}"
        layouts["ofmap"] += f"; a command with pack_out: {packed}"
    if d.slice_bits:
        info["parameters"]["datapath"].update(slice_bits=d.slice_bits)
    if geo.packs:       # the datapath's own operation reads its weights packed
        info["parameters"]["datapath"].update(weight_bits=d.weight_bits,
                                              weight_levels=list(d.weight_levels))
        layouts["weight"] += (
            f"; a command of mode 0 ({d.pe_op}): packed, {d.weight_bits} bit(s) per weight, "
            f"code c standing for weight_levels[c]: per group a region at weight_base (bytes) "
            f"of R x S x C rows of the group's K filters, each row ceil(K*{d.weight_bits}/8) "
            f"bytes, filter k at bit k*{d.weight_bits} mod 8 of byte k*{d.weight_bits} // 8 "
            f"(least significant bit first); Kt is not used for them")
    if d.operand_bits is not None:      # operands of their own width: XNOR's sign words
        info["parameters"]["datapath"].update(operand_bits=geo.ifmap_bits,
                                              valid_lanes=d.valid_lanes, mac_bits=d.mac_bits)
        words = (f"mode 0 ({d.pe_op}): {geo.ifmap_bits}-bit words of signs along channels (bit "
                 f"c of word w: channel {geo.ifmap_bits}*w + c, 1 for a sign of +1, the last "
                 f"word's unused bits 0); the MAC mode: {d.mac_bits}-bit elements")
        layouts["ifmap"] += (f"; {words}; a binarizing command (`binarize`): the layer's int8 "
                             f"activations, packed on the load")
        layouts["weight"] += f"; {words}"
    if geo.transforms:      # Winograd-domain commands (mode 0): the layer raw, the taps' GEMMs
        v = d.tap_transform
        info["parameters"]["datapath"].update(tap_transform={"m": v.m, "a": v.a})
        mode0 = f"a Winograd-domain command (mode 0, {v.m}x{v.m} output tiles, a = {v.a})"
        layouts["ifmap"] += f"; {mode0}: the layer's N x raw_H x raw_W x Ct"
        layouts["weight"] += (f"; {mode0}: the transformed weights U, {v.a} x {v.a} x C x Kt "
                              f"(R = S = {v.a})")
        layouts["ofmap"] += f"; {mode0}: the layer's N x raw_P x raw_Q x Kt"
        layouts["psum"] += (f"; {mode0}: a plane per tap, N x {v.a * v.a} x P x Q x Kt (P x Q "
                            f"its tiles; plane t = r*{v.a} + s)")
    if geo.scales:
        info["parameters"]["datapath"].update(scale_map_bits=d.scale_map_bits)
        layouts["kmap"] = ("N x P x Q unsigned K_q at kmap_base, read by a mode-0 command "
                           "without `binarize` (see the kmap_base field)")
    fields = geo.command_layout()
    info["command"] = {
        "port": "cmd__payload (a stream, taken while busy is low; one command per group)",
        "fields": {name: COMMAND_FIELDS.get(name, "see docs/controller.md")
                   for name, _ in fields},
        "loop_orders": list(LOOP_ORDERS),
        **({"pe_modes": list(geo.datapath.pe_ops)} if geo.datapath.mac_mode else {}),
        "dram_layouts": layouts,
        "dram_port": ("rd_req: addr, count elements of `bytes` each (at most one beat, inside "
                      "one buffer word), tag; rd_resp returns the elements in lanes with the "
                      "request's tag; wr: addr, count, bytes, data lanes (psum_bits, signed)"),
    }
    info["counters"] = list(COUNTERS)
    return info


def generate(arch: ArchSpec, out_dir: Path, top: str = TOP, datapath=None) -> tuple[Path, Path]:
    """Write `<top>.v` and `<top>.json` (controller_manifest) of the controller with
    `datapath`'s PEs (None: the MAC array) into `out_dir`, created if its parent exists, once
    the design is built; the files appear only complete."""
    buildable(arch, datapath=datapath)
    dut = ControllerAccelerator(arch, datapath=datapath)
    text = verilog.convert(dut, name=top)
    info = controller_manifest(dut, arch, top)
    return publish_files(out_dir, {f"{top}.v": text, f"{top}.json": json.dumps(info, indent=1)})


def run_cocotb(jobs: list[ControllerJob], build_dir: Path, sim: str = "icarus",
               runner=None) -> list[ControllerResult]:
    """Run `jobs` (all on one arch) in one simulator process."""
    build_dir.mkdir(parents=True, exist_ok=True)
    if runner is None:
        verilog_path, _ = generate(jobs[0].arch, build_dir, datapath=jobs[0].datapath)
        runner = compile_verilog(verilog_path, TOP, build_dir, sim)
    job_file, result_file = build_dir / "jobs.json", build_dir / "results.json"
    result_file.unlink(missing_ok=True)
    geo = jobs[0].geo
    specs = [{"commands": job.commands(), "memory": job.dram_image().tolist(),
              "bandwidth": job.arch.dram.bandwidth_bytes_per_cycle,
              "latency": job.arch.dram.latency_cycles, "lane_bits": geo.read_bits,
              "write_bits": geo.psum_bits} for job in jobs]
    job_file.write_text(json.dumps({"manifest": str(build_dir / f"{TOP}.json"),
                                    "result": str(result_file), "jobs": specs}))
    start = time.perf_counter()
    runner.test(test_module="dlaforge.hw.controller.testbench", hdl_toplevel=TOP,
                build_dir=build_dir, test_dir=build_dir,
                extra_env={"DLAFORGE_JOBS": str(job_file)}, log_file=build_dir / "test.log")
    wall = time.perf_counter() - start
    if not result_file.exists():
        raise RunError(f"the cocotb testbench wrote no result (see {build_dir / 'test.log'})")
    results = []
    for job, out in zip(jobs, json.loads(result_file.read_text())):
        per_command = list(zip(out["perf"], out["cycles"]))
        memory = np.array(out["memory"], dtype=np.int64)
        results.append(ControllerResult(job.output_of(memory), summed(per_command),
                                        sum(out["cycles"]), per_command, wall / len(jobs)))
    return results


def cell_stats(arch: ArchSpec) -> dict:
    """The controller accelerator's cells after hw/verilog.cell_stats' reduced Yosys flow."""
    from ..verilog import cell_stats as yosys_cells
    return yosys_cells(ControllerAccelerator(arch), TOP)


def run_layer(arch: ArchSpec, shape, mapping, groups: int = 1, requant: bool = False,
              relu: bool = False, sim: str = "amaranth", seed: int = 0,
              build_dir: Path | None = None, dataflow: str = "ws") -> ControllerResult:
    """One layer (one group's program.Shape, `groups` of them) under `mapping` and `dataflow`
    on random operands, in Amaranth's simulator or free-running on Icarus/Verilator
    (free_run.run_free; `build_dir` its working folder, a temporary one by default); RunError
    unless its outputs equal the reference. The counters are summed over the group
    commands."""
    from .free_run import run_free

    job = ControllerJob.random(arch, shape, mapping, np.random.default_rng(seed), groups=groups,
                               requant=requant, relu=relu, dataflow=dataflow)
    if sim == "amaranth":
        result = run_amaranth(job)
    else:
        result, = run_free([job], build_dir, sim)
    if not np.array_equal(result.output, job.expected()):
        raise RunError(f"the controller's outputs differ from the reference on {shape}")
    return result
