"""Run SCALE-Sim 3.0 once through its Python API (no trace files) and print its wall time and
peak memory as JSON. Runs inside SCALE-Sim's own venv (bench/_work/scalesim-venv).

    python scalesim_run.py CFG TOPOLOGY LAYOUT OUTDIR
"""
import json
import resource
import sys
import time

from scalesim.scale_sim import scalesim

cfg, topology, layout, out = sys.argv[1:5]
start = time.perf_counter()
sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topology, layout=layout)
sim.run_scale(top_path=out)
print(json.dumps({"wall_s": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
