# make demo | make test | make bench | make lint — each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT := demo_out
DEMO_ARCHS := tpu_like eyeriss_like gemmini_like nvdla_small edge_tiny

.PHONY: demo test bench lint tools clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Icarus Verilog, the default simulator of the RTL tests (Debian package, installed when missing).
tools:
	@command -v iverilog >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && apt-get install -y -qq iverilog >/dev/null); \
	  else echo "iverilog is missing: install Icarus Verilog (apt-get install iverilog)"; exit 1; fi; }

demo: $(STAMP)
	mkdir -p $(DEMO_OUT)
	for arch in $(DEMO_ARCHS); do \
	  $(PY) -m dlaforge.cli simulate --arch $$arch --network resnet18 --dataflow all \
	    --json $(DEMO_OUT)/resnet18_$$arch.json --csv $(DEMO_OUT)/resnet18_$$arch.csv || exit 1; \
	done
	@echo "demo results: $(DEMO_OUT)/resnet18_<arch>.json and .csv"

test: $(STAMP) tools
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/bench_analytical.py
	$(PY) bench/validate_eyeriss.py

lint: $(STAMP)
	$(PY) -m compileall -q dlaforge sim hw workloads reports bench tests

clean:
	rm -rf $(DEMO_OUT) bench/_work .pytest_cache .hypothesis
