"""Design-space sweeps (`dlaforge sweep`): the spec and its points (spec.py), the resumable
result store (store.py), where points run (execute.py: this process, local worker processes
or a Dask cluster) and the run of a whole sweep (runner.py)."""
