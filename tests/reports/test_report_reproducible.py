"""A report is byte-identical whatever the hash seed: two archs that tie on the Pareto front
(issue 16, item 10: the figure sorted a set of tied points in hash order)."""

import os
import subprocess
import sys


def test_a_report_is_the_same_bytes_under_any_hash_seed(tmp_path):
    (tmp_path / "twin.yaml").write_text("base: edge_tiny\nname: twin\n")
    (tmp_path / "one.csv").write_text("name, M, N, K,\nfc, 8, 8, 8,\n")
    reports = []
    for seed in ("1", "2", "3"):
        out = tmp_path / f"r{seed}"
        subprocess.run([sys.executable, "-m", "dlaforge.cli", "report", "--arch",
                        f"edge_tiny,{tmp_path / 'twin.yaml'}", "--network",
                        str(tmp_path / "one.csv"), "--dataflows", "ws", "--methods",
                        "baseline", "--no-area", "--out", str(out)], check=True,
                       capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed})
        reports.append({str(p.relative_to(out)): p.read_bytes()
                        for p in sorted(out.rglob("*")) if p.is_file()})
    assert "figures/energy_latency.png" in reports[0]
    assert reports[0] == reports[1] == reports[2]
