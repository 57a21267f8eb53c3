"""The testbench DRAM model (hw/dram.py) on its own, against its docstring: one channel for
reads and writes, busy for gap = max(1, ceil(bytes / bandwidth)) cycles after a beat, read
data back after max(1, latency) cycles with its tag, posted writes, `ready` a function of the
cycle only. Table-driven: each case is a script of beats and the cycles at which the channel is
ready and the responses are due."""

import numpy as np
import pytest

from dlaforge.hw.dram import DramModel


def gap(nbytes, bandwidth):
    """The docstring's gap, written out."""
    g = -(-nbytes * 1000 // int(bandwidth * 1000))
    return max(1, g)


# (bandwidth, latency, read_bytes (ifmap, weight), write_bytes, beats); a beat is
# (cycle, "r" | "w" | "rw" (a weight read), addr, value for a write)
CASES = {
    "one_byte_per_cycle": (1.0, 3, (1, 1), 4, [(0, "r", 5, None), (1, "r", 6, None),
                                                (2, "w", 9, 77), (6, "r", 9, None)]),
    "half_byte_per_cycle": (0.5, 1, (1, 1), 4, [(0, "r", 1, None), (2, "rw", 2, None),
                                                 (4, "w", 3, -5), (12, "r", 3, None)]),
    "wide_weights": (2.0, 5, (1, 4), 4, [(0, "rw", 0, None), (2, "r", 1, None),
                                          (3, "w", 4, 100), (5, "rw", 4, None)]),
    "latency_zero_is_one": (4.0, 0, (1, 1), 4, [(0, "r", 2, None), (1, "r", 3, None),
                                                 (2, "r", 4, None)]),
    "fast_channel_slow_port": (16.0, 2, (1, 2), 8, [(0, "w", 0, 1), (1, "w", 1, 2),
                                                     (2, "r", 0, None), (3, "rw", 1, None)]),
}


def model_of(bandwidth, latency, read_bytes, write_bytes):
    """Busy-until and due cycles of every beat, from the docstring's rules."""
    lat = max(1, latency)
    gaps = {"r": gap(read_bytes[0], bandwidth), "rw": gap(read_bytes[1], bandwidth),
            "w": gap(write_bytes, bandwidth)}
    return lat, gaps


@pytest.mark.parametrize("name", list(CASES))
def test_dram_ready_gap_latency_and_posted_writes(name):
    bandwidth, latency, read_bytes, write_bytes, beats = CASES[name]
    memory = np.arange(16, dtype=np.int64) * 10 - 50
    want_memory = memory.copy()
    dram = DramModel(memory, bandwidth, latency, read_bytes, write_bytes)
    lat, gaps = model_of(bandwidth, latency, read_bytes, write_bytes)

    free, due = 0, {}
    script = {cycle: (kind, addr, value) for cycle, kind, addr, value in beats}
    end = max(script) + lat + 2
    got_responses, want_responses = [], []
    for t in range(end):
        want_ready = t >= free
        assert dram.ready(t) == want_ready, (name, t)
        # ready depends on the cycle only: asking twice, or before a response, changes nothing
        assert dram.ready(t) == want_ready
        response = dram.response(t)
        if response is not None:
            got_responses.append((t, *response))
        if t in due:
            want_responses.append((t, *due.pop(t)))
        if t in script:
            kind, addr, value = script[t]
            assert want_ready, f"case {name}: the script puts a beat at a busy cycle {t}"
            tag = 40 + t
            if kind == "w":
                dram.write(t, addr, value)
                want_memory[addr] = value
                # posted: stored at once
                assert memory[addr] == value
            else:
                dram.read(t, addr, tag, kind == "rw")
                assert t + lat not in due            # at most one response per cycle
                due[t + lat] = (int(want_memory[addr]), tag)
            free = t + gaps[kind]
        dram.retire(t)
    assert got_responses == want_responses
    assert not due and dram.response(end) is None
    assert np.array_equal(memory, want_memory)


def test_gaps_and_latency_are_the_documented_ones():
    dram = DramModel(np.zeros(4, dtype=np.int64), 0.75, 0, (1, 2), 4)
    assert (dram.latency, dram.read_gaps, dram.write_gap) == (1, (2, 3), 6)
    dram = DramModel(np.zeros(4, dtype=np.int64), 8.0, 7, (1, 2), 4)
    assert (dram.latency, dram.read_gaps, dram.write_gap) == (7, (1, 1), 1)


def test_a_read_returns_the_value_at_the_time_it_was_taken():
    """The read's data is fetched when the beat is taken: a later write to the address does not
    change a response in flight."""
    memory = np.array([1, 2, 3], dtype=np.int64)
    dram = DramModel(memory, 1.0, 4, (1, 1), 1)
    dram.read(0, 2, 7, False)
    dram.write(1, 2, 99)
    assert [dram.response(t) for t in range(6)] == [None, None, None, None, (3, 7), None]
    dram.retire(3)                     # not due: nothing leaves
    assert dram.response(4) == (3, 7)
    dram.retire(4)
    assert dram.response(4) is None and memory[2] == 99
