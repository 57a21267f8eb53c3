"""Ask hwcomponents (with its CACTI plug-in) for SRAM energies, leakage and area.

Runs inside the interpreter that has hwcomponents: hwcomponents 1.0.114 needs Python >= 3.12
while dlaforge runs on 3.11, so `cacti.py` runs this file with the side venv's Python
(`.venv/hwcomponents`, made by `make`) and talks JSON over stdin/stdout; on an interpreter that
has hwcomponents itself it is imported instead. It imports nothing of dlaforge.

Input: {"pins": {dist: version}, "queries": [{"tech_node_nm", "width_bits", "depth", "banks"}]}.
Output: {"ok": [{"read_pj", "write_pj", "leakage_mw", "area_um2"} per query]} or
{"error": "one line"}.
"""

from __future__ import annotations

import json
import sys


def _versions(pins: dict) -> str | None:
    """A one-line complaint when an installed distribution differs from its pin, else None."""
    from importlib.metadata import PackageNotFoundError, version
    for dist, pinned in pins.items():
        try:
            found = version(dist)
        except PackageNotFoundError:
            return f"{dist} is not installed in {sys.prefix} ({pinned} is pinned)"
        if found != pinned:
            return f"{dist} {found} is installed in {sys.prefix}, {pinned} is pinned"
    return None


def estimate(request: dict) -> dict:
    """The answer to one request (see the module's docstring); never raises."""
    try:
        complaint = _versions(request.get("pins", {}))
        if complaint:
            return {"error": complaint}
        import logging
        logging.disable(logging.CRITICAL)        # hwcomponents logs every estimate
        import hwcomponents as hwc
        models = hwc.get_models()
        out = []
        for q in request["queries"]:
            width, depth = int(q["width_bits"]), int(q["depth"])
            attrs = {"tech_node": q["tech_node_nm"] * 1e-9, "width": width, "depth": depth,
                     "size": width * depth, "n_banks": int(q["banks"])}
            read = hwc.get_action_cost("SRAM", attrs, "read", {}, models=models)
            write = hwc.get_action_cost("SRAM", attrs, "write", {}, models=models)
            out.append({"read_pj": read.energy * 1e12, "write_pj": write.energy * 1e12,
                        "leakage_mw": hwc.get_leak_power("SRAM", attrs, models=models) * 1e3,
                        "area_um2": hwc.get_area("SRAM", attrs, models=models) * 1e12})
        return {"ok": out}
    except Exception as exc:        # noqa: BLE001 - reported as one line to the caller
        lines = [line for line in str(exc).splitlines() if line.strip()]
        text = lines[-1].strip() if lines else ""
        return {"error": f"{type(exc).__name__}: {text}"[:400]}


if __name__ == "__main__":
    json.dump(estimate(json.load(sys.stdin)), sys.stdout)
