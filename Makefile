# make demo | make test | make bench | make lint — each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT := demo_out
# The three demo archs, and tpu_like with the units each method needs (the <base>_<method>
# presets): the bare presets can run only the baseline.
DEMO_ARCHS := tpu_like,eyeriss_like,gemmini_like,tpu_like_winograd,tpu_like_smartdeal,tpu_like_xnor,tpu_like_palquant
# The model of every run: analytical, or cycle (make demo DEMO_MODEL=cycle).
DEMO_MODEL ?= analytical

# The `cacti` energy model's side venv (hwcomponents needs Python >= 3.12; the project runs on
# 3.11): the pins of pyproject.toml's `cacti` extra, and CACTI built from the source they ship.
HWC_VENV := $(VENV)/hwcomponents
HWC_STAMP := $(HWC_VENV)/.installed
PYTHON312 ?= $(shell for p in python3.12 $(HOME)/.pyenv/versions/3.12*/bin/python3.12; do \
  $$p -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { echo $$p; break; }; done)
# The standard cells of `dlaforge rtl synth`: Debian's qflow-tech-osu018 (OSU 0.18 um Liberty),
# unpacked into the venv (apt-get download + dpkg -x: nothing installed system-wide).
LIBERTY_DEB := qflow-tech-osu018=1.3.17+dfsg.1-3
LIBERTY := $(VENV)/usr/share/qflow/tech/osu018/osu018_stdcells.lib

.PHONY: demo test test-long bench lint tools clean wheel-check

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Icarus Verilog, the default simulator of the RTL tests (Debian package, installed when missing),
# the cacti energy model's side venv and the liberty of `rtl synth`.
tools: $(HWC_STAMP) $(LIBERTY)
	@command -v iverilog >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && apt-get install -y -qq iverilog >/dev/null); \
	  else echo "iverilog is missing: install Icarus Verilog (apt-get install iverilog)"; exit 1; fi; }

# g++ (Debian, when missing) builds CACTI; without a Python 3.12 the cacti model is left out (its
# tests skip, saying why).
$(HWC_STAMP): pyproject.toml | $(STAMP)
	@if [ -z "$(PYTHON312)" ]; then \
	  echo "no Python 3.12: the cacti energy model (hwcomponents) is not installed"; exit 0; fi; \
	command -v g++ >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && apt-get install -y -qq g++ make >/dev/null); \
	  else echo "g++ is missing: install it (apt-get install g++) to build CACTI"; exit 1; fi; }; \
	set -e; test -x $(HWC_VENV)/bin/python || $(PYTHON312) -m venv $(HWC_VENV); \
	$(HWC_VENV)/bin/python -m pip install -q $$($(PY) -c "import tomllib; \
	  print(' '.join(d.split(';')[0].strip() for d in tomllib.load(open('pyproject.toml', 'rb'))\
	  ['project']['optional-dependencies']['cacti']))"); \
	cacti=$$($(HWC_VENV)/bin/python -c "import hwcomponents_cacti, os; \
	  print(os.path.join(os.path.dirname(hwcomponents_cacti.__file__), 'cacti'))"); \
	$(MAKE) -s -C $$cacti opt NTHREADS=2 -j2 >$(HWC_VENV)/cacti-build.log 2>&1 || { \
	  tail -20 $(HWC_VENV)/cacti-build.log; exit 1; }; \
	touch $(HWC_STAMP)

$(LIBERTY): | $(STAMP)
	cd $(VENV) && { apt-get download -qq $(LIBERTY_DEB) 2>/dev/null || \
	  { apt-get update -qq && apt-get download -qq $(LIBERTY_DEB) 2>/dev/null; }; } && \
	  dpkg -x qflow-tech-osu018_*.deb . && rm -f qflow-tech-osu018_*.deb
	test -f $(LIBERTY)

# ResNet-18 on each demo arch, every dataflow it supports, baseline and every method it can run
# (the report lists the others with the reason), after the Verilog of edge_tiny.
# Progress on stderr; the path of the report's index.html last.
demo: $(STAMP)
	mkdir -p $(DEMO_OUT)
	$(PY) -m dlaforge.cli rtl generate --arch edge_tiny --out $(DEMO_OUT)/rtl_edge_tiny
	$(PY) -m dlaforge.cli report --arch $(DEMO_ARCHS) --network resnet18 --model $(DEMO_MODEL) \
	  --out $(DEMO_OUT)/report

test: $(STAMP) tools
	$(PY) -m pytest

# The slow RTL sweeps that `make test` leaves out (pytest's `long` marker).
test-long: $(STAMP) tools
	$(PY) -m pytest -m long

bench: $(STAMP) tools
	$(PY) bench/bench_analytical.py
	$(PY) bench/validate_eyeriss.py
	$(PY) bench/bench_methods.py
	$(PY) bench/bench_papers.py         # the seeds' system claims on archs modelled on their hardware (bench/papers/)
	$(PY) bench/bench_cycle.py          # SCALE-Sim itself: about 15 minutes
	$(PY) bench/scalesim_differential.py
	$(PY) bench/bench_rtl.py
	$(PY) bench/bench_method_rtl.py
	$(PY) bench/bench_rtl_network.py     # a small CNN chained through DRAM on Icarus and Verilator
	$(PY) bench/bench_startup.py        # cold start of --help, list and an analytical simulate
	$(PY) bench/bench_controller.py     # the mapped ws controller against the old program, per ResNet-18 layer
	$(PY) bench/bench_workloads.py      # ONNX import times; ZigZag's models if ZIGZAG_WORKLOADS is set
	$(PY) bench/bench_accelforge.py     # beside AccelForge 1.0.467 (own Python 3.12 venv), same arch and mapping
	$(PY) bench/bench_sweep.py          # 1,000 ResNet-18 points four ways: 15-20 minutes

# The wheel installed non-editable into a fresh venv, used from outside the checkout.
wheel-check: $(STAMP)
	PYTHON=$(PYTHON) bash .ci/wheel_check

lint: $(STAMP)
	$(PY) -m compileall -q -x 'bench/_work' dlaforge sim hw workloads reports bench tests

clean:
	rm -rf $(DEMO_OUT) bench/_work .pytest_cache .hypothesis
