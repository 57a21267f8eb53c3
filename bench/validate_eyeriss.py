"""Validation: eyeriss_like (row stationary) against Eyeriss silicon on AlexNet's CONV layers.

Eyeriss JSSC 2017 (REFERENCES.md §2): batch 4, 16 bit, 65 nm, 200 MHz. Writes
bench/RESULTS_eyeriss.md with our analytical figures beside the measured ones. Eyeriss
compresses zeros in DRAM traffic (run-length coding) and gates PEs on zero ifmaps; dlaforge
models neither, so its DRAM traffic is expected to be higher.
"""

from pathlib import Path

import dlaforge

# layer: (power mW, time ms, active PEs, GLB MB, DRAM MB), measured
SILICON = {"conv1": (332, 16.5, 154, 18.5, 5.0), "conv2": (288, 39.2, 135, 77.6, 4.0),
           "conv3": (266, 21.8, 156, 50.2, 3.0), "conv4": (235, 16.0, 156, 37.4, 2.1),
           "conv5": (236, 10.0, 156, 24.9, 1.3)}
RESULTS = Path(__file__).resolve().parent / "RESULTS_eyeriss.md"


def main() -> None:
    record = dlaforge.simulate("eyeriss_like", "alexnet", dataflow="rs", batch=4)
    clock_hz = 200e6
    lines = ["# eyeriss_like vs Eyeriss silicon, AlexNet CONV layers, batch 4 (analytical model)",
             "", "| layer | time ms (ours / silicon) | PE-equivalents busy (ours / silicon active) "
             "| GLB MB (ours / silicon) | DRAM MB (ours / silicon) | energy uJ (ours) | "
             "power mW (ours / silicon) |", "|---|---|---|---|---|---|---|"]
    total_ours = total_theirs = 0.0
    for layer in record.layers:
        if layer.name not in SILICON:
            continue
        power, ms, pes, glb, dram = SILICON[layer.name]
        s = layer.stats
        ours_ms = s.cycles / clock_hz * 1e3
        total_ours, total_theirs = total_ours + ours_ms, total_theirs + ms
        ours_mw = s.energy_pj * 1e-12 / (ours_ms * 1e-3) * 1e3
        lines.append(f"| {layer.name} | {ours_ms:.1f} / {ms} | {s.utilization * 168:.0f} / {pes} | "
                     f"{(s.sram_read_bytes + s.sram_write_bytes) / 1e6:.1f} / {glb} | "
                     f"{(s.dram_read_bytes + s.dram_write_bytes) / 1e6:.1f} / {dram} | "
                     f"{s.energy_pj / 1e6:.0f} | {ours_mw:.0f} / {power} |")
    lines += ["", f"CONV total time: {total_ours:.1f} ms (ours) vs {total_theirs:.1f} ms (silicon).",
              "", "PE-equivalents busy = utilization x 168 PEs; silicon counts PEs that are mapped",
              "(some idle on zeros). conv1's 11x11 filters at stride 4 fit the 12-row array only",
              "once, which our row-stationary mapping does not work around as Eyeriss does.",
              "", "Power is far below silicon: the preset's energies are Eyeriss's relative costs",
              "anchored at a 0.2077 pJ MAC, and the model has no clock tree, control or leakage;",
              "silicon spends about 9.7 pJ per MAC on conv3 (266 mW x 21.8 ms / 0.6 GMAC).",
              "Treat eyeriss_like energies as relative (dataflow against dataflow), not absolute."]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
