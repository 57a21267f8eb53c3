"""Shared test helpers: SCALE-Sim config files and small arch YAMLs written to tmp_path."""

import textwrap

import pytest
import yaml
from hypothesis import settings

# Property tests draw the same examples on every run, so CI passes or fails on the code, not the
# draw; `pytest --hypothesis-profile=explore` draws new ones.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=200)
settings.load_profile("ci")

from scalesim_cfg import SCALESIM_CFG  # tests/ is on sys.path: the folder of this conftest


@pytest.fixture(scope="session", autouse=True)
def cell_count_cache(tmp_path_factory):
    """Reports count PE-array cells (hw/area.py) into a cache: one for the session, never the
    user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DLAFORGE_CACHE", str(tmp_path_factory.mktemp("dlaforge_cache")))
        yield


@pytest.fixture
def scalesim_cfg(tmp_path):
    def write(rows=8, cols=8, dataflow="os", mode="CALC", bandwidth=10, ifmap_kb=64,
              filter_kb=64, ofmap_kb=64, name="test", bank_bandwidth=10,
              bank_num=10):
        path = tmp_path / f"{name}_{rows}x{cols}_{dataflow}.cfg"
        path.write_text(SCALESIM_CFG.format(**locals()))
        return path
    return write


TINY_ARCH = {
    "name": "tiny",
    "pe_array": {"rows": 4, "cols": 4, "dataflows": ["ws", "os", "is"]},
    "memory": [
        {"name": "reg", "per_pe": True, "size_bytes": 8, "word_bits": 8,
         "operands": ["ifmap", "weight", "ofmap"], "double_buffered": False},
        {"name": "buf", "size_bytes": 4096, "word_bits": 32,
         "operands": ["ifmap", "weight", "ofmap"]},
    ],
    "dram": {"type": "LPDDR4", "bandwidth_bytes_per_cycle": 4, "latency_cycles": 10},
}


@pytest.fixture
def arch_yaml(tmp_path):
    """Write TINY_ARCH with `changes` applied (a dict of dotted paths to values) to a file."""
    def write(changes=None, raw=None):
        data = yaml.safe_load(yaml.safe_dump(TINY_ARCH))
        for dotted, value in (changes or {}).items():
            *path, last = dotted.split(".")
            target = data
            for key in path:
                target = target[int(key)] if isinstance(target, list) else target[key]
            target[int(last) if isinstance(target, list) else last] = value
        path = tmp_path / "arch.yaml"
        path.write_text(raw if raw is not None else yaml.safe_dump(data))
        return path
    return write


@pytest.fixture
def synth_cache(tmp_path, monkeypatch):
    """hw/area's cache of `rtl synth` figures, this test's own (skipped without a Liberty):
    a function storing an arch's synthesized µm² and cells by hand (no Yosys run)."""
    from dlaforge.errors import SpecError
    from dlaforge.hw import area
    from dlaforge.hw.synth import find_liberty
    try:
        find_liberty()
    except SpecError as exc:
        pytest.skip(f"no Liberty here: {exc}")
    monkeypatch.setattr(area, "SYNTH_CACHE", f"synth_area_{tmp_path.name}.json")

    def store(arch, area_um2: float, cells: int):
        area.store_synth_area(arch, {"arch": arch.name, "liberty": "cells.lib", "memories": 4,
                                     "total_area_um2": area_um2, "total_cells": cells,
                                     "seconds": 1.0, "blocks": {}})
    return store


def dedent(text):
    return textwrap.dedent(text).lstrip()
