"""The text forms of run records that `dlaforge simulate` prints and writes: the per-layer
table (`format_table`) and the CSV of per-layer rows and totals (`csv_text`). Built only from
the result record (dlaforge.stats)."""

from __future__ import annotations

import io
import textwrap

from dlaforge.stats import ENERGY_COMPONENTS

from .style import components


def csv_columns(comps=ENERGY_COMPONENTS) -> list[str]:
    """CSV columns with one energy column per component (a method's units add `units`)."""
    return ["arch", "network", "dataflow", "method", "model", "layer", "kind", "macs", "cycles",
            "compute_cycles", "stall_cycles", "utilization", "energy_pj",
            *[f"energy_{c}_pj" for c in comps], "dram_read_bytes",
            "dram_write_bytes", "sram_read_bytes", "sram_write_bytes", "weight_storage_bits"]


CSV_COLUMNS = csv_columns()


def _csv_row(record, name, kind, stats, comps) -> dict:
    row = {"arch": record.arch, "network": record.network, "dataflow": record.dataflow,
           "method": record.method, "model": record.model, "layer": name, "kind": kind}
    d = stats.to_dict()
    row.update({k: d[k] for k in CSV_COLUMNS if k in d})
    row.update({f"energy_{c}_pj": stats.energy_breakdown_pj.get(c, 0.0) for c in comps})
    return row


def csv_text(records) -> str:
    """Per-layer rows and a TOTAL row of each record, one energy column per component."""
    import csv              # here: only --csv needs it (a quicker start)

    comps = components(r.totals.energy_breakdown_pj for r in records)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=csv_columns(comps))
    writer.writeheader()
    for record in records:
        for layer in record.layers:
            writer.writerow(_csv_row(record, layer.name, layer.kind, layer.stats, comps))
        writer.writerow(_csv_row(record, "TOTAL", "network", record.totals, comps))
    return out.getvalue()


def format_table(record, width: int | None = None) -> str:
    """A readable per-layer table with the network total, energies in uJ, traffic in KiB.

    With `width` (a terminal's columns) the columns that do not fit are left out, the least
    telling first (energy components, then SRAM traffic), and a last line says so."""
    head = (f"{record.network} on {record.arch}, dataflow {record.dataflow}, {record.model} model, "
            f"method {record.method}, batch {record.batch}, quantizer {record.quantizer} "
            f"(mapper objective: {record.objective})")
    comps = components([record.totals.energy_breakdown_pj])
    cols = ["layer", "MMACs", "cycles", "util", "energy uJ",
            *[f"{c} uJ" for c in comps], "DRAM rd KiB", "DRAM wr KiB",
            "SRAM rd KiB", "SRAM wr KiB"]
    rows = [_table_row(layer.name, layer.stats, comps) for layer in record.layers]
    rows.append(_table_row("TOTAL", record.totals, comps))
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    keep = _fitting(widths, [0, 1, 2, 3, 4, *range(len(cols) - 4, len(cols)),
                             *range(5, len(cols) - 4)], width)
    line = lambda cells: "  ".join(cells[i].ljust(widths[i]) if i == 0
                                   else cells[i].rjust(widths[i]) for i in keep)
    body = [line(cols), line(["-" * w for w in widths])]
    body += [line(r) for r in rows[:-1]] + [line(["-" * w for w in widths]), line(rows[-1])]
    if len(keep) < len(cols):
        body.append(f"({len(cols) - len(keep)} columns left out to fit {width} columns; "
                    f"--wide shows them)")
    head = textwrap.fill(head, width) if width else head
    return "\n".join([head, *body, ""])


def _fitting(widths: list[int], priority: list[int], width: int | None) -> list[int]:
    """The columns to print, in table order: all without `width`, else the first five and
    then, in `priority` order, those that still fit."""
    if width is None:
        return list(range(len(widths)))
    keep = priority[:5]
    for i in priority[5:]:
        if sum(widths[j] + 2 for j in keep) + widths[i] > width:
            break
        keep.append(i)
    return sorted(keep)


def _table_row(name, s, comps) -> list[str]:
    uj = lambda pj: f"{pj / 1e6:.2f}"
    kib = lambda b: f"{b / 1024:.1f}"
    return [name, f"{s.macs / 1e6:.2f}", str(s.cycles), f"{s.utilization:.3f}", uj(s.energy_pj),
            *[uj(s.energy_breakdown_pj.get(c, 0.0)) for c in comps],
            kib(s.dram_read_bytes), kib(s.dram_write_bytes), kib(s.sram_read_bytes),
            kib(s.sram_write_bytes)]
