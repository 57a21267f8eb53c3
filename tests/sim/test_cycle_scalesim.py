"""`--model cycle` with a SCALE-Sim .cfg replays SCALE-Sim's memory system: its reports'
cycles, stalls, utilization, SRAM and DRAM counts must equal the ones SCALE-Sim 3.0 itself
wrote, on every fixture (CALC with 64 kB and 1 kB buffers, USER with and without stalls)."""

from pathlib import Path

import pytest

import dlaforge
from scalesim_reports import agree, read_report, side_by_side
from test_scalesim_mode import ALL_CASES

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scalesim"


@pytest.mark.parametrize("case", ALL_CASES)
def test_replay_matches_scalesim_reports(case):
    folder = FIXTURES / case
    record = dlaforge.simulate(folder / "arch.cfg", folder / "topology.csv", model="cycle")
    assert record.model == "cycle"
    rows = side_by_side(record, folder)
    assert len(rows) == 9 * len(record.layers)
    assert [r for r in rows if not agree(r[2], r[3])] == []


def test_the_fixtures_exercise_stalls_and_buffer_refetch():
    """The replay is only proven where SCALE-Sim's numbers differ from the easy answer."""
    stalled = [c for c in ALL_CASES
               if any(r["Stall Cycles"] > 0 for r in read_report(FIXTURES / c / "COMPUTE_REPORT.csv"))]
    assert stalled and all("user" in c for c in stalled)
    refetch = 0
    for case in ALL_CASES:
        record = dlaforge.simulate(FIXTURES / case / "arch.cfg", FIXTURES / case / "topology.csv")
        for layer, counts in zip(record.layers,
                                 read_report(FIXTURES / case / "DETAILED_ACCESS_REPORT.csv")):
            unique = layer.stats.accesses["dram"]["ifmap"]["reads"]
            refetch += counts["DRAM IFMAP Reads"] > unique
    assert refetch > 0
