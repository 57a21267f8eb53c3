"""dlaforge.hw: the accelerator generator.

The same ArchSpec that drives the models builds an Amaranth design: MAC PEs (pe.py) in a
systolic array (array.py), double-buffered SRAM buffers and the engines that fill them from a
DRAM stream port, run the array fold by fold and write results back (accelerator.py and the
modules it names), Verilog emission (verilog.py) and runners that simulate it and return a
Stats record.
"""
