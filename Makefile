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
# A target whose recipe fails is removed (a half-written result is never taken as built).
.DELETE_ON_ERROR:
# The demo's training run (seed and torch threads: same values => same weights),
# and how many test images go through the RTL.
SEED   ?= 0
THREADS ?= 1
RTL_IMAGES ?= 16
RUN    := $(TINY)/train
ARTIFACT := $(RUN)/artifact/manifest.json
TEST   := $(TINY)/test
HW_SOURCES := $(wildcard hw/*.py hw/*/*.py rrm/*.py)
STAGE  := @sh scripts/stage.sh

.PHONY: install demo analyze train train-seeds verilog test test-py sim sim-full cycles synth timing sweep bench mutate clean help

help:
	@echo "make install  - create .venv and install rr-mobilenet with its pinned dependencies"
	@echo "make demo     - set up and run the main job on the embedded default"
	@echo "make test     - every test: Python (tests/) and RTL (tb/), in parallel"
	@echo "make sim      - the RTL testbenches only (cocotb + Verilator), in parallel"
	@echo "make sim-full - rr-mobilenet at full size in Verilator on one image, cycles against the model"
	@echo "               (PRESET=rr-mobilenet-fit, -fast or -max: configurations that fit the XCZU9EG)"
	@echo "make cycles   - the cycle model of every preset (cycles, ms, GOPS, fps)"
	@echo "make synth    - Yosys resource estimate of rr-mobilenet (needs yosys on the PATH; PRESET=...)"
	@echo "make timing   - logic levels and fan-out after Yosys mapping (PRESET=tiny for a quick one)"
	@echo "make sweep    - design-space sweep: cycles against DSP/LUT/BRAM18K, Pareto table and plot"
	@echo "make analyze  - the paper's complexity and on-chip-memory analysis for every preset"
	@echo "make train    - train, prune and export the tiny network on the embedded digits"
	@echo "make train-seeds - train tiny with seeds 0, 1 and 2 and print the accuracy table (benchmark)"
	@echo "make verilog  - every hardware block's Verilog for the tiny preset, linted"
	@echo "make bench    - golden model speed against torch float32 on the full-size network"
	@echo "make clean    - remove build outputs (keeps .venv)"

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

analyze: $(OUT)/analysis.done

$(OUT)/analysis.done: $(wildcard rrm/*.py) scripts/memory_plot.py | $(STAMP)
	@mkdir -p $(OUT)
	$(STAGE) "demo 1/7: the paper's complexity and memory analysis of every preset" \
	    "rrm analyze failed on the preset named above (its message says why); see docs/analysis.md." \
	    sh -c 'for preset in tiny mobilenet-v1 rr-mobilenet; do \
	        $(BIN)/rrm analyze --preset $$preset --plot $(OUT)/memory-$$preset.png --force || exit $$?; echo; done'
	@touch $@

# The main job on the embedded default, in stages that make reuses when their inputs
# have not changed (a second `make demo` only prints the report's head): analyse the
# presets; train + prune + export tiny on the digits that ship with scikit-learn
# (an interrupted training resumes); the bit-exact golden model on the whole test
# split; every block's Verilog, linted; the whole accelerator's RTL on the first
# RTL_IMAGES test images (rerun only when the artifact or the hardware changes); one
# report, $(TINY)/report.md, with its plots.
demo: $(TINY)/report.md
	@echo
	@sed -n '/^## Headline/,/^## Accuracy/p' $(TINY)/report.md | sed '$$d'
	@echo "demo done: report $(TINY)/report.md (plots beside it), artifact $(RUN)/artifact, Verilog $(TINY)/verilog"

$(TINY)/report.md: $(OUT)/analysis.done $(ARTIFACT) $(TEST)/logits.npy $(TINY)/verilog/.done $(TINY)/rtl.json \
		scripts/commands/report.py scripts/demo_report.py scripts/rtl_report.py
	$(STAGE) "demo 7/7: report" "rrm report could not write $@; its message is above." \
	    $(BIN)/rrm report --train $(RUN) --test $(TEST) --rtl $(TINY)/rtl.json --out $(TINY)

$(ARTIFACT): | $(STAMP)
	$(STAGE) "demo 2/7: training (float, QAT, pruning, export)$(if $(wildcard $(RUN)/checkpoint.pt), resumed from $(RUN)/checkpoint.pt)" \
	    "Run make demo again to resume from the last finished epoch; to start over: rm -rf $(RUN)." \
	    $(BIN)/rrm train --preset tiny --out $(RUN) --seed $(SEED) --threads $(THREADS) \
	    $(if $(wildcard $(RUN)/checkpoint.pt),--resume)

$(TEST)/labels.npy: | $(STAMP)
	$(STAGE) "demo 3/7: the digits test split" "rrm dataset failed; check that make install finished (rm $(STAMP) and run it again)." \
	    $(BIN)/rrm dataset --preset tiny --out $(TEST) --force

$(TEST)/logits.npy: $(ARTIFACT) $(TEST)/labels.npy
	$(STAGE) "demo 4/7: golden model on the test split" \
	    "rrm golden refused the artifact or the images (the message is above); rm -rf $(RUN) $(TEST) and run make demo again." \
	    sh -c '$(BIN)/rrm golden $(RUN)/artifact $(TEST)/images.npy --labels $(TEST)/labels.npy \
	        --out $(TEST)/logits.npy --force > $(TEST)/golden.txt && grep "top-1 accuracy" $(TEST)/golden.txt'

$(TINY)/verilog/.done: $(HW_SOURCES) | $(STAMP)
	$(STAGE) "demo 5/7: every block's Verilog, linted" \
	    "Verilog generation or the Verilator lint failed for the block named above; see docs/hw.md (make verilog repeats this stage)." \
	    sh -c 'for block in $$($(BIN)/rrm verilog --list-blocks); do \
	        $(BIN)/rrm verilog --block $$block --preset tiny --out $(TINY)/verilog --lint --force || exit $$?; done'
	@touch $@

$(TINY)/rtl.json: $(ARTIFACT) $(TEST)/labels.npy $(HW_SOURCES)
	$(STAGE) "demo 6/7: the accelerator's RTL on $(RTL_IMAGES) test images (Verilator)" \
	    "The RTL run failed or differs from golden (the first differing layer is named above; the simulator's log is under build/sim/). See docs/accelerator.md." \
	    $(BIN)/rrm sim $(RUN)/artifact $(TEST)/images.npy --limit $(RTL_IMAGES) --out $@ --force

train: $(ARTIFACT)
	@cat $(RUN)/report.md

# A benchmark, not a test: seeds 0, 1 and 2 with the default recipe, one table.
train-seeds: install
	$(BIN)/rrm train-seeds --out $(OUT)/seeds --threads $(THREADS)

verilog: $(TINY)/verilog/.done

bench: install
	$(BIN)/rrm golden --preset rr-mobilenet --random-weights --bench

test: install
	$(BIN)/python -m pytest -n $(JOBS) --durations=25 tests tb

test-py: install
	$(BIN)/python -m pytest -n $(JOBS) tests

sim: install
	$(BIN)/python -m pytest -n $(JOBS) tb

PRESET ?= rr-mobilenet

sim-full: install
	$(BIN)/rrm sim-full --preset $(PRESET)

cycles: install
	$(BIN)/rrm cycles --preset tiny
	$(BIN)/rrm cycles --preset rr-mobilenet
	$(BIN)/rrm cycles --preset rr-mobilenet-fit
	$(BIN)/rrm cycles --preset rr-mobilenet-fast
	$(BIN)/rrm cycles --preset rr-mobilenet-max

synth: install
	$(BIN)/rrm synth --preset $(PRESET)

timing: install
	$(BIN)/rrm timing --preset $(PRESET)

sweep: install
	$(BIN)/rrm sweep --out $(OUT)/sweep

# A benchmark, not a test: SAMPLE mutants drawn by Yosys's mutate pass (needs yosys).
SAMPLE ?= 20

mutate: install
	$(BIN)/rrm mutate --sample $(SAMPLE) --seed $(SEED)

clean:
	rm -rf build sim_build $(OUT) .pytest_cache .hypothesis
