# rr-mobilenet: every target runs inside the project-local virtual environment
# that `make install` creates; nothing needs to be installed or exported by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Parallel test workers (pytest-xdist); `make test JOBS=1` runs serially.
JOBS   ?= auto
OUT    ?= out

TINY   := $(OUT)/tiny

.PHONY: install demo analyze train verilog test test-py sim sim-full cycles synth bench clean help

help:
	@echo "make install  - create .venv and install rr-mobilenet with its pinned dependencies"
	@echo "make demo     - set up and run the main job on the embedded default"
	@echo "make test     - every test: Python (tests/) and RTL (tb/), in parallel"
	@echo "make sim      - the RTL testbenches only (cocotb + Verilator), in parallel"
	@echo "make sim-full - rr-mobilenet at full size in Verilator on one image, cycles against the model"
	@echo "make cycles   - the cycle model of every preset (cycles, ms, GOPS, fps)"
	@echo "make synth    - Yosys resource estimate of rr-mobilenet (needs yosys on the PATH)"
	@echo "make analyze  - the paper's complexity and on-chip-memory analysis for every preset"
	@echo "make train    - train, prune and export the tiny network on the embedded digits"
	@echo "make verilog  - every hardware block's Verilog for the tiny preset, linted"
	@echo "make bench    - golden model speed against torch float32 on the full-size network"
	@echo "make clean    - remove build outputs (keeps .venv)"

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

analyze: install
	@mkdir -p $(OUT)
	@for preset in tiny mobilenet-v1 rr-mobilenet; do \
	    $(BIN)/rrm analyze --preset $$preset --plot $(OUT)/memory-$$preset.png || exit $$?; \
	    echo; \
	done

# The main job on the embedded default: analyse the presets, train + prune +
# export tiny on the digits that ship with scikit-learn, run the bit-exact golden
# model on the test split, write and lint the hardware blocks' Verilog.
demo: analyze train verilog
	$(BIN)/rrm dataset --preset tiny --out $(TINY)/test
	$(BIN)/rrm golden $(TINY)/artifact $(TINY)/test/images.npy --labels $(TINY)/test/labels.npy \
	    --out $(TINY)/test/logits.npy > $(TINY)/test/golden.txt
	@grep "top-1 accuracy" $(TINY)/test/golden.txt | sed "s/^/golden model on the test split: /"
	$(BIN)/rrm sim $(TINY)/artifact $(TINY)/test/images.npy --limit 16 --out $(TINY)/rtl.json
	$(BIN)/python -m scripts.rtl_report $(TINY)/rtl.json $(TINY)/artifact $(TINY)/test/images.npy \
	    $(TINY)/test/labels.npy --out $(TINY)
	@echo "demo done: report $(TINY)/report.md and $(TINY)/rtl.md, artifact $(TINY)/artifact, Verilog $(TINY)/verilog, plots $(OUT)/"

train: install
	$(BIN)/rrm train --preset tiny --out $(TINY) $(if $(wildcard $(TINY)/checkpoint.pt),--resume)
	@cat $(TINY)/report.md

verilog: install
	@for block in $$($(BIN)/rrm verilog --list-blocks); do \
	    $(BIN)/rrm verilog --block $$block --preset tiny --out $(TINY)/verilog --lint || exit $$?; \
	done

bench: install
	$(BIN)/rrm golden --preset rr-mobilenet --random-weights --bench

test: install
	$(BIN)/python -m pytest -n $(JOBS) tests tb

test-py: install
	$(BIN)/python -m pytest -n $(JOBS) tests

sim: install
	$(BIN)/python -m pytest -n $(JOBS) tb

sim-full: install
	$(BIN)/python -m scripts.sim_full

cycles: install
	$(BIN)/rrm cycles --preset tiny
	$(BIN)/rrm cycles --preset rr-mobilenet

synth: install
	$(BIN)/rrm synth --preset rr-mobilenet

clean:
	rm -rf build sim_build $(OUT) .pytest_cache .hypothesis
