# rr-mobilenet: every target runs inside the project-local virtual environment
# that `make install` creates; nothing needs to be installed or exported by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Parallel test workers (pytest-xdist); `make test JOBS=1` runs serially.
JOBS   ?= auto
OUT    ?= out

.PHONY: install demo analyze test test-py sim bench clean help

help:
	@echo "make install  - create .venv and install rr-mobilenet with its pinned dependencies"
	@echo "make demo     - set up and run the main job on the embedded default"
	@echo "make test     - every test: Python (tests/) and RTL (tb/), in parallel"
	@echo "make sim      - the RTL testbenches only (cocotb + Verilator), in parallel"
	@echo "make analyze  - the paper's complexity and on-chip-memory analysis for every preset"
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

demo: analyze

test: install
	$(BIN)/python -m pytest -n $(JOBS) tests tb

test-py: install
	$(BIN)/python -m pytest -n $(JOBS) tests

sim: install
	$(BIN)/python -m pytest -n $(JOBS) tb

clean:
	rm -rf build sim_build $(OUT) .pytest_cache .hypothesis
