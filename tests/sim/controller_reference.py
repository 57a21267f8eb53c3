"""A plain, slow interpretation of docs/controller.md's ws, os and is programs ("The ws program,
cycle by cycle", "The os program ...", "The is program ..."), written from the text without
sharing code with sim/cycle/controller_timing.py: every tile from nested loops, every buffer word
and every DRAM request walked one by one in the order the contract gives, every fold's array
accesses counted pixel by pixel (ws, is) or step by step (os). Small cases only;
tests/sim/test_controller_models.py holds the numba model equal to it.

Where the contract leaves a choice, this reading (and the model) takes the simplest hardware:
a write-back started at cycle s spends s + 1 on its first FETCH, so its first request is taken
at max(s + 2, free) (the write engine of hw/writer.py); the parameter table is empty when a
command starts; PARAMS is the table's head (`head` bytes, if any: a per-tensor quantizer's
scale part) and then, cut per parameter-table word, per filter block kb a run of
entry * min(cols, k_size - kb*cols) bytes (entry = 3 for the default quantizer; 0: none).
"""

from __future__ import annotations

import itertools
import math


def _ceil(a, b):
    return -(-a // b)


def _beat(b, bw):
    return max(1, int(bw // b))


def _gap(n, b, bw):
    return max(1, math.ceil(n * b / bw))


def run_command(rows, cols, bits, bw, lat, shape, mapping, requant, halves=None,
                dataflow="ws", head=0, entry=3):
    """Counters of one command. bits: (ifmap, weight, psum, ofmap) bits; shape: a dict of
    N C H W K R S P Q stride padding; mapping: kt ct pt order. `halves`, when given, is
    (ifmap, weight, acc) words per buffer half: every word address is checked against it.
    `dataflow`: "ws", "os" or "is" (the folds). `head`, `entry`: the parameter table's head
    bytes and bytes per filter (the quantizer's)."""
    lat = max(1, lat)
    N, C, H, W, K, R, S, P, Q = (shape[x] for x in "N C H W K R S P Q".split())
    stride, pad = shape["stride"], shape["padding"]
    kt, ct, pt, order = mapping["kt"], mapping["ct"], mapping["pt"], mapping["order"]
    b_i, b_w, b_s = (_ceil(x, 8) for x in bits[:3])
    b_o = _ceil(bits[3], 8) if requant else b_s
    trips = {"n": N, "k": _ceil(K, kt), "c": _ceil(C, ct), "p": _ceil(P, pt)}
    tiles = []
    for values in itertools.product(*(range(trips[x]) for x in order)):
        ix = dict(zip(order, values))
        k0, c0, p0 = ix["k"] * kt, ix["c"] * ct, ix["p"] * pt
        tile = dict(n=ix["n"], k=ix["k"], c=ix["c"], p=ix["p"], k0=k0, c0=c0, p0=p0,
                    ks=min(kt, K - k0), cs=min(ct, C - c0), ps=min(pt, P - p0))
        tile["lo"] = min(max(p0 * stride - pad, 0), H)
        tile["hi"] = min(max((p0 + tile["ps"] - 1) * stride - pad + R, 0), H)
        tiles.append(tile)
    T = len(tiles)

    def key(tile, loops):
        return tuple(tile[x] for x in loops)

    for i, tile in enumerate(tiles):
        prev = tiles[i - 1] if i else None
        nxt = tiles[i + 1] if i + 1 < T else None
        tile["load_i"] = prev is None or key(prev, "ncp") != key(tile, "ncp")
        tile["load_w"] = prev is None or key(prev, "kc") != key(tile, "kc")
        tile["readback"] = (prev is None or key(prev, "nkp") != key(tile, "nkp")) and tile["c0"] > 0
        tile["leaves"] = nxt is None or key(nxt, "nkp") != key(tile, "nkp")
        tile["final"] = tile["c"] == trips["c"] - 1

    counters = dict.fromkeys(("busy_cycles", "ifmap_reads", "ifmap_writes", "weight_reads",
                              "weight_writes", "acc_reads", "acc_writes", "dram_read_bytes",
                              "dram_write_bytes"), 0)
    state = {"free": 0}

    def check(word, half):
        if halves is not None:
            assert 0 <= word < halves[half], (word, half)

    def requests(run, b):
        """The requests a run is cut into: their element counts."""
        per = _beat(b, bw)
        out = [per] * (run // per)
        if run % per:
            out.append(run % per)
        return out

    def load_job(s, tile):
        """The LOAD job of a tile: its runs in order, one request per cycle at most."""
        runs = []       # (elements, bytes per element)
        if tile["load_i"]:
            in_rows = tile["hi"] - tile["lo"]
            for cb in range(_ceil(tile["cs"], rows)):
                for h in range(tile["lo"], tile["hi"]):
                    for w in range(W):
                        check((cb * in_rows + h - tile["lo"]) * W + w, 0)
                        n = min(rows, tile["cs"] - cb * rows)
                        runs.append((n, b_i))
                        counters["ifmap_writes"] += n
        if tile["load_w"]:
            for kb in range(_ceil(tile["ks"], cols)):
                for r in range(R):
                    for s_ in range(S):
                        for c in range(tile["cs"]):
                            check(((kb * R + r) * S + s_) * tile["cs"] + c, 1)
                            n = min(cols, tile["ks"] - kb * cols)
                            runs.append((n, b_w))
                            counters["weight_writes"] += n
        if tile["readback"]:
            for kb in range(_ceil(tile["ks"], cols)):
                for p in range(tile["p0"], tile["p0"] + tile["ps"]):
                    for q in range(Q):
                        check((kb * tile["ps"] + p - tile["p0"]) * Q + q, 2)
                        n = min(cols, tile["ks"] - kb * cols)
                        runs.append((n, b_s))
                        counters["acc_writes"] += n
        t = s
        moved = False
        for run, b in runs:
            for n in requests(run, b):
                t = max(t + 1, state["free"])
                state["free"] = t + _gap(n, b, bw)
                counters["dram_read_bytes"] += n * b
                moved = True
        return t + lat + 1 if moved else s + 1

    def params_job(s, tile):
        t = s
        runs = [head] if head else []
        if entry:
            runs += [entry * min(cols, tile["ks"] - kb * cols)
                     for kb in range(_ceil(tile["ks"], cols))]
        for run in runs:
            for n in requests(run, 1):
                t = max(t + 1, state["free"])
                state["free"] = t + _gap(n, 1, bw)
                counters["dram_read_bytes"] += n
        return t + lat + 1

    def write_back(s, tile):
        b = b_o if tile["final"] else b_s
        t = s
        for kb in range(_ceil(tile["ks"], cols)):
            for p in range(tile["p0"], tile["p0"] + tile["ps"]):
                for q in range(Q):
                    check((kb * tile["ps"] + p - tile["p0"]) * Q + q, 2)
                    t += 1                      # FETCH the word
                    counters["acc_reads"] += cols
                    t += 1                      # the run's first request, at the earliest
                    for j, n in enumerate(requests(min(cols, tile["ks"] - kb * cols), b)):
                        if j:
                            t += 1
                        t = max(t, state["free"])
                        state["free"] = t + _gap(n, b, bw)
                        counters["dram_write_bytes"] += n * b
        return t

    def folds(tile):
        """The tile's folds: count the array's accesses; return their cycles."""
        cycles = 0
        in_rows = tile["hi"] - tile["lo"]
        for kb in range(_ceil(tile["ks"], cols)):
            for cb in range(_ceil(tile["cs"], rows)):
                for r in range(R):
                    for s_ in range(S):
                        for j in range(rows):
                            if cb * rows + j < tile["cs"]:
                                check(((kb * R + r) * S + s_) * tile["cs"] + cb * rows + j, 1)
                            counters["weight_reads"] += cols
                        for p in range(tile["p0"], tile["p0"] + tile["ps"]):
                            for q in range(Q):
                                h, w = p * stride + r - pad, q * stride + s_ - pad
                                if 0 <= h < H and 0 <= w < W:
                                    check((cb * in_rows + h - tile["lo"]) * W + w, 0)
                                counters["ifmap_reads"] += rows
                                if not (tile["c0"] == 0 and (cb, r, s_) == (0, 0, 0)):
                                    counters["acc_reads"] += cols
                                counters["acc_writes"] += cols
                        cycles += 2 * rows + cols + tile["ps"] * Q + 1
        counters["busy_cycles"] += cycles
        return cycles

    def read_pixel(tile, t, r, s_, cb):
        """os and is: tile pixel t (row-major) reads its ifmap word at tap (r, s_) in channel
        block cb (checked where the window position is inside the image); its (p, q)."""
        p, q = tile["p0"] + t // Q, t % Q
        h, w = p * stride + r - pad, q * stride + s_ - pad
        if 0 <= h < H and 0 <= w < W:
            check((cb * (tile["hi"] - tile["lo"]) + h - tile["lo"]) * W + w, 0)
        counters["ifmap_reads"] += rows
        return p, q

    def os_folds(tile):
        """The tile's os folds (kb, pb; each over blocks r, s, cb of `rows` steps): count the
        array's accesses step by step; return their cycles."""
        cycles = 0
        n_px = tile["ps"] * Q
        for kb in range(_ceil(tile["ks"], cols)):
            for pb in range(_ceil(n_px, rows)):
                steps = 0
                for r in range(R):
                    for s_ in range(S):
                        for cb in range(_ceil(tile["cs"], rows)):
                            for i in range(rows):          # the transposer's pixel words
                                if pb * rows + i < n_px:    # an invalid pixel reads nothing
                                    read_pixel(tile, pb * rows + i, r, s_, cb)
                            for j in range(rows):          # the block's steps
                                steps += 1
                                if cb * rows + j < tile["cs"]:
                                    check(((kb * R + r) * S + s_) * tile["cs"] + cb * rows + j,
                                          1)
                                    counters["weight_reads"] += cols
                for i in range(rows):                      # the drain
                    t = pb * rows + i
                    if t < n_px:
                        p, q = tile["p0"] + t // Q, t % Q
                        check((kb * tile["ps"] + p - tile["p0"]) * Q + q, 2)
                        if tile["c0"] > 0:
                            counters["acc_reads"] += cols
                        counters["acc_writes"] += cols
                cycles += steps + 2 * rows + cols + 1
        counters["busy_cycles"] += cycles
        return cycles

    def is_folds(tile):
        """The tile's is folds (pb, cb, r, s; each streaming the filter blocks): count the
        array's accesses word by word; return their cycles."""
        cycles = 0
        n_px = tile["ps"] * Q
        blocks = _ceil(tile["ks"], cols)
        for pb in range(_ceil(n_px, cols)):
            for cb in range(_ceil(tile["cs"], rows)):
                for r in range(R):
                    for s_ in range(S):
                        pixels = [read_pixel(tile, t, r, s_, cb)     # the stationary ones
                                  for t in range(pb * cols, min(n_px, (pb + 1) * cols))]
                        for kb in range(blocks):
                            for i in range(rows):          # the weight words of the block
                                if cb * rows + i < tile["cs"]:
                                    check(((kb * R + r) * S + s_) * tile["cs"] + cb * rows + i,
                                          1)
                                    counters["weight_reads"] += cols
                            for p, q in pixels:            # the collected words
                                check((kb * tile["ps"] + p - tile["p0"]) * Q + q, 2)
                                if not (tile["c0"] == 0 and (cb, r, s_) == (0, 0, 0)):
                                    counters["acc_reads"] += cols
                                counters["acc_writes"] += cols
                        cycles += (blocks - 1) * max(rows, cols) + 2 * rows + 3 * cols + 2
        counters["busy_cycles"] += cycles
        return cycles

    compute = {"ws": folds, "os": os_folds, "is": is_folds}[dataflow]
    ends, done_loads = [None] * T, [None] * T
    table = None
    g = 0
    for i in range(T + 2):
        if i >= 2:
            g = max(g, ends[i - 2] + 1)
            tile = tiles[i - 2]
            if tile["leaves"]:
                if requant and tile["final"] and table != tile["k0"]:
                    g = params_job(g, tile)
                    table = tile["k0"]
                g = write_back(g, tile) + 1
        if i < T:
            d = load_job(g, tiles[i])
            done_loads[i] = d
            start = max(d + 1, ends[i - 1] + 1) if i else d + 1
            ends[i] = start + compute(tiles[i]) - 1
            g = d + 2
        else:
            g += 2
    counters["cycles"] = g + 1
    return counters
