"""Method hardware: the units that run a method's operations (issue 6), one module per method,
each built from the same ArchSpec and verified like the baseline accelerator."""
