"""SCALE-Sim 3.0's double-buffered SRAM models, replayed in numba (scalesim/memory/).

Three buffer models; the two walked in nopython code keep their state in a small int64 array:

- CALC mode's read buffer (read_buffer_estimate_bw.py), counted by scalesim_calc: an address
  not found in the current set or the completed sets of the active window joins the current
  set; sets hold floor(size/100) addresses; when 50 sets are complete the window restarts
  empty. So the buffer is a first-touch epoch: an address hits iff it joined since the
  window last restarted, and the window restarts every `epoch_capacity` joins. DRAM reads
  are the joins (first touches). It never stalls.
- `user_read`: USER mode's read buffer (read_buffer.py). The operand's prefetch stream (the
  im2col matrix, duplicates included) is cut into sets of ceil(size/100) entries; the active
  window holds the first half of the buffer's sets; a demand outside the window slides it by
  the prefetch half and fetches ceil(half/bw)*bw words, ending 1 cycle after the previous
  prefetch plus one cycle per bw-wide line, plus the 1-cycle DRAM latency. A miss adds the
  prefetch's lateness to the row's delay twice when positive and once when negative.
- `write`: the ofmap write buffer (write_buffer.py): outputs fill bw-wide lines; when more
  than half the buffer is used and no drain is running, the partial line is closed and the
  next ceil(half/bw) lines drain, counted at full width except the padding of the chunk's last
  line; a write into a full buffer waits for the running drain.
"""

from __future__ import annotations

import numpy as np
from numba import njit

def epoch_capacity(size_bytes: int) -> int:
    """Fetches after which CALC mode's read buffer empties (0: never): 50 sets of
    floor(size/100) addresses."""
    return 50 * (size_bytes // 100)


# write state slots
(_W_TOTAL, _W_DRAIN_SIZE, _W_BW, _W_FREE, _W_LINE_FILL, _W_LINES, _W_DRAINED,
 _W_DRAIN_END, _W_WRITES, _W_PARTIAL_HEAD, _W_PARTIAL_TAIL) = range(11)


def new_write(size_bytes: int, bandwidth: int, max_writes: int):
    """State of an empty write buffer, and room for the queue of its partial lines (lines
    closed below full width, as (line index, words), in closing order; at most one per
    output)."""
    state = np.zeros(11, np.int64)
    state[_W_TOTAL] = size_bytes
    state[_W_DRAIN_SIZE] = size_bytes - -(-size_bytes // 2)
    state[_W_BW] = bandwidth
    state[_W_FREE] = size_bytes
    return state, np.empty((max_writes + 2, 2), np.int64)


@njit(cache=True)
def _close_partial_line(state, partial):
    fill = state[_W_LINE_FILL]
    if fill > 0:
        partial[state[_W_PARTIAL_TAIL]] = state[_W_LINES], fill
        state[_W_PARTIAL_TAIL] += 1
        state[_W_LINES] += 1
        state[_W_LINE_FILL] = 0


@njit(cache=True)
def _accept(state, count):
    """`count` outputs into the current line, closing every line they fill."""
    bw, fill = state[_W_BW], state[_W_LINE_FILL] + count
    state[_W_LINES] += fill // bw
    state[_W_LINE_FILL] = fill % bw
    state[_W_FREE] -= count


@njit(cache=True)
def _drain(state, partial, start_cycle):
    """The next drain chunk of closed lines goes to DRAM a line per cycle from start_cycle;
    returns its last cycle. Lines count at full width except the padding of the last one."""
    bw = state[_W_BW]
    chunk = (state[_W_DRAIN_SIZE] + bw - 1) // bw
    first = state[_W_DRAINED]
    last = min(first + chunk, state[_W_LINES])
    count = last - first
    last_words = bw
    head = state[_W_PARTIAL_HEAD]
    while head < state[_W_PARTIAL_TAIL] and partial[head, 0] < last:
        if partial[head, 0] == last - 1:
            last_words = partial[head, 1]
        head += 1
    state[_W_PARTIAL_HEAD] = head
    words = count * bw - (bw - last_words) if count > 0 else 0
    state[_W_WRITES] += words
    state[_W_FREE] += words
    state[_W_DRAINED] = last
    return start_cycle + count - 1


@njit(cache=True)
def write_row(state, partial, cycle, count):
    """`count` outputs of one cycle row written from `cycle` on, each once the previous one
    is accepted; returns the cycle the last was accepted (later than `cycle` if the buffer was
    full while draining). Outputs are taken in runs up to the next event: while a drain runs,
    the output that leaves no free space waits for its end; otherwise the output that leaves
    less than half the buffer free closes the partial line and starts the next drain."""
    threshold = state[_W_TOTAL] - state[_W_DRAIN_SIZE]
    left = count
    while left > 0:
        free = state[_W_FREE]
        draining = cycle < state[_W_DRAIN_END]
        run = max(free if draining else free - threshold + 1, 1)  # outputs up to the event
        if left < run:
            _accept(state, left)
            return cycle
        _accept(state, run)
        left -= run
        if draining:
            cycle = state[_W_DRAIN_END]
        else:
            _close_partial_line(state, partial)
            state[_W_DRAIN_END] = _drain(state, partial, cycle)
    return cycle


@njit(cache=True)
def write_rows(state, partial, cycle, count, rows):
    """`rows` cycle rows from `cycle` on, each writing `count` outputs; False if one would
    wait (CALC mode refuses that). Rows are taken in runs up to the next event."""
    end = cycle + rows
    threshold = state[_W_TOTAL] - state[_W_DRAIN_SIZE]
    while cycle < end:
        free, drain_end = state[_W_FREE], state[_W_DRAIN_END]
        if cycle < drain_end:  # free space only shrinks until the drain ends
            run = min(end, drain_end) - cycle
            if free - run * count <= 0:
                return False
        else:  # whole rows before the one whose output starts the next drain
            run = min(end - cycle, max(free - threshold, 0) // count)
            if run == 0:
                if write_row(state, partial, cycle, count) != cycle:
                    return False
                cycle += 1
                continue
        _accept(state, run * count)
        cycle += run
    return True


@njit(cache=True)
def write_at_once(state, count):
    """Takes `count` outputs at once, whatever their cycles, if none can start a drain or
    wait (at least half the buffer stays free); returns whether it did."""
    if state[_W_FREE] - count < state[_W_TOTAL] - state[_W_DRAIN_SIZE]:
        return False
    _accept(state, count)
    return True


@njit(cache=True)
def write_flush(state, partial, cycle):
    """Drain everything left at the end of the layer."""
    _close_partial_line(state, partial)
    while state[_W_DRAINED] < state[_W_LINES]:
        cycle = _drain(state, partial, cycle) + 1


def write_count(state) -> int:
    return int(state[_W_WRITES])


MISSING = -(1 << 62)

# user_read state slots
(_U_ACTIVE_SETS, _U_PREFETCH_SETS, _U_SETS, _U_START, _U_END, _U_LAST_PREFETCH,
 _U_FETCH_LINES, _U_BW, _U_READS) = range(9)


def new_user_read(size_bytes: int, bandwidth: int, stream: np.ndarray, address_space: int):
    """State for USER mode given the operand's prefetch stream (addresses in fetch order, -1
    for holes) and the DRAM bandwidth in words per cycle."""
    per_set = -(-size_bytes // 100)
    active_size = -(-size_bytes // 2)
    prefetch_size = size_bytes - active_size
    valid = stream[stream >= 0]
    set_of_entry = np.arange(len(valid)) // per_set
    sets = len(valid) // per_set + 1  # SCALE-Sim always opens one more (maybe empty) set
    # for each address, the sorted distinct sets that hold it, as CSR (index, sets_of)
    order = np.lexsort((set_of_entry, valid))
    addr_sorted, set_sorted = valid[order], set_of_entry[order]
    keep = np.ones(len(addr_sorted), bool)
    keep[1:] = (addr_sorted[1:] != addr_sorted[:-1]) | (set_sorted[1:] != set_sorted[:-1])
    addr_sorted, set_sorted = addr_sorted[keep], set_sorted[keep]
    index = np.zeros(address_space + 1, np.int64)
    np.add.at(index, addr_sorted + 1, 1)
    state = np.zeros(9, np.int64)
    active = min(sets, -(-active_size // per_set))
    state[_U_ACTIVE_SETS] = active
    state[_U_PREFETCH_SETS] = min(sets - active, -(-prefetch_size // per_set))
    state[_U_SETS] = sets
    state[_U_END] = active
    state[_U_FETCH_LINES] = -(-prefetch_size // bandwidth)
    state[_U_BW] = bandwidth
    # the active half is fetched before cycle 0, its last line arriving at cycle -1
    state[_U_READS] = min(-(-active_size // bandwidth), -(-len(stream) // bandwidth)) * bandwidth
    state[_U_LAST_PREFETCH] = -1
    return state, np.cumsum(index), set_sorted.astype(np.int64)


@njit(cache=True)
def _in_window(state, index, sets_of, addr):
    """Whether a set of the (circular) active window holds addr."""
    lo, hi = index[addr], index[addr + 1]
    start, end = state[_U_START], state[_U_END]
    a, b = lo, hi
    while a < b:  # first set >= start holding addr
        mid = (a + b) // 2
        if sets_of[mid] < start:
            a = mid + 1
        else:
            b = mid
    if start < end:
        return a < hi and sets_of[a] < end
    return a < hi or (lo < hi and sets_of[lo] < end)


@njit(cache=True)
def user_read_row(state, index, sets_of, row_addrs, count, cycle):
    """The `count` addresses demanded at `cycle`; returns the row's stall (0 when all hit; it
    can be negative, as in SCALE-Sim), or MISSING if an address is in no set (SCALE-Sim would
    loop forever)."""
    offset = 1
    for i in range(count):
        slides = 0
        while not _in_window(state, index, sets_of, row_addrs[i]):
            sets = state[_U_SETS]
            start = (state[_U_START] + state[_U_PREFETCH_SETS]) % sets
            state[_U_START] = start
            state[_U_END] = (start + state[_U_ACTIVE_SETS]) % sets
            state[_U_READS] += state[_U_FETCH_LINES] * state[_U_BW]
            state[_U_LAST_PREFETCH] += state[_U_FETCH_LINES] + 1
            late = state[_U_LAST_PREFETCH] - (cycle + offset)
            offset += late
            if late > 0:
                offset += late  # SCALE-Sim adds a positive lateness twice
            slides += 1
            if slides > sets:
                return MISSING
    return offset - 1


def user_read_count(state) -> int:
    return int(state[_U_READS])
