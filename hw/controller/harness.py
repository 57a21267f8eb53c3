"""A free-running Verilog testbench for the controller: its DRAM model in the simulator.

`harness_verilog(ports, depth_bits, ring_bits)` writes the top module `dlaforge_harness` (one
input, `clk`) that instantiates the generated `dlaforge_controller` and serves its DRAM port
from a behavioural memory, so no Python runs while the design simulates. It reads its work from
files in the simulator's working folder and writes its results there (the formats below); Icarus
runs it under `dlaforge_harness_clock` (a clock generator, CLOCK_VERILOG), Verilator under a
small C++ main (VERILATOR_MAIN) that toggles `clk` until `$finish`.

The DRAM is hw/dram.py's DramModel.read_run / write_run, as run.py's runners step it
(hw/run_amaranth.serve_command, hw/cocotb_tb.serve_command), cycle for cycle:
- one channel for reads and writes; at cycle t it offers `ready` = (t >= free). A read taken
  at t sets free = t + gap(count, bytes) and its data (element i of the run in lane i, the low
  lane bits of the element; lanes past `count` zero) comes back with the request's tag at cycle
  t + latency (latency = max(1, the spec's)): a ring of `2**ring_bits` slots indexed by the due
  cycle holds it, since at most one read is taken per cycle. A write taken at t sets free =
  t + gap and stores its `count` lanes (signed, sign-extended to the element width) at once.
  When both are taken in one cycle the read is served first and the write's gap counts, as in
  the Python testbenches. `gap` is a table the host computes with program.beat_gap for every
  (bytes, count) the ports can carry, so fractional bandwidths round exactly as there.
- per command: one clock edge with `rst` high, one with the command offered (`cmd.valid`,
  taken at that edge: cycle 0 is the cycle after it), then cycles 0, 1, ... while `busy`,
  with a fresh channel (free = 0, nothing in flight); the command's cycles are the number of
  cycles `busy` was high (the testbenches' count) and its counters are `perf` when `busy` has
  fallen. The DUT's inputs change only at clock edges (non-blocking assignments), so each
  cycle's handshake is the one the Python testbenches see at their falling edge.
- memory elements are `element_bits` = the read lanes' width (program elements of every region
  fit it); the image is loaded per job with $readmemh and the final image dumped with
  $writememh.

Files (in the working folder):
- `jobs.txt`: `n_jobs max_cycles`, then per job `words latency n_commands`, the gap table
  (GAP_ENTRIES(ports) decimal numbers, entry (bytes << count_bits) | count), and one hex
  command payload per command;
- `mem<j>.hex`: job j's DRAM image, `words` hex elements (two's complement);
- out: `results.txt`, per command `cycles perf_hex` (a line `timeout <cycle>` ends the run when
  a command runs past max_cycles), and `out<j>.hex`, the final image ($writememh: `//`
  lines are comments).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlaforge.program import beat_gap

TOP = "dlaforge_harness"
CLOCK_TOP = "dlaforge_harness_clock"
DESIGN_TOP = "dlaforge_controller"      # hw/controller/run.TOP

CLOCK_VERILOG = f"""\
// Icarus' top: a free-running clock around the harness.
module {CLOCK_TOP};
  reg clk = 1'b0;
  always #5 clk = ~clk;
  {TOP} harness (.clk(clk));
endmodule
"""

VERILATOR_MAIN = f"""\
// Verilator's main: toggle the harness' clock until it calls $finish.
#include <memory>
#include "verilated.h"
#include "V{TOP}.h"

int main(int argc, char** argv) {{
    const std::unique_ptr<VerilatedContext> context{{new VerilatedContext}};
    context->commandArgs(argc, argv);
    const std::unique_ptr<V{TOP}> top{{new V{TOP}{{context.get()}}}};
    top->clk = 0;
    top->eval();
    while (!context->gotFinish()) {{
        context->timeInc(5);
        top->clk = 1;
        top->eval();
        context->timeInc(5);
        top->clk = 0;
        top->eval();
    }}
    top->final();
    return 0;
}}
"""


def _span(fields: dict, prefix: str) -> tuple[int, int]:
    """(offset, width) of the fields named `prefix...` taken together (a nested struct)."""
    parts = [f for name, f in fields.items() if name == prefix or name.startswith(prefix + ".")]
    low = min(f["offset"] for f in parts)
    return low, max(f["offset"] + f["width"] for f in parts) - low


@dataclass(frozen=True)
class Ports:
    """The widths and field places the harness needs, from the design's manifest
    (hw/verilog.manifest) and its geometry."""

    fields: dict            # port name -> {field: {"offset", "width"}}, as the manifest's
    widths: dict            # port name -> width
    read_lanes: int         # lanes of a read response
    lane_bits: int          # bits per read lane (= the DRAM element width)
    write_lanes: int
    write_bits: int         # bits per write lane (psum_bits, signed)

    @staticmethod
    def of(manifest: dict) -> Ports:
        par = manifest["parameters"]
        ports = manifest["ports"]
        fields = {p["name"]: p.get("fields", {}) for p in ports}
        widths = {p["name"]: p["width"] for p in ports}
        lane_bits = par["read_lane_bits"]
        read_lanes = fields["rd_resp__payload"]["data"]["width"] // lane_bits
        write_bits = par["psum_bits"]
        write_lanes = fields["wr__payload"]["data"]["width"] // write_bits
        return Ports(fields, widths, read_lanes, lane_bits, write_lanes, write_bits)

    @property
    def count_bits(self) -> int:
        return max(self.fields[p]["count"]["width"] for p in ("rd_req__payload", "wr__payload"))

    @property
    def bytes_bits(self) -> int:
        return max(self.fields[p]["bytes"]["width"] for p in ("rd_req__payload", "wr__payload"))

    @property
    def gap_entries(self) -> int:
        return 1 << (self.bytes_bits + self.count_bits)

    def gap_table(self, bandwidth: float) -> np.ndarray:
        """Cycles a request of (bytes, count) holds the channel, at index
        (bytes << count_bits) | count."""
        index = np.arange(self.gap_entries)
        return beat_gap(index & ((1 << self.count_bits) - 1), index >> self.count_bits,
                        bandwidth)

    def perf(self, word: int) -> dict:
        """The counters in a `perf` port value."""
        return {name: (word >> f["offset"]) & ((1 << f["width"]) - 1)
                for name, f in self.fields["perf"].items()}


def harness_verilog(ports: Ports, depth_bits: int, ring_bits: int) -> str:
    """The harness module (see the module doc) for a design with `ports`, a DRAM of
    2**depth_bits elements and a response ring of 2**ring_bits slots (more than the latency)."""
    f, w = ports.fields, ports.widths
    req, wr, resp = f["rd_req__payload"], f["wr__payload"], f["rd_resp__payload"]
    req_tag, tag_bits = _span(req, "tag")
    resp_tag, resp_tag_bits = _span(resp, "tag")
    assert tag_bits == resp_tag_bits, "the response returns the request's tag"
    lb, wb, cb = ports.lane_bits, ports.write_bits, ports.count_bits

    def field(port: str, fields: dict, name: str) -> str:
        return f"{port}[{fields[name]['offset']} +: {fields[name]['width']}]"

    return f"""\
// The controller's free-running testbench: generated by dlaforge.hw.controller.harness,
// whose module doc says what it does and the files it reads and writes.
module {TOP} (input wire clk);
  localparam EW = {lb};                       // DRAM element bits (= read lane bits)
  localparam DEPTH = {1 << depth_bits};
  localparam RING = {1 << ring_bits};         // response slots, by due cycle
  localparam GAPS = {ports.gap_entries};
  localparam RL = {ports.read_lanes}, WL = {ports.write_lanes}, WB = {wb};
  localparam CB = {cb};                       // gap table: index (bytes << CB) | count

  // the controller and its ports; inputs change only at clock edges
  reg rst = 1'b0, cmd_valid = 1'b0, rd_ready = 1'b0, wr_ready = 1'b0, resp_valid = 1'b0;
  reg [{w['cmd__payload'] - 1}:0] cmd_payload = 0;
  reg [{w['rd_resp__payload'] - 1}:0] resp_payload = 0;
  wire cmd_ready, busy, rd_valid, resp_ready, wr_valid;
  wire [{w['rd_req__payload'] - 1}:0] rd_payload;
  wire [{w['wr__payload'] - 1}:0] wr_payload;
  wire [{w['perf'] - 1}:0] perf;
  {DESIGN_TOP} dut (
    .clk(clk), .rst(rst), .busy(busy), .perf(perf),
    .cmd__valid(cmd_valid), .cmd__ready(cmd_ready), .cmd__payload(cmd_payload),
    .rd_req__valid(rd_valid), .rd_req__ready(rd_ready), .rd_req__payload(rd_payload),
    .rd_resp__valid(resp_valid), .rd_resp__ready(resp_ready), .rd_resp__payload(resp_payload),
    .wr__valid(wr_valid), .wr__ready(wr_ready), .wr__payload(wr_payload));

  wire [{req['addr']['width'] - 1}:0] rd_addr = {field('rd_payload', req, 'addr')};
  wire [{req['count']['width'] - 1}:0] rd_count = {field('rd_payload', req, 'count')};
  wire [{req['bytes']['width'] - 1}:0] rd_bytes = {field('rd_payload', req, 'bytes')};
  wire [{tag_bits - 1}:0] rd_tag = rd_payload[{req_tag} +: {tag_bits}];
  wire [{wr['addr']['width'] - 1}:0] wr_addr = {field('wr_payload', wr, 'addr')};
  wire [{wr['count']['width'] - 1}:0] wr_count = {field('wr_payload', wr, 'count')};
  wire [{wr['bytes']['width'] - 1}:0] wr_bytes = {field('wr_payload', wr, 'bytes')};
  // gap-table indices at 32 bits: an index expression is self-determined, so (bytes << CB)
  // would be cut to the operands' width
  wire [31:0] rd_gap = (rd_bytes << CB) | rd_count;
  wire [31:0] wr_gap = (wr_bytes << CB) | wr_count;

  // the DRAM: elements, the channel, reads in flight
  reg [EW-1:0] mem [0:DEPTH-1];
  reg [31:0] gaps [0:GAPS-1];
  reg ring_valid [0:RING-1];
  reg [{w['rd_resp__payload'] - 1}:0] ring_data [0:RING-1];
  reg [{w['rd_resp__payload'] - 1}:0] data;
  reg [63:0] t, free, max_cycles;
  integer latency;

  // the work: jobs, each a DRAM image and its commands
  integer fd, out, rc, i, n_jobs, job, n_cmds, cmd, words;
  reg [8*32-1:0] name;
  reg [{w['cmd__payload'] - 1}:0] next_cmd;
  localparam START = 0, JOB = 1, COMMAND = 2, RESET = 3, TAKE = 4, RUN = 5;
  reg [2:0] state = START;

  always @(posedge clk) begin
    case (state)
      START: begin
        fd = $fopen("jobs.txt", "r");
        out = $fopen("results.txt", "w");
        rc = $fscanf(fd, "%d %d", n_jobs, max_cycles);
        job = 0;
        state = JOB;
      end
      JOB: if (job == n_jobs) begin
        $fclose(out);
        $fclose(fd);
        $finish;
      end else begin
        rc = $fscanf(fd, "%d %d %d", words, latency, n_cmds);
        for (i = 0; i < GAPS; i = i + 1) rc = $fscanf(fd, "%d", gaps[i]);
        $sformat(name, "mem%0d.hex", job);
        $readmemh(name, mem, 0, words - 1);
        cmd = 0;
        state = COMMAND;
      end
      COMMAND: if (cmd == n_cmds) begin
        $sformat(name, "out%0d.hex", job);
        $writememh(name, mem, 0, words - 1);
        job = job + 1;
        state = JOB;
      end else begin
        rc = $fscanf(fd, "%h", next_cmd);
        rst <= 1'b1;
        state = RESET;
      end
      RESET: begin                  // the controller is reset at this edge
        rst <= 1'b0;
        cmd_payload <= next_cmd;
        cmd_valid <= 1'b1;
        state = TAKE;
      end
      TAKE: begin                   // ... takes the command at this edge; cycle 0 follows
        cmd_valid <= 1'b0;
        t = 0;
        free = 0;
        for (i = 0; i < RING; i = i + 1) ring_valid[i] = 1'b0;
        rd_ready <= 1'b1;
        wr_ready <= 1'b1;
        resp_valid <= 1'b0;
        state = RUN;
      end
      RUN: if (!busy) begin         // cycle t: the command is done
        $fwrite(out, "%0d %h\\n", t, perf);
        rd_ready <= 1'b0;
        wr_ready <= 1'b0;
        resp_valid <= 1'b0;
        cmd = cmd + 1;
        state = COMMAND;
      end else begin                // the edge that ends cycle t
        if (rd_ready && rd_valid) begin
          free = t + gaps[rd_gap];
          data = 0;
          for (i = 0; i < RL; i = i + 1)
            if (i < rd_count) data[i * EW +: EW] = mem[rd_addr + i];
          data[{resp_tag} +: {tag_bits}] = rd_tag;
          ring_data[(t + latency) & (RING - 1)] = data;
          ring_valid[(t + latency) & (RING - 1)] = 1'b1;
        end
        if (wr_ready && wr_valid) begin
          free = t + gaps[wr_gap];
          for (i = 0; i < WL; i = i + 1)
            if (i < wr_count)
              mem[wr_addr + i] = $signed(wr_payload[{wr['data']['offset']} + i * WB +: WB]);
        end
        ring_valid[t & (RING - 1)] = 1'b0;
        t = t + 1;
        if (t > max_cycles) begin
          $fwrite(out, "timeout %0d\\n", t);
          $fclose(out);
          $finish;
        end
        rd_ready <= t >= free;
        wr_ready <= t >= free;
        resp_valid <= ring_valid[t & (RING - 1)];
        if (ring_valid[t & (RING - 1)])   // else the last response stays, as in Python
          resp_payload <= ring_data[t & (RING - 1)];
      end
    endcase
  end
endmodule
"""


def write_inputs(folder: Path, ports: Ports, jobs: list, images: list, max_cycles: int) -> None:
    """The input files in `folder` for `jobs` (each with `arch` and `commands()`) and their
    DRAM `images`."""
    mask = (1 << ports.lane_bits) - 1
    lines = [f"{len(jobs)} {max_cycles}"]
    for j, (job, memory) in enumerate(zip(jobs, images)):
        commands = job.commands()
        dram = job.arch.dram
        lines.append(f"{len(memory)} {max(1, int(dram.latency_cycles))} {len(commands)}")
        lines.append(" ".join(map(str, ports.gap_table(dram.bandwidth_bytes_per_cycle).tolist())))
        cmd_fields = ports.fields["cmd__payload"]
        for command in commands:
            word = 0
            for name, value in command.items():
                fd = cmd_fields[name]
                word |= (int(value) & ((1 << fd["width"]) - 1)) << fd["offset"]
            lines.append(format(word, "x"))
        if ports.lane_bits < 63:
            hex_text = _hex_lines(np.asarray(memory, dtype=np.int64) & mask, ports.lane_bits)
        else:
            hex_text = "".join(f"{int(v) & mask:x}\n" for v in memory).encode()
        (folder / f"mem{j}.hex").write_bytes(hex_text)
    (folder / "jobs.txt").write_text("\n".join(lines) + "\n")


_HEX_PAIRS = np.frombuffer(b"".join(b"%02x" % byte for byte in range(256)), dtype=np.uint16)
_NIBBLE_OF = np.full(256, 255, dtype=np.uint8)      # an ASCII hex digit's value, else 255
for _value, _char in enumerate(b"0123456789abcdef"):
    _NIBBLE_OF[_char] = _NIBBLE_OF[ord(chr(_char).upper())] = _value


def _hex_lines(values: np.ndarray, bits: int) -> bytes:
    """Non-negative `values` below 2^bits as one zero-padded hex line of ceil(bits/4) digits
    each (vectorised, two digits per byte: a DRAM image holds millions of elements)."""
    size = -(-bits // 8)
    big_endian = values.astype(">u8").view(np.uint8).reshape(len(values), 8)[:, 8 - size:]
    text = np.empty((len(values), 2 * size + 1), dtype=np.uint8)
    text[:, :-1] = _HEX_PAIRS[big_endian].view(np.uint8).reshape(len(values), 2 * size)
    text[:, -1] = ord("\n")
    return text[:, 2 * size - -(-bits // 4):].tobytes()     # an odd digit count drops one


def read_image(path: Path, bits: int) -> np.ndarray:
    """A $writememh dump as signed `bits`-wide elements (`//` lines are comments). Lines of one
    width are parsed vectorised (a DRAM image holds millions of elements), others one by one."""
    half = 1 << (bits - 1)
    data = re.sub(rb"(?m)^//[^\n]*\n?", b"", path.read_bytes())
    text = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(text == ord("\n"))
    if bits < 63 and len(ends) and ends[0] > 0 and ends[-1] == len(text) - 1 \
            and (np.diff(ends) == ends[0] + 1).all():
        nibbles = _NIBBLE_OF[text.reshape(len(ends), -1)[:, :ends[0]]]
        if (nibbles != 255).all():
            values = np.zeros(len(ends), dtype=np.int64)
            for column in nibbles.T:
                values = (values << 4) | column
            return (values ^ half) - half
    return np.array([(int(line, 16) ^ half) - half for line in data.split()], dtype=np.int64)
