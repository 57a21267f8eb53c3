"""dlaforge.hw: the accelerator generator.

The same ArchSpec that drives the models builds an Amaranth design: MAC PEs (pe.py) in a
systolic array (array.py), double-buffered SRAM buffers and the engines that fill them from a
DRAM stream port, run the array fold by fold and write results back (accelerator.py and the
modules it names), Verilog emission (verilog.py) and the testbench runners that simulate it
(run_amaranth.py in Amaranth's simulator, run_cocotb.py under cocotb on Icarus or Verilator,
with cocotb_tb.py as the testbench) and return a Stats record.
"""
