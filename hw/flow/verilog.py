"""Verilog of the hardware blocks: write a block's Verilog and lint it with Verilator.

:func:`write_block_verilog` converts :func:`hw.top.catalog.build_block` ``(name, spec)`` with
``amaranth.back.verilog.convert`` into one file whose top module is
``rrm_<block>`` (the testbenches simulate this same text). :func:`lint` runs ``verilator --lint-only -Wall`` with
exactly the waivers of :data:`LINT_WAIVERS`, each of which is a property of
the Verilog that Amaranth/Yosys emit, not of a design bug.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from amaranth.back import verilog

import rrm

from rrm.errors import UserError
from rrm.spec import Spec
from rrm.toolchain import verilator_executable

from ..blocks.dsp48e2 import simulation_models
from ..top.catalog import build_block

#: Verilator lint warnings switched off for Amaranth's Verilog, with the reason.
LINT_WAIVERS = {
    "CASEINCOMPLETE": "Yosys writes a signal that only some FSM states drive as its default value "
                      "followed by a case over those states; the other states keep the default",
    "DECLFILENAME": "Yosys names submodules by their hierarchy path (top.pe0), not by file; "
                    "one file holds the whole block",
    "UNUSEDSIGNAL": "Amaranth flattens payload layouts into vectors and Yosys keeps the wires of "
                    "every field and slice, including bits no logic reads (e.g. the ready of PE 1..n "
                    "in a lock-step array, the unused high bits of a product)",
    "PROCASSINIT": "Amaranth gives every register its reset value as a declaration initializer "
                   "(reg x = 0) and resets it again in the always block; this is how it models init=",
    "WIDTHEXPAND": "Yosys emits operands at their own width and relies on Verilog's context-"
                   "determined extension (e.g. $signed(a) + $signed(b) of different widths); "
                   "Amaranth already computed exact result widths",
    "WIDTHTRUNC": "Yosys emits '!x' for 'x == 0' on multi-bit x and assigns wide intermediate "
                  "results to the narrower signals Amaranth sized; the truncation is intended",
    "ASCRANGE": "A zero-width signal (a counter over one value, e.g. the channel counter of a "
                "one-channel serializer) is emitted as [-1:0]",
}

#: A memory as Amaranth's Verilog declares it, with the ``initial`` block of its contents
#: (one line per word): group 1 is the declaration, group 2 the memory's name.
MEMORY_INIT = re.compile(r"(  reg \[\d+:0\] (\\?\S+) \[\d+:0\];\n)  initial begin\n"
                         r"(?:    \2\[\d+\] = [^\n]*\n)*  end\n")


#: One word of a memory's ``initial`` block: its value's base and digits (``mem[3] = 64'h00ff;``).
INIT_VALUE = re.compile(r"\] = \d+'([hdb])([0-9a-fA-F_]+);")
_BASES = {"h": 16, "d": 10, "b": 2}


def rewrite_memory_init(text: str, rewrite) -> tuple[str, list]:
    """Replace the ``initial`` block of each memory for which ``rewrite(name, values)``
    returns a string (Verilog lines to put after the declaration; "" drops the contents);
    ``values`` are the memory's initial words as integers. Memories for which it returns
    None keep theirs. Returns the text and the names rewritten."""
    rewritten = []

    def replace(match):
        values = [int(digits.replace("_", ""), _BASES[base])
                  for base, digits in INIT_VALUE.findall(match.group(0))]
        lines = rewrite(match.group(2), values)
        if lines is None:
            return match.group(0)
        rewritten.append(match.group(2))
        return match.group(1) + lines

    return MEMORY_INIT.sub(replace, text), rewritten


def module_name(block: str) -> str:
    """Verilog module name of a block's top level: ``rrm_<block>``."""
    return f"rrm_{block}"


def verilog_digest(text: str) -> str:
    """SHA-256 (hex) of a Verilog text: the same text is the same RTL."""
    return hashlib.sha256(text.encode()).hexdigest()


def block_verilog(block: str, spec: Spec, cache_dir: Path | None = None) -> str:
    """Verilog text of block ``block`` for ``spec`` (top module :func:`module_name`).

    With ``cache_dir``, a text converted before from the same sources is read back instead
    of converted again (a full-size accelerator takes minutes to convert, and ``rrm
    results --rtl``, ``sim-full``, ``synth`` and ``timing`` each need it): the file is named
    by :func:`verilog_cache_key`, which covers everything the conversion reads."""
    if cache_dir is None:
        return verilog.convert(build_block(block, spec), name=module_name(block), emit_src=False)
    path = Path(cache_dir) / f"{block}-{verilog_cache_key(block, spec)[:32]}.v"
    if path.is_file():
        text = path.read_text()
        if f"module {module_name(block)}(" in text and text.rstrip().endswith("endmodule"):
            return text
    text = block_verilog(block, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        with open(staging, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        staging.replace(path)       # whole or not at all, whoever else writes it
    finally:
        staging.unlink(missing_ok=True)
    return text


def verilog_cache_key(block: str, spec: Spec) -> str:
    """SHA-256 of what a block's Verilog is made from: the block's name, the spec, the
    Python, Amaranth and Yosys that convert it (the Yosys Amaranth picks: a system one of
    0.40 or later, else its built-in one), and the text of every source file of the
    packages that elaborate it (``hw`` and ``rrm``, which ``hw`` alone imports)."""
    digest = hashlib.sha256()
    for part in (block, spec.to_json(), _tool_versions(), _sources_digest()):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def _tool_versions() -> str:
    from amaranth._toolchain.yosys import find_yosys
    try:
        amaranth_version = importlib.metadata.version("amaranth")
    except importlib.metadata.PackageNotFoundError:
        amaranth_version = "none"
    yosys = find_yosys(lambda version: version >= (0, 40))     # as amaranth.back.verilog does
    return (f"python {sys.version_info[0]}.{sys.version_info[1]}; amaranth {amaranth_version}; "
            f"{yosys.__name__} {yosys.version()}")


def source_files() -> list[tuple[str, Path]]:
    """Every source file of ``hw`` and ``rrm``: (name within the repository, path)."""
    files = []
    for package in (Path(__file__).resolve().parents[1], Path(rrm.__file__).resolve().parent):
        for path in sorted(package.rglob("*.py")):
            files.append((f"{package.name}/{path.relative_to(package).as_posix()}", path))
    return files


@functools.lru_cache(maxsize=1)
def _sources_digest() -> str:
    digest = hashlib.sha256()
    for name, path in source_files():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def write_block_verilog(block: str, spec: Spec, out_dir: Path, cache_dir: Path | None = None) -> Path:
    """Write ``<out_dir>/<block>.v`` (``cache_dir`` as in :func:`block_verilog`); returns its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{block}.v"
    path.write_text(block_verilog(block, spec, cache_dir))
    return path


def lint_command(path: Path, top: str) -> list[str]:
    """The Verilator lint command line for ``path`` with the documented waivers (and the
    DSP48E2 model where the file at ``path`` instances the primitive)."""
    models = simulation_models(Path(path).read_text()) if Path(path).is_file() else []
    return ([verilator_executable(), "--lint-only", "-Wall", "--top-module", top]
            + [f"-Wno-{name}" for name in LINT_WAIVERS] + [str(path)] + [str(model) for model in models])


def lint(path: Path, top: str) -> str:
    """Lint ``path``; returns Verilator's output, raises UserError if it reports anything."""
    result = subprocess.run(lint_command(path, top), capture_output=True, text=True)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or "%Warning" in output or "%Error" in output:
        first = next((line for line in output.splitlines() if line.startswith("%")), output[:200])
        raise UserError(f"verilator lint of {path} failed: {first}")
    return output
