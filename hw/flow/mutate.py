"""Mutants of a hardware block, drawn by Yosys's ``mutate`` pass (the approach of YosysHQ's mcy).

The block is elaborated exactly as :func:`hw.flow.verilog.block_verilog` elaborates it
(:func:`hw.top.catalog.build_block`, top module ``rrm_<block>``), but to RTLIL with
Amaranth's ``src`` attributes kept, so that every cell names the Python line it came from.
:func:`prepare` turns that into a simulatable netlist of cells (:data:`PREP`: a full
``proc``, so that the logic of Amaranth's processes becomes ``$mux``/``$pmux`` cells the
pass can reach, where Amaranth's own Verilog keeps them as ``always`` blocks);
:func:`list_mutations` has ``mutate -list N -seed S`` draw a sample of N mutations from it
(one bit of one cell port inverted, tied to 0 or 1, or XOR/XNOR-ed with another bit of the
same port: modes ``inv``, ``const0``, ``const1``, ``cnot1``, ``cnot0``).
:func:`selectable_verilog` applies all of them to one design, as mcy does, each active only
while a new input :data:`SELECTOR` equals its number (0: the original design), so that one
simulator build serves every mutant; :func:`mutant_verilog` applies one of them alone
(same top module, same ports), or none: the unmutated netlist.

Needs a ``yosys`` executable on the PATH (Amaranth's built-in Yosys is a minimal build).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rrm.errors import UserError
from rrm.spec import Spec

from .verilog import module_name

#: Yosys commands that turn Amaranth's RTLIL into the netlist mutations are drawn from
#: (``{top}``: the top module). ``proc -norom`` and ``memory_collect`` as Amaranth's own
#: Verilog flow runs them, but with the multiplexers of processes as cells.
PREP = ("hierarchy -check -top {top}", "proc -norom", "memory_collect", "opt_clean")

#: The mutation modes of Yosys's ``mutate`` pass.
MODES = ("inv", "const0", "const1", "cnot0", "cnot1")

#: ``write_verilog`` options of a mutant: Amaranth's (keep Yosys's names), no attributes.
WRITE_VERILOG = "write_verilog -norename -noattr"


@dataclass(frozen=True)
class Mutation:
    """One line of ``mutate -list``: where the mutation goes and how (see the pass's help)."""

    mode: str
    module: str
    cell: str
    port: str
    portbit: int
    ctrlbit: int | None = None
    wire: str | None = None
    wirebit: int | None = None
    src: tuple = field(default_factory=tuple)

    def command(self, ctrl: tuple | None = None) -> str:
        """The Yosys command that applies this mutation (``-wire``/``-src`` are documentation
        only and left out); ``ctrl`` = ``(name, width, value)``: the mutation is active only
        while input ``name`` equals ``value`` (``mutate -ctrl``)."""
        words = ["mutate"]
        if ctrl is not None:
            name, width, value = ctrl
            words += ["-ctrl", str(name), str(int(width)), str(int(value))]
        words += ["-mode", self.mode, "-module", self.module, "-cell", self.cell,
                 "-port", self.port, "-portbit", str(self.portbit)]
        if self.ctrlbit is not None:
            words += ["-ctrlbit", str(self.ctrlbit)]
        return " ".join(words)

    def describe(self) -> str:
        """One line: mode, module, cell, port[bit] (and the control bit of cnot modes)."""
        bit = f"{self.port}[{self.portbit}]"
        if self.ctrlbit is not None:
            bit += f" ctrl [{self.ctrlbit}]"
        return f"{self.mode} {self.module} {self.cell} {bit}"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["src"] = list(self.src)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Mutation":
        return cls(**{**data, "src": tuple(data.get("src", ()))})


_INT_OPTIONS = {"portbit", "ctrlbit", "wirebit"}
_STR_OPTIONS = {"mode", "module", "cell", "port", "wire"}


def parse_mutation_list(text: str) -> list[Mutation]:
    """The mutations of ``mutate -list`` output (a file written with ``-o``, or the log's lines):
    every line ``mutate -mode M -module ... [-src S ...]``; other lines are ignored. A
    ``-mode none`` line (``-list -none``) gives no mutation; ``-ctrl`` options are refused
    (:func:`selectable_commands` adds the run's own selector)."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0] != "mutate":
            continue
        options: dict = {"src": []}
        index = 1
        while index < len(words):
            key = words[index]
            if not key.startswith("-") or index + 1 >= len(words):
                raise ValueError(f"mutation list line {number}: cannot parse {line!r}")
            name, value = key[1:], words[index + 1]
            if name == "ctrl":
                raise ValueError(f"mutation list line {number}: -ctrl mutations are not supported")
            if name == "src":
                options["src"].append(value)
            elif name in _INT_OPTIONS:
                options[name] = int(value)
            elif name in _STR_OPTIONS:
                options[name] = value
            else:
                raise ValueError(f"mutation list line {number}: unknown option {key}")
            index += 2
        if options.get("mode") == "none":
            continue
        missing = [name for name in ("mode", "module", "cell", "port", "portbit") if name not in options]
        if missing:
            raise ValueError(f"mutation list line {number}: no {', '.join('-' + m for m in missing)}")
        if options["mode"] not in MODES:
            raise ValueError(f"mutation list line {number}: unknown mode {options['mode']!r}")
        options["src"] = tuple(options["src"])
        out.append(Mutation(**options))
    return out


def yosys_executable() -> str:
    """The ``yosys`` on the PATH (UserError if there is none)."""
    exe = shutil.which("yosys")
    if exe is None:
        raise UserError("yosys is not on the PATH; the mutation benchmark needs Yosys's `mutate` pass")
    return exe


def yosys_version() -> str:
    """``yosys -V``'s line."""
    return subprocess.run([yosys_executable(), "-V"], capture_output=True, text=True).stdout.strip()


def run_yosys(commands: list[str], work_dir: Path, log_name: str = "yosys.log") -> str:
    """Run ``commands`` as one Yosys script in ``work_dir``; returns the log. A failing script
    raises RuntimeError with Yosys's error line and the log's path."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    script = work_dir / (Path(log_name).stem + ".ys")
    script.write_text("\n".join(commands) + "\n")
    log = work_dir / log_name
    result = subprocess.run([yosys_executable(), "-q", "-l", str(log), "-s", str(script)],
                            cwd=work_dir, capture_output=True, text=True)
    text = log.read_text() if log.is_file() else ""
    if result.returncode != 0:
        lines = [line for line in (result.stderr + "\n" + text).splitlines() if "ERROR" in line]
        raise RuntimeError(f"yosys failed ({lines[0].strip() if lines else 'exit ' + str(result.returncode)}); "
                           f"log: {log}")
    return text


def block_rtlil(block: str, spec: Spec) -> str:
    """RTLIL of block ``block`` of ``spec`` with ``src`` attributes (the elaboration of
    :func:`hw.flow.verilog.block_verilog`, the same top module name and ports)."""
    from amaranth.back import rtlil
    from ..top.catalog import build_block
    return rtlil.convert(build_block(block, spec), name=module_name(block), emit_src=True)


def prepare(rtlil_text: str, top: str, work_dir: Path) -> Path:
    """Write ``work_dir/design.il``: ``rtlil_text`` after :data:`PREP`, the netlist every
    mutation of a run is listed on and applied to (cell names stay the same)."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    source = work_dir / "elaborated.il"
    source.write_text(rtlil_text)
    out = work_dir / "design.il"
    run_yosys([f"read_rtlil {source.name}", *(c.format(top=top) for c in PREP),
               f"write_rtlil {out.name}"], work_dir, "prepare.log")
    return out


def list_mutations(design: Path, count: int, seed: int, work_dir: Path) -> list[Mutation]:
    """A sample of ``count`` mutations of the prepared ``design`` drawn by
    ``mutate -list count -seed seed`` (Yosys's even sampling over wires, bits, cells and
    source locations)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    work_dir = Path(work_dir)
    listing = work_dir / "mutations.txt"
    run_yosys([f"read_rtlil {Path(design).resolve()}",
               f"mutate -list {int(count)} -seed {int(seed)} -o {listing.name}"], work_dir, "list.log")
    return parse_mutation_list(listing.read_text())


#: The selector input of a design with all mutations of a run (:func:`selectable_verilog`).
SELECTOR = "mutsel"


def selector_width(count: int) -> int:
    """Bits of the selector of ``count`` mutations (values 1 .. count; 0 = the original)."""
    return max(1, int(count).bit_length())


_MODULE = re.compile(r"^module (\\?\S+)\s*$")
_CELL = re.compile(r"^\s*cell (\\\S+) (\S+)\s*$")


def _plain(name: str) -> str:
    return name[1:] if name.startswith("\\") else name


def instances(design_text: str) -> list[tuple[str, str]]:
    """``(parent module, instance cell)`` of every instance of a user module (not a ``$`` cell)
    in the RTLIL text ``design_text``, names without RTLIL's leading backslash."""
    out, module = [], None
    for line in design_text.splitlines():
        match = _MODULE.match(line)
        if match is not None:
            module = _plain(match[1])
            continue
        match = _CELL.match(line)
        if match is not None and module is not None:
            out.append((module, _plain(match[2])))
    return out


def selectable_commands(design_text: str, mutations: list, skip: tuple = ()) -> list[str]:
    """Yosys commands that apply every mutation of ``mutations`` to the prepared design (RTLIL
    text ``design_text``), mutation ``i`` (from 0) active only while the input
    :data:`SELECTOR` equals ``i + 1`` (0: the original design), the way mcy builds one design
    for all its mutants. ``mutate -ctrl`` adds the selector to the mutated cell's module only,
    so first every module gets it as an input and every instance passes its parent's on;
    mutations whose index is in ``skip`` are left out (their value then selects the original)."""
    width = selector_width(len(mutations))
    commands = [f"add -input {SELECTOR} {width}"]
    for parent, cell in instances(design_text):
        commands += [f"select -module {parent}", f"connect -port {cell} {SELECTOR} {SELECTOR}", "select -clear"]
    commands += [mutation.command((SELECTOR, width, index + 1))
                 for index, mutation in enumerate(mutations) if index not in skip]
    return commands


def selectable_verilog(design: Path, mutations: list, work_dir: Path) -> tuple[str, list]:
    """Verilog of the prepared ``design`` with every one of ``mutations`` applied behind the
    selector (:func:`selectable_commands`); returns ``(text, failed)``, ``failed`` the
    ``(index, message)`` of mutations Yosys could not apply (each tried alone only when all
    together fail; they are left out of the design)."""
    design = Path(design).resolve()
    work_dir = Path(work_dir)
    text = design.read_text()
    out = work_dir / "mutants.v"

    def attempt(skip: tuple, log_name: str) -> None:
        run_yosys([f"read_rtlil {design}", *selectable_commands(text, mutations, skip),
                   f"{WRITE_VERILOG} {out.name}"], work_dir, log_name)

    failed: list = []
    try:
        attempt((), "mutants.log")
    except RuntimeError:
        for index, mutation in enumerate(mutations):
            try:
                run_yosys([f"read_rtlil {design}", mutation.command()], work_dir / "check", f"m{index}.log")
            except RuntimeError as exc:
                failed.append((index, str(exc)))
        attempt(tuple(index for index, _ in failed), "mutants.log")
    return out.read_text(), failed


def mutant_verilog(design: Path, mutation: Mutation | None, work_dir: Path | None = None) -> str:
    """Verilog of the prepared ``design`` with ``mutation`` applied (None: unmutated)."""
    with tempfile.TemporaryDirectory(prefix="rrm-mutant-") as scratch:
        where = Path(work_dir) if work_dir is not None else Path(scratch)
        out = where / "mutant.v"
        commands = [f"read_rtlil {Path(design).resolve()}"]
        if mutation is not None:
            commands.append(mutation.command())
        commands.append(f"{WRITE_VERILOG} {out.name}")
        run_yosys(commands, where, "mutate.log")
        return out.read_text()


_SRC = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?:\.\d+(?:-\d+\.\d+)?)?$")


def source_locations(mutation: Mutation, root: Path) -> list[str]:
    """``file:line`` of the mutation's ``src`` tags under ``root`` (relative to it), the
    project's own lines first; tags outside ``root`` (Amaranth's library) after them."""
    root = Path(root).resolve()
    inside, outside = [], []
    for tag in mutation.src:
        match = _SRC.match(tag)
        if match is None:
            continue
        path = Path(match["file"])
        try:
            relative = path.resolve().relative_to(root)
        except ValueError:
            outside.append(f"{path.name}:{match['line']}")
            continue
        if relative.parts and relative.parts[0].startswith("."):   # a virtual environment in the tree
            outside.append(f"{path.name}:{match['line']}")
        else:
            inside.append(f"{relative.as_posix()}:{match['line']}")
    seen: list[str] = []
    for location in inside + outside:
        if location not in seen:
            seen.append(location)
    return seen


_TOP_HEADER = r"^module \\?{name}\s*\((?P<ports>[^;]*)\);"


def top_ports(verilog_text: str, top: str) -> list[str]:
    """The port names of module ``top`` in ``verilog_text``, in order (empty if not found)."""
    match = re.search(_TOP_HEADER.format(name=re.escape(top)), verilog_text, re.MULTILINE)
    if match is None:
        return []
    return [name.strip() for name in match["ports"].replace("\n", " ").split(",") if name.strip()]
