"""Build a hardware block's Verilog into a cached simulator build and run cocotb tests on it.

:func:`build_design` writes a block's Verilog exactly as ``rrm verilog`` does
(:func:`hw.flow.verilog.block_verilog`) and compiles it with cocotb's Python
runner into ``build/sim/<block>-<key>/``. The Verilog text is generated first and
the key hashes what the build is made of: that text, the simulator's name and
version, the build flags and the waveform setting (:func:`design_key`). Whatever
changes the hardware (an ``hw/`` source, the bounds and sizing in ``rrm/``, the
spec's layers) changes the text, so an unchanged design is never rebuilt and a
changed one never reuses a stale build. Concurrent pytest-xdist
workers are safe (:func:`tb.build_cache.made_once`: a file lock, a staging directory
renamed into place only when complete).
A Verilator build links the run-time library that :mod:`tb.verilator_runtime` compiles
once, and compiles a test-sized design as one C++ translation unit
(ONE_UNIT_MAX_VERILOG_BYTES).

:func:`run_cocotb` runs a cocotb test module against a build; a failing cocotb
test fails the calling pytest test (the runner's results file is checked).
Waveforms: ``RRM_WAVES=1`` builds with tracing (a separate cache entry) and
writes ``dump.fst`` into the test directory, or ``dump.vcd`` when the C
compiler has no ``lz4.h`` (Verilator 5.048's FST writer needs liblz4's
headers); ``RRM_WAVES=vcd`` forces VCD.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from rrm.spec import Spec
from rrm.toolchain import setup_verilator
from hw.blocks.dsp48e2 import simulation_models
from hw.flow.verilog import block_verilog, module_name, verilog_digest

from .build_cache import made_once
from .verilator_runtime import CLASSES_MK, runtime_archive, same_settings, shared_runtime_make_flags

ROOT = Path(__file__).resolve().parent.parent
SIM_DIR = ROOT / "build" / "sim"
#: Converted Verilog, kept by what it is made from (hw.flow.verilog.block_verilog's cache).
VERILOG_DIR = ROOT / "build" / "verilog"
TIMESCALE = ("1ns", "1ps")

#: Verilator flags. Amaranth's Verilog is lint-clean under the waivers of
#: hw/flow/verilog.py (see there); the simulation build only needs
#: -Wno-fatal so that a new lint warning is reported in the log but never stops a test.
#: cocotb's runner makes every signal public (--public-flat-rw), which keeps each of
#: Amaranth's thousands of alias wires alive in every evaluation (rr-mobilenet: 66 MB of
#: C++ and about 120 cycles/s); the testbenches use only the top's ports, so the build
#: turns that off and makes the top's signals public with a configuration file.
VERILATOR_BUILD_ARGS = ("-Wno-fatal", "-O2", "--no-public-flat-rw")


def public_top_config(top: str) -> str:
    """A Verilator configuration file that makes the signals of module ``top`` public."""
    return f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n'

#: Make variables for compiling the Verilated C++: -O0 builds the 32-lane PEs about
#: 40% faster than Verilator's default -Os, and the unit tests simulate only
#: thousands of cycles, so compile time is what counts.
VERILATOR_MAKE_FLAGS = ("OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0")
#: Designs whose Verilog is shorter than this (every test's; the full-size presets' are 12 to
#: 31 MB) compile as one C++ translation unit (VM_PARALLEL_BUILDS=0) instead of a file per
#: class behind two precompiled headers: about half the compiler's time (a tiny accelerator,
#: 13 s of CPU against 8), at the cost of using one core per build, where the suite's workers
#: use them all anyway.
ONE_UNIT_MAX_VERILOG_BYTES = 8_000_000
ONE_UNIT_MAKE_FLAG = "VM_PARALLEL_BUILDS=0"


def waves_requested() -> str | None:
    """The waveform format the environment asks for: None, "fst" or "vcd".

    RRM_WAVES=1 (or fst) gives FST when liblz4's header is installed, else VCD.
    """
    value = os.environ.get("RRM_WAVES", "0").strip().lower()
    if value in ("", "0", "no", "false"):
        return None
    if value == "vcd" or not _have_lz4_header():
        return "vcd"
    return "fst"


def _have_lz4_header() -> bool:
    probe = subprocess.run(["c++", "-x", "c++", "-E", "-"], input="#include <lz4.h>\n",
                           capture_output=True, text=True)
    return probe.returncode == 0


@dataclass(frozen=True)
class Design:
    """A compiled design: where it lives and what building it cost."""

    block: str
    spec: Spec
    simulator: str
    build_dir: Path
    build_seconds: float   # seconds the Verilog conversion + compile took (0 if cached)
    cached: bool
    waves: str | None      # None, "fst" or "vcd"


#: How each simulator reports its version: the first line of the command's output.
VERSION_COMMANDS = {"verilator": ("verilator", "--version"), "icarus": ("iverilog", "-V")}


@functools.lru_cache(maxsize=None)
def simulator_version(simulator: str) -> str:
    """The simulator's version line (``verilator --version``; ``iverilog -V``'s first line)."""
    try:
        command = VERSION_COMMANDS[simulator]
    except KeyError:
        raise ValueError(f"no version query for simulator {simulator!r} "
                         f"(known: {', '.join(VERSION_COMMANDS)})") from None
    if simulator == "verilator":
        setup_verilator()
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        raise RuntimeError(f"{command[0]} is not installed: cannot build for {simulator}") from None
    lines = [line.strip() for line in (result.stdout + "\n" + result.stderr).splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"`{' '.join(command)}` printed no version")
    return lines[0]


@functools.lru_cache(maxsize=None)
def _verilog_text(block: str, spec_json: str) -> str:
    # One conversion per design and process: the hardware sources cannot change under a running test session.
    return block_verilog(block, Spec.from_json(spec_json), VERILOG_DIR)


def design_verilog(block: str, spec: Spec) -> str:
    """The generated Verilog a build of ``block`` for ``spec`` compiles (converted once per
    process and spec)."""
    return _verilog_text(block, spec.to_json())


def _build_args(simulator: str, waves: str | None) -> list[str]:
    if simulator != "verilator":
        return []
    return list(VERILATOR_BUILD_ARGS) + (["--trace-fst"] if waves == "fst" else [])


def _build_flags(block: str, simulator: str, waves: str | None, one_unit: bool = False) -> dict:
    """Everything given to the build besides the Verilog: runner arguments and make variables
    (``one_unit``: the C++ as one translation unit, see ONE_UNIT_MAX_VERILOG_BYTES)."""
    return {"toplevel": module_name(block), "timescale": list(TIMESCALE),
            "args": _build_args(simulator, waves),
            "config": public_top_config(module_name(block)) if simulator == "verilator" else None,
            "make": (list(VERILATOR_MAKE_FLAGS) + ([ONE_UNIT_MAKE_FLAG] if one_unit else []))
            if simulator == "verilator" else []}


def icarus_time_zero(verilog_text: str) -> str:
    """Yosys's Verilog for Icarus: wake every ``always @*`` block once at time 1.

    Yosys puts a never-changing register in every combinational block's
    sensitivity list so that simulators evaluate the block at time 0; Icarus does
    not, so an output that depends only on a register that keeps its initial value
    (an FSM that stays in its first state) would stay X. Toggling that register
    once at time 1 (before any clock edge) evaluates each block.
    """
    out = []
    for line in verilog_text.splitlines():
        out.append(line)
        stripped = line.strip()
        if stripped.startswith("reg \\$auto$verilog_backend") and "dump_module" in stripped \
                and stripped.endswith("= 0;"):
            name = stripped[len("reg "):-len("= 0;")].strip()
            out.append(f"  initial #1 {name} = 1;")
    return "\n".join(out) + "\n"


def design_key(verilog_text: str, simulator: str, flags: dict, waves: str | None) -> str:
    """Cache key of a build (16 hex digits): sha256 of the Verilog text, the simulator's
    name and version, the build flags and the waveform setting."""
    text = json.dumps({
        "verilog": verilog_digest(verilog_text),
        "simulator": simulator, "version": simulator_version(simulator),
        "flags": flags, "waves": waves,
    }, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_design(block: str, spec: Spec, simulator: str = "verilator",
                 verilog_text: str | None = None) -> Design:
    """Compile block ``block`` of ``spec`` for ``simulator``, reusing a cached build;
    ``verilog_text`` replaces the generated Verilog (e.g. ``rrm vivado``'s, with init files)."""
    waves = waves_requested()
    setup_verilator()
    start = time.monotonic()
    if verilog_text is None:
        verilog_text = _verilog_text(block, spec.to_json())
    if simulator == "icarus":
        verilog_text = icarus_time_zero(verilog_text)
    flags = _build_flags(block, simulator, waves, one_unit=len(verilog_text) < ONE_UNIT_MAX_VERILOG_BYTES)
    models = simulation_models(verilog_text)   # the DSP48E2 model where the design instances it
    key = design_key(verilog_text + "".join(model.read_text() for model in models), simulator, flags, waves)

    def make(staging: Path) -> None:
        source = staging / f"{block}.v"   # the name hw.flow.verilog.write_block_verilog gives it
        source.write_text(verilog_text)
        sources = [source, *models]
        runtime = None
        if simulator == "verilator":
            # only the top's signals are visible to cocotb (see above)
            config = staging / "public.vlt"
            config.write_text(public_top_config(module_name(block)))
            sources.append(config)
            # the shared run-time library, not a copy per design (tb/verilator_runtime.py)
            probe_flags = _build_flags(block, simulator, waves)   # as a design's, one-unit aside
            runtime = runtime_archive(SIM_DIR, probe_flags, simulator_version(simulator), waves,
                                      functools.partial(_compile, simulator=simulator, waves=waves,
                                                        make_flags=probe_flags["make"]))
        try:
            _compile_linking(sources, module_name(block), staging, simulator, waves, flags["make"], runtime)
        except BaseException:
            failed = SIM_DIR / f"failed-{block}-{key}.log"
            if (staging / "build.log").is_file():
                shutil.copyfile(staging / "build.log", failed)
            raise AssertionError(f"building {block} failed; log: {failed}") from None
        (staging / "build.json").write_text(json.dumps(
            {"block": block, "key": key, "simulator": simulator, "version": simulator_version(simulator),
             "flags": flags, "waves": waves, "build_seconds": round(time.monotonic() - start, 2)}))

    final, made = made_once(SIM_DIR, f"{block}-{key}", "build.json", make)
    seconds = time.monotonic() - start if made else 0.0
    return Design(block, spec, simulator, final, seconds, not made, waves)


def _compile_linking(sources: list[Path], top: str, build_dir: Path, simulator: str, waves: str | None,
                     make_flags: list[str], runtime: Path | None) -> None:
    """:func:`_compile`, linking the shared run-time archive in ``runtime`` (None: none); a
    build whose makefile asks for other run-time sources or VM_* settings than the archive's
    is made again with its own copy."""
    shared = shared_runtime_make_flags(runtime) if runtime else None
    if shared is None:
        _compile(sources, top, build_dir, simulator, waves, make_flags)
        return
    try:
        _compile(sources, top, build_dir, simulator, waves, make_flags + shared)
        matches = same_settings(build_dir, runtime)
    except (Exception, SystemExit):   # e.g. the link missed a run-time source the archive lacks
        if not (build_dir / CLASSES_MK).is_file() or same_settings(build_dir, runtime):
            raise
        matches = False
    if not matches:
        for path in build_dir.iterdir():
            if path not in sources:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        _compile(sources, top, build_dir, simulator, waves, make_flags)


def _compile(sources: list[Path], top: str, build_dir: Path, simulator: str, waves: str | None,
             make_flags: list[str]) -> None:
    """Run cocotb's runner build (Verilator: verilate, then make with
    the make variables ``make_flags``) of ``sources`` with top ``top`` in ``build_dir``;
    its log is ``build_dir/build.log``."""
    from cocotb_tools.runner import get_runner
    runner = get_runner(simulator)
    makeflags = os.environ.get("MAKEFLAGS", "")
    if simulator == "verilator":
        os.environ["MAKEFLAGS"] = " ".join([makeflags, *make_flags]).strip()
    try:
        runner.build(sources=sources, hdl_toplevel=top, build_dir=build_dir,
                     always=True, build_args=_build_args(simulator, waves), timescale=TIMESCALE,
                     waves=waves is not None, log_file=build_dir / "build.log")
    finally:
        os.environ["MAKEFLAGS"] = makeflags


def run_cocotb(design: Design, test_module: str, test_dir: Path, config: dict | None = None,
               seed: int = 1) -> float:
    """Run the cocotb tests of ``test_module`` on ``design``; returns the run's wall seconds.

    ``config`` (JSON-serialisable) reaches the test module as the environment
    variable RRM_TB_CONFIG, together with the block name and spec (see
    :func:`tb.harness.load_config`). A failing cocotb test raises AssertionError.
    """
    from cocotb_tools.runner import get_results, get_runner
    setup_verilator()
    runner = get_runner(design.simulator)
    payload = {"block": design.block, "spec": design.spec.to_dict(), **(config or {})}
    test_dir.mkdir(parents=True, exist_ok=True)
    results = test_dir / "results.xml"
    start = time.monotonic()
    try:
        runner.test(test_module=test_module, hdl_toplevel=module_name(design.block), hdl_toplevel_lang="verilog",
                    build_dir=design.build_dir,
                    test_dir=test_dir, seed=seed, waves=design.waves is not None, timescale=TIMESCALE,
                    extra_env={"RRM_TB_CONFIG": json.dumps(payload)}, results_xml=str(results),
                    test_args=(["--trace-file", str(test_dir / f"dump.{design.waves}")]
                               if design.waves else []))
    except SystemExit as exc:  # the runner exits when a test failed
        raise AssertionError(f"cocotb tests in {test_module} failed (exit {exc.code}); "
                             f"see {test_dir}") from None
    seconds = time.monotonic() - start
    total, failed = get_results(results)
    assert total > 0, f"no cocotb test ran from {test_module}"
    assert failed == 0, f"{failed} of {total} cocotb tests failed in {test_module}; see {test_dir}"
    return seconds
