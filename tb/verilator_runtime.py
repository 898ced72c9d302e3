"""Verilator's run-time library, compiled once and linked into every design's build.

Every Verilated simulator links the same run-time sources (``verilated.cpp``,
``verilated_vpi.cpp``, ...). Compiled per design they cost about 7 s of a tiny
accelerator's 13 s of C++, in every one of the test suite's builds. They do not
depend on the design, only on Verilator, the compiler flags and the waveform
setting, so :func:`runtime_archive` compiles them once, from a one-module probe
built with the same runner, flags and waves as the designs, into
``build/sim/runtime-<key>/libverilated_runtime.a``; :func:`shared_runtime_make_flags`
gives the make variables that link it instead of compiling the sources again.

:func:`same_settings` is the guard: a design whose generated makefile asks for other
run-time sources or other ``VM_*`` settings than the probe's is rebuilt with its own
copy (``build.build_design`` does that), so sharing never changes what a build links.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

from .build_cache import made_once

#: The probe design: one module, no logic; its build compiles only the run-time sources.
PROBE_TOP = "rrm_runtime_probe"
PROBE_VERILOG = f"module {PROBE_TOP}(input wire clk);\nendmodule\n"
ARCHIVE = "libverilated_runtime.a"
#: The generated makefile that lists the run-time sources and the VM_* settings.
CLASSES_MK = "Vtop_classes.mk"
#: VM_* settings that say how the design's own C++ is compiled, not the run-time's: one
#: file or one per class (Verilator picks by the design's size).
DESIGN_ONLY_SETTINGS = ("VM_PARALLEL_BUILDS",)


def build_settings(build_dir: Path) -> dict:
    """The ``VM_*`` settings of a Verilator build directory's ``Vtop_classes.mk`` that the
    run-time objects depend on: the scalar settings (``VM_TRACE = 0``, ...) and the lists of
    run-time sources (``VM_GLOBAL_FAST``, ``VM_GLOBAL_SLOW``); the design's own class lists
    and DESIGN_ONLY_SETTINGS are left out."""
    text = (build_dir / CLASSES_MK).read_text().replace("\\\n", " ")   # continuation lines joined
    settings: dict[str, object] = {}
    for name, values in re.findall(r"^(VM_\w+)\s*\+?=(.*)$", text, re.MULTILINE):
        if name.startswith("VM_GLOBAL_"):
            settings[name] = settings.get(name, []) + values.split()
        elif not (name.startswith(("VM_CLASSES_", "VM_SUPPORT_")) or name in DESIGN_ONLY_SETTINGS):
            settings[name] = values.strip()
    return settings


def same_settings(build_dir: Path, archive_dir: Path) -> bool:
    """Whether the build in ``build_dir`` asks for the run-time sources and settings the
    shared archive in ``archive_dir`` was compiled with."""
    recorded = json.loads((archive_dir / "runtime.json").read_text())["settings"]
    return build_settings(build_dir) == recorded


def runtime_key(build_flags: dict, version: str, waves: str | None) -> str:
    """Cache key of the archive (16 hex digits): the simulator's version, the build flags
    (runner arguments and make variables) and the waveform setting."""
    flags = {name: value for name, value in build_flags.items() if name not in ("toplevel", "config")}
    text = json.dumps({"version": version, "flags": flags, "waves": waves}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def runtime_archive(sim_dir: Path, build_flags: dict, version: str, waves: str | None,
                    build_probe) -> Path:
    """The directory of the shared run-time archive for these flags, compiling it on first
    use (:func:`tb.build_cache.made_once`, so that pytest-xdist workers build it once).

    ``build_probe(verilog_path, top, build_dir)`` builds a design as the designs are built
    (same runner, arguments, make variables and waves); the run-time objects it compiled
    are archived with ``ar``, and the probe's settings kept beside them in runtime.json.
    """
    key = runtime_key(build_flags, version, waves)

    def make(staging: Path) -> None:
        source = staging / f"{PROBE_TOP}.v"
        source.write_text(PROBE_VERILOG)
        build_probe([source], PROBE_TOP, staging)
        settings = build_settings(staging)
        objects = [f"{name}.o" for name in settings.get("VM_GLOBAL_FAST", []) + settings.get("VM_GLOBAL_SLOW", [])]
        missing = [name for name in objects if not (staging / name).is_file()]
        if not objects or missing:
            raise RuntimeError(f"the run-time probe in {staging} compiled no "
                               f"{', '.join(missing) or 'run-time objects'}")
        subprocess.run(["ar", "rcs", ARCHIVE, *objects], cwd=staging, check=True, capture_output=True)
        (staging / "runtime.json").write_text(json.dumps(
            {"key": key, "version": version, "waves": waves, "objects": objects, "settings": settings},
            indent=1))

    return made_once(sim_dir, f"runtime-{key}", "runtime.json", make)[0]


def shared_runtime_make_flags(archive_dir: Path) -> list[str] | None:
    """Make variables that link the shared archive instead of compiling the run-time
    sources (an empty list of them, the archive after the design's objects); None where
    the path would not survive MAKEFLAGS (it has white space)."""
    archive = (archive_dir / ARCHIVE).resolve()
    if re.search(r"\s", str(archive)):
        return None
    return ["VM_GLOBAL_FAST=", "VM_GLOBAL_SLOW=", f"LOADLIBES={archive}"]
