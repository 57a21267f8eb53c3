"""The mapped-program controller (docs/controller.md, "The ws program, cycle by cycle", "The os
program ...", "The is program ..."): the accelerator that runs the mapper's loop nest under ws,
os and is, beside the old one-fold-per-tile accelerator of hw/accelerator.py (which the method units
keep using).

- layouts.py: the design parameters (`ControllerParams`), the command descriptor, the DRAM
  stream payloads, the counters;
- nest.py: mixed-radix loop stepping with programmable bounds;
- tiles.py: `TileWalker`, the four tile loops (n, k, c, p) in the command's order, the reuse
  rule and the buffer halves;
- fetch.py: `Fetcher`, the read engine (ifmap, weight and partial-sum loads; parameters);
- fold.py: `FoldEngine`, the array and its sequencers with on-chip im2col, `WsFold`, `OsFold`
  and `IsFold` (through transposer.py's `Transposer` and `Collector`), chosen by the command's
  dataflow;
- writer.py: `Writer`, the write-back engine with one Requantizer per beat lane;
- accelerator.py: `ControllerAccelerator`, buffers, engines and the DRAM engine's program;
- stimulus.py / run.py: a whole layer (DRAM image, one command per group, reference) and its runs in
  Amaranth's simulator or under cocotb (testbench.py).
"""
