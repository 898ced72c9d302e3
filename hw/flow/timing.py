"""Timing without Vivado: logic levels of the netlist Yosys maps (``rrm timing``).

After ``synth_xilinx -family xcup -flatten`` the design is a netlist of UltraScale+
primitives. Yosys 0.23's own ``ltp -noff`` does not take FDRE/FDSE/FDCE/FDPE as
flip-flops (it reports thousands of loops and one path through the whole design), so this
module cuts the netlist itself (:func:`analyse`):

- **cut points** (a path starts at their outputs and ends at their inputs): the
  flip-flops (``FD*``), the DSP48E2 and block RAM primitives (RAMB18E2/RAMB36E2), the
  shift registers (SRL*), and the design's ports;
- **logic levels**: a LUT (LUT1..LUT6) or a LUT RAM read (RAM32M, RAM64M, ...) is one
  level, a wide-multiplexer stage (MUXF7/8/9) one level, a CARRY4 half a level (Yosys 0.23
  maps carry chains to CARRY4, four bits each, where Vivado uses CARRY8, eight bits each
  and one level); buffers (IBUF, OBUF, BUFG, INV) none.

**Two ways** (:func:`analyse_verilog`): ``whole`` maps the whole accelerator at once (tiny:
about two minutes); ``engines`` maps each engine of :data:`ENGINE_MODULES` on its own and
then the rest (the core's glue and the top, the engines blackboxed), in one Yosys process,
so that a full-size preset takes minutes per engine instead of one run larger than memory
and patience allow. The levels at the engines' ports are carried across them
(:func:`compose`), so a path that crosses them is counted whole; Yosys optimises each
engine without its surroundings, so an engine's worst path can differ from ``whole`` by a
level or two either way (docs/accelerator.md, "Timing without Vivado"). ``blocks`` is
``engines`` with each block an engine repeats (its PEs, its BN units: modules of one text
but their names, :func:`repeated_blocks`) mapped once and blackboxed in the engine, the
levels carried across their ports as across an engine's; the copies' cells are counted
once per copy.

Reported: the worst register-to-register paths in levels with the engine that ends them
(the hierarchy in the path's end net name: ``core.conv...`` is the Conv engine), the
nets of highest fan-out, and how many DSP48E2 and block RAMs use their internal
pipeline registers (a DSP48E2 with neither MREG nor PREG, or a block RAM without its
output register, adds its whole combinational delay to the paths through it). Yosys 0.23
packs no register into a DSP48E2 (it does into a DSP48E1) nor a block RAM's output
register, so the report also counts those whose every used output bit goes straight into
fabric flip-flops: the register is in the RTL, and Vivado packs such a one into the
primitive (MREG/PREG, DOA_REG/DOB_REG).

**The level budget** (:data:`LEVEL_BUDGETS`) is this project's own estimate, not a Xilinx
figure: on an UltraScale+ -2 device a logic level (a LUT and its route) costs about
0.5 ns and a register-to-register path's fixed part (clock-to-out, setup, clock
uncertainty) about 0.6 ns, so a period T allows ``floor((T - 0.6) / 0.5)`` levels:
12 at 150 MHz (6.67 ns), 5 at 300 MHz (3.33 ns). A path through a DSP48E2 without
pipeline registers needs about 2 ns more, which the report lists apart. Vivado's timing
report is the arbiter: calibrate these numbers against it once one exists.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields
from pathlib import Path

from rrm.errors import UserError

from .synth import _escape, blackbox_text, module_texts, modules, run_in_steps, without_memory_init, yosys_version

#: Seconds (in ns) of one logic level and of a path's fixed part, -2 speed grade (estimate).
LEVEL_NS = 0.5
PATH_FIXED_NS = 0.6


def level_budget(clock_mhz: float) -> int:
    """Logic levels a register-to-register path may have at ``clock_mhz`` (module docstring)."""
    return math.floor((1000.0 / clock_mhz - PATH_FIXED_NS) / LEVEL_NS)


#: The level budgets the report checks against.
LEVEL_BUDGETS = {150.0: level_budget(150.0), 300.0: level_budget(300.0)}

#: Levels of one combinational primitive (anything not listed and not a cut point: 1).
LEVELS = {"MUXF7": 1.0, "MUXF8": 1.0, "MUXF9": 1.0, "CARRY4": 0.5, "CARRY8": 1.0,
          "IBUF": 0.0, "OBUF": 0.0, "BUFG": 0.0, "IBUFG": 0.0, "INV": 0.0}
#: What drives a net that is a constant (an engine output Yosys tied off).
CONSTANT = "constant"
#: Buffers: a net behind one is driven by what drives the buffer.
BUFFERS = ("IBUF", "IBUFG", "BUFG")
#: Primitives where paths start and end.
CUT = re.compile(r"^(FD[CPRS]E|DSP48E2|RAMB18E2|RAMB36E2|SRL16E|SRLC32E|LDCE|LDPE)$")
#: Flip-flops (a fabric register a DSP48E2 or block RAM output may feed).
FLIP_FLOP = re.compile(r"^FD[CPRS]E$")
#: Clock inputs of the primitives.
CLOCK_PORTS = ("C", "CLK", "CLKARDCLK", "CLKBWRCLK", "CLKA", "CLKB")
#: Engines by the hierarchy their nets are named with (first match wins).
ENGINES = (("core.param_loader", "parameter loader"), ("core.image_loader", "image loader"),
           ("core.sequencer", "sequencer"), ("core.conv", "Conv engine"), ("core.dw", "DW engine"),
           ("core.classifier", "classifier"), ("core.fm_buffers", "FM buffers"),
           ("core.", "core glue"), ("", "top"))


#: The engines ``engines`` mode maps one at a time: the hierarchy under the accelerator's top
#: and the engine it is (the rest, "core glue and top", is mapped with these blackboxed).
ENGINE_MODULES = tuple((prefix, engine) for prefix, engine in ENGINES
                       if prefix not in ("core.fm_buffers", "core.", ""))
#: The label of the part ``engines`` mode maps with the engines blackboxed.
GLUE = "core glue and top"
#: Ways to map the design (module docstring).
MODES = ("whole", "engines", "blocks")


@dataclass
class TimingPath:
    """One path: its levels, the net it ends on and the engine that net belongs to, the
    cut point it starts at and the primitives between."""

    levels: float
    end: str
    engine: str
    through: list = field(default_factory=list)   # primitive types along the path, start first
    start: str = ""                                # the register, RAM, DSP or port it starts at


@dataclass
class FanoutNet:
    """A net of high fan-out: its loads, the primitive (or port) driving it, and the levels of
    the worst path through it before the net (from the nearest cut point) and after it (to
    the next). ``budget - before - after`` levels are left for the net's own route, which
    the level count does not hold: a net of thousands of loads takes nanoseconds to reach
    them all unless Vivado replicates its driver or gives it a global buffer."""

    net: str
    loads: int
    driver: str
    before: float = 0.0
    after: float = 0.0

    @property
    def levels(self) -> float:
        """Levels of the worst register-to-register path through the net."""
        return self.before + self.after


@dataclass
class TimingReport:
    top: str
    cells: dict                # primitive -> count
    worst: list                # TimingPath, worst first
    by_engine: dict            # engine -> worst levels
    fanout: list               # FanoutNet, highest fan-out first
    dsp: dict                  # "registered", "combinational", "product into a fabric register"
    bram: dict                 # "output register", "no output register", "output into a fabric register"
    budgets: dict = field(default_factory=lambda: dict(LEVEL_BUDGETS))
    mode: str = "whole"        # "whole" or "engines" (module docstring)
    parts: list = field(default_factory=list)   # engines mode: {"part", "module", "worst_levels", "cells"} each
    ports: dict = field(default_factory=dict)   # analyse's port timing for engines mode (not written out)
    reused: list = field(default_factory=list)   # engines mode: parts whose earlier netlist was analysed again

    def within(self, clock_mhz: float) -> bool:
        return self.worst[0].levels <= level_budget(clock_mhz) if self.worst else True

    def as_dict(self) -> dict:
        return {
            "top": self.top, "cells": self.cells,
            "worst_levels": self.worst[0].levels if self.worst else 0,
            "worst_paths": [{"levels": p.levels, "start": p.start, "end": p.end, "engine": p.engine,
                             "through": p.through} for p in self.worst],
            "by_engine": self.by_engine,
            "fanout": [{"net": net.net, "fanout": net.loads, "driver": net.driver,
                        "levels_before": net.before, "levels_after": net.after} for net in self.fanout],
            "dsp48e2": self.dsp, "bram": self.bram,
            "budgets": {f"{mhz:g} MHz": levels for mhz, levels in self.budgets.items()},
            "within": {f"{mhz:g} MHz": self.within(mhz) for mhz in self.budgets},
            "level_ns": LEVEL_NS, "path_fixed_ns": PATH_FIXED_NS,
            "mode": self.mode, **({"parts": self.parts} if self.parts else {}),
            **({"reused_parts": self.reused} if self.reused else {}),
        }


def engine_of(net: str) -> str:
    name = net.lstrip("\\")
    for prefix, engine in ENGINES:
        if name.startswith(prefix):
            return engine
    return "top"


def _yosys(work: Path) -> str:
    yosys = shutil.which("yosys")
    if yosys is None:
        raise UserError("Yosys is not on the PATH: `rrm timing` needs one with synth_xilinx "
                        "(e.g. Debian's: apt-get install yosys)")
    work.mkdir(parents=True, exist_ok=True)
    return yosys


def _stripped(verilog: Path, work: Path) -> Path:
    """The Verilog without all-zero RAM contents (they change no path, and slow Yosys)."""
    stripped = work / "timing_input.v"
    stripped.write_text(without_memory_init(Path(verilog).read_text()))
    return stripped


def _module(path: Path, top: str, verilog: Path) -> dict:
    modules = json.loads(path.read_text())["modules"]
    for name in (top, "\\" + top):
        if name in modules:
            return modules[name]
    raise UserError(f"{verilog}: no module {top!r} after synthesis")


def netlist(verilog: Path, top: str, work: Path) -> dict:
    """The design mapped by ``synth_xilinx -family xcup -flatten``, as Yosys's JSON module."""
    yosys = _yosys(work)
    out = work / "netlist.json"
    script = work / "timing.ys"
    script.write_text(f"read_verilog -sv {_stripped(verilog, work)}\n"
                      f"synth_xilinx -family xcup -flatten -top {_escape(top)}\nwrite_json {out}\n")
    result = subprocess.run([yosys, "-q", "-s", str(script)], capture_output=True, text=True, cwd=work)
    (work / "timing.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
        raise UserError(f"yosys failed on {verilog} (log kept in {work / 'timing.log'}): {tail}")
    return _module(out, top, verilog)


#: An escaped Verilog identifier with a number in it (``\\port$39516$256``, Yosys's
#: ``dump_module$11``): numbered in the order of the whole netlist, so copies of one block
#: name them differently.
NUMBERED = re.compile(r"\\\S*\$[0-9]\S*")
#: A declaration (one line): Yosys's Verilog backend sorts them by name, numbers and all.
DECLARATION = re.compile(r"^\s*(input|output|inout|wire|reg)\b[^;]*;\s*$")


def canonical_text(text: str, name: str) -> tuple:
    """A module's text as its copies share it, and what it renamed: its own ``name`` and each
    :data:`NUMBERED` identifier renamed in the order they first appear (the port list comes
    first), the one-line declarations sorted (their order means nothing, and follows the
    numbers). Returns (that text, {identifier as Yosys's netlist names it: its new name})."""
    renamed: dict = {}

    def rename(match):
        return renamed.setdefault(match.group(0), f"\\n{len(renamed)}")

    lines, declarations, attributes = [], [], []
    for line in NUMBERED.sub(rename, text.replace(name, "<name>")).splitlines():
        if re.match(r"^\s*\(\*.*\*\)\s*$", line):      # an attribute belongs to the next line
            attributes.append(line)
            continue
        (declarations if DECLARATION.match(line) else lines).append("".join(attributes) + line)
        attributes = []
    text = "\n".join(lines + sorted(declarations) + attributes)
    return text, {original.lstrip("\\"): new for original, new in renamed.items()}


def repeated_blocks(verilog_text: str, module: str) -> list:
    """The blocks ``module`` repeats: groups (in name order, two or more each) of the modules
    under it that instantiate no other module, whose names differ in their instance number
    alone and whose :func:`canonical_text` is one (the copies of a PE or a BN unit; PE 0 of
    an array, which also drives the array's handshake, stays out of its siblings' group)."""
    hierarchy, texts = modules(verilog_text), module_texts(verilog_text)
    under, stack = [], list(hierarchy.get(module, []))
    while stack:
        name = stack.pop()
        if name not in under:
            under.append(name)
            stack.extend(hierarchy[name])
    groups: dict = {}
    for name in sorted(under):
        if not hierarchy[name]:
            groups.setdefault((re.sub(r"[0-9]+$", "", name), canonical_text(texts[name], name)[0]), []).append(name)
    return sorted((names for names in groups.values() if len(names) > 1), key=lambda names: names[0])


def copy_ports(texts: dict, copies: tuple) -> dict:
    """For each of a repeated block's ``copies`` but the first: {its port (as Yosys's netlist
    names it): the first copy's port in its place}, where the names differ
    (:func:`canonical_text` pairs them)."""
    first = {new: original for original, new in canonical_text(texts[copies[0]], copies[0])[1].items()}
    renames = {}
    for name in copies[1:]:
        renamed = canonical_text(texts[name], name)[1]
        renames[name] = {original: first[new] for original, new in renamed.items() if first[new] != original}
    return renames


def engine_parts(verilog_text: str, top: str, mode: str = "engines") -> list:
    """``engines`` mode's parts: (label, module, modules blackboxed in it, modules its netlist
    stands for), each engine of :data:`ENGINE_MODULES` the design has, then the rest
    (:data:`GLUE`) with those blackboxed. In ``blocks`` mode each engine's
    :func:`repeated_blocks` come before it, one part per group (its first module, standing
    for them all), blackboxed in the engine. A part comes after every part it blackboxes."""
    known = modules(verilog_text)
    if top not in known:
        raise UserError(f"no module {top!r} in the Verilog")
    engines = [(label, f"{top}.{prefix}") for prefix, label in ENGINE_MODULES if f"{top}.{prefix}" in known]
    if not engines:
        raise UserError(f"{top} has none of the engines {[prefix for prefix, _ in ENGINE_MODULES]}: "
                        f"map it whole (--mode whole)")
    parts = []
    for label, module in engines:
        groups = repeated_blocks(verilog_text, module) if mode == "blocks" else []
        for names in groups:
            parts.append((f"{label}: {names[0][len(module) + 1:]} (one of {len(names)})", names[0], (), tuple(names)))
        parts.append((label, module, tuple(name for names in groups for name in names), (module,)))
    return parts + [(GLUE, top, tuple(m for _, m in engines), (top,))]


def part_digest(texts: dict, hierarchy: dict, module: str, blackboxed: tuple, yosys: str, commands: list) -> str:
    """SHA-256 of everything an ``engines`` part's netlist depends on: the Yosys version, the
    part's Yosys ``commands``, the text of every module flattened into it, and the ports of the
    modules it blackboxes. Equal digests, the same netlist up to the names Yosys makes up
    (``$abc$N`` counts on through the parts one process maps)."""
    digest = hashlib.sha256(("\n".join([yosys, *commands]) + "\n").encode())
    inside, stack = set(), [module]
    while stack:
        name = stack.pop()
        if name not in inside and name not in blackboxed:
            inside.add(name)
            stack += hierarchy.get(name, [])
    for name in sorted(inside):
        digest.update(texts[name].encode())
    for name in sorted(blackboxed):
        digest.update(blackbox_text(texts, name).encode())
    return digest.hexdigest()


def part_commands(module: str, blackboxed: tuple) -> list:
    """The Yosys commands that map one ``engines`` part from the design read once."""
    return (["design -load everything", f"hierarchy -top {_escape(module)}"]
            + [f"blackbox {_escape(name)}" for name in blackboxed]
            + [f"synth_xilinx -family xcup -flatten -top {_escape(module)}"])


def analyse_engines(verilog: Path, top: str, work: Path, paths: int = 10, progress=None,
                    reuse: bool = False, mode: str = "engines") -> TimingReport:
    """``engines`` or ``blocks`` mode (module docstring): each engine (and in ``blocks`` mode
    each block it repeats, once) mapped flat on its own, then the rest with the engines
    blackboxed (their ports are cut points), in one Yosys process that reads the Verilog
    once; the parts' reports merged. ``progress(done, total, label)`` is called as parts
    finish. Each part's netlist is kept in ``work`` under its :func:`part_digest`; with
    ``reuse``, a part whose netlist an earlier run left there (whole: it parses) is not
    mapped again (the report's ``reused`` names those parts)."""
    _yosys(work)
    parts = engine_parts(Path(verilog).read_text(), top, mode)
    stripped = _stripped(verilog, work)
    text = stripped.read_text()
    hierarchy, texts, yosys = modules(text), module_texts(text), yosys_version()
    commands = [part_commands(module, blackboxed) for _label, module, blackboxed, _copies in parts]
    files = [f"part-{part_digest(texts, hierarchy, module, blackboxed, yosys, lines)[:32]}.json"
             for (_label, module, blackboxed, _copies), lines in zip(parts, commands)]
    netlists = {}
    for index, (name, (_, module, _, _)) in enumerate(zip(files, parts)):
        if reuse and (work / name).is_file():
            try:
                netlists[index] = _module(work / name, module, verilog)
            except (ValueError, UserError):      # cut short (a run stopped while writing it)
                (work / name).unlink()
    reused = sorted(netlists)
    to_map = [index for index in range(len(parts)) if index not in netlists]
    if to_map:
        script = [f"read_verilog -sv {stripped}", "design -save everything"]
        for index in to_map:
            script += commands[index] + [f"write_json {files[index]}"]
        run_in_steps(script, work, "timing", [files[index] for index in to_map],
                     [parts[index][0] for index in to_map], progress)
        for index in to_map:
            netlists[index] = _module(work / files[index], parts[index][1], verilog)
    renames = {copy: ports for _label, _module, _boxed, copies in parts if len(copies) > 1
               for copy, ports in copy_ports(texts, copies).items()}
    report = compose(parts, [netlists[index] for index in range(len(parts))], top, paths, renames=renames)
    report.reused = [parts[index][0] for index in reused]
    report.mode = mode
    return report


def _worst_of(into: dict, levels: dict, stands_for: dict, renames: dict) -> None:
    """Fold ``levels`` (blackboxed module -> port -> levels of each bit) into ``into``, keyed by
    the part each module's netlist is (``stands_for``) and that netlist's port names
    (``renames``: copy -> its port -> the part's), bit by bit the worst of its copies."""
    for kind, ports in levels.items():
        part = into.setdefault(stands_for.get(kind, kind), {})
        for port, bits in ports.items():
            port = renames.get(kind, {}).get(port, port)
            part[port] = list(bits) if port not in part else [max(a, b) for a, b in zip(part[port], bits)]


def _as_copy(timing: PortTiming, renames: dict) -> PortTiming:
    """A repeated block's :class:`PortTiming` under one copy's port names (``renames``: the
    copy's port -> the block netlist's)."""
    back = {mine: own for own, mine in renames.items()}
    return PortTiming(**{kind.name: {back.get(port, port): bits for port, bits in getattr(timing, kind.name).items()}
                         for kind in fields(PortTiming)})


def compose(parts: list, netlists: list, top: str, paths: int = 10, fanouts: int = 10,
            renames: dict | None = None) -> TimingReport:
    """``engines`` (or ``blocks``) mode's report from its parts ((label, module, blackboxed[,
    modules its netlist stands for]), each after the parts it blackboxes, the glue last) and
    their mapped netlists: each part analysed with the levels at which its inputs arrive and
    the :class:`PortTiming` of each part it blackboxes, repeated until the levels crossing
    the ports no longer change (a path may pass through several engines and blocks), so a
    path counts its levels on both sides of every port it crosses. A netlist that stands for
    several copies (a repeated block) is analysed with, at each input bit, the worst level
    at which it arrives at any copy, and each output bit followed by the worst levels after
    any copy: its paths are the worst of the copies'; its cells count once per copy. A copy
    whose ports the netlist names otherwise has them in ``renames`` (:func:`copy_ports`)."""
    renames = renames or {}
    parts = [tuple(part) if len(part) == 4 else (*part, (part[1],)) for part in parts]
    stands_for = {copy: module for _label, module, _boxed, copies in parts for copy in copies}
    arriving: dict = {}          # part module -> input port -> levels
    leaving: dict = {}           # part module -> output port -> levels that follow outside
    rounds = 2 * len(parts) + 1
    for _round in range(rounds):
        timings, reports, reaching, following = {}, [], {}, {}
        for (label, module, boxed, copies), net in zip(parts, netlists):
            unmapped = [name for name in boxed if stands_for.get(name) not in timings]
            if unmapped:
                raise UserError(f"part {label!r} blackboxes {unmapped[0]}, which no part before it maps")
            bounds = {name: _as_copy(timings[stands_for[name]], renames[name]) if name in renames
                      else timings[stands_for[name]] for name in boxed}
            if module == top:
                report = analyse(net, top, paths=paths, fanouts=fanouts, boundaries=bounds)
            else:
                report = analyse(net, module, paths=paths, fanouts=fanouts, prefix=module[len(top) + 1:] + ".",
                                 inputs=arriving.get(module), ports_end=False, outputs=leaving.get(module),
                                 boundaries=bounds)
            timings[module] = report.ports["own"]
            reports.append((label, module, report, len(copies)))
            _worst_of(reaching, report.ports["into"], stands_for, renames)
            _worst_of(following, report.ports["from"], stands_for, renames)
        if reaching == arriving and following == leaving:
            return merge(reports, top, paths, fanouts)
        arriving, leaving = reaching, following
    raise UserError(f"the levels crossing {top}'s engine ports did not settle after {rounds} "
                    f"rounds: a combinational loop through the engines? Map it whole (--mode whole)")


def merge(reports: list, top: str, paths: int = 10, fanouts: int = 10) -> TimingReport:
    """One report of ``engines`` mode's parts ((label, module, report, copies) each): the worst
    paths and fan-outs of all, each engine's worst, the cell and pipeline-register counts
    summed (a part's once per copy it stands for)."""
    cells, dsp, bram, by_engine = Counter(), Counter(), Counter(), {}
    worst, fanout, parts = [], [], []
    for label, module, report, copies in reports:
        for total, counts in ((cells, report.cells), (dsp, report.dsp), (bram, report.bram)):
            total.update({name: n * copies for name, n in counts.items()})   # blackboxed parts left out
        worst += report.worst
        fanout += report.fanout
        for engine, levels in report.by_engine.items():
            by_engine[engine] = max(by_engine.get(engine, 0.0), levels)
        parts.append({"part": label, "module": module,
                      "worst_levels": report.worst[0].levels if report.worst else 0,
                      "cells": sum(report.cells.values()), **({"copies": copies} if copies > 1 else {})})
    worst.sort(key=lambda path: -path.levels)
    fanout.sort(key=lambda net: -net.loads)
    return TimingReport(top, dict(cells), worst[:paths], dict(sorted(by_engine.items(), key=lambda item: -item[1])),
                        fanout[:fanouts], dict(dsp), dict(bram), mode="engines", parts=parts)


def _post_order(start, done: dict, successors, finish) -> None:
    """Call ``finish(node)`` on ``start`` and every node reachable from it through
    ``successors`` that is not yet in ``done``, each after its successors: an iterative
    depth-first walk (a netlist is too deep for recursion), a loop cut where it is found."""
    in_progress = set()
    stack = [(start, False)]
    while stack:
        current, expanded = stack.pop()
        if current in done:
            continue
        if expanded:
            finish(current)
            in_progress.discard(current)
        elif current not in in_progress:
            in_progress.add(current)
            stack.append((current, True))
            stack.extend((b, False) for b in successors(current) if b not in done and b not in in_progress)


def _bit_names(module: dict) -> dict:
    """Net bit -> the most readable name that holds it (user names before Yosys's ``$`` ones)."""
    names = {}
    for name, net in sorted(module["netnames"].items(), key=lambda item: (item[0].lstrip("\\").startswith("$"),
                                                                          len(item[0]))):
        for index, bit in enumerate(net["bits"]):
            if isinstance(bit, int) and bit not in names:
                names[bit] = f"{name.lstrip(chr(92))}[{index}]" if len(net["bits"]) > 1 else name.lstrip("\\")
    return names


def _is_on(parameters: dict, name: str) -> bool:
    value = parameters.get(name, "0")
    return int(value, 2) != 0 if isinstance(value, str) else bool(value)


@dataclass
class PortTiming:
    """An engine mapped on its own, as the rest of the design sees it at its ports: the
    levels at which each output bit arrives (from a register inside, or from an input at the
    level it arrived at), how many loads each input bit drives inside, and the levels each
    input bit still passes inside before a cut point (or an output, and what follows it);
    for the net behind each output bit (before its output buffer): its loads inside, the
    levels after it inside and what drives it, so the rest of the design can count the net
    whole where it lists it."""

    arrival: dict = field(default_factory=dict)   # output port -> levels of each bit
    fanout: dict = field(default_factory=dict)    # input port -> loads of each bit
    height: dict = field(default_factory=dict)    # input port -> levels after each bit
    out_loads: dict = field(default_factory=dict)    # output port -> loads inside of each bit's net
    out_height: dict = field(default_factory=dict)   # output port -> levels after each bit's net inside
    out_driver: dict = field(default_factory=dict)   # output port -> what drives each bit's net


def analyse(module: dict, top: str = "top", paths: int = 10, fanouts: int = 10, prefix: str = "",
            inputs: dict | None = None, boundaries: dict | None = None, ports_end: bool = True,
            outputs: dict | None = None) -> TimingReport:
    """Levels, fan-out and pipeline registers of a mapped module (module docstring).

    For ``engines`` mode (all default to a whole design): ``prefix`` is put before every net
    name (the engine's place in the hierarchy, so :func:`engine_of` names it); ``inputs``
    gives the levels at which the module's input port bits arrive (port -> levels, default
    0); ``boundaries`` maps a blackboxed cell type to its :class:`PortTiming`, so paths run
    on from its outputs at their arrival levels, its inputs are not path ends and their nets
    count its loads inside; ``ports_end`` False: the output ports are not path ends either
    (they continue outside, ``outputs`` giving the levels that follow each bit there, port ->
    levels, default 0). The report's ``ports`` holds what the rest of the design needs:
    this module's own :class:`PortTiming` and, per blackboxed type, the levels reaching its
    inputs (``into``) and the levels following its outputs here (``from``)."""
    cells = module["cells"]
    outputs = outputs or {}
    inputs, boundaries = inputs or {}, {kind.lstrip("\\"): timing for kind, timing in (boundaries or {}).items()}

    def boundary(kind: str):
        return boundaries.get(kind.lstrip("\\"))

    def is_cut(kind: str) -> bool:
        return bool(CUT.match(kind)) or boundary(kind) is not None

    names = {bit: prefix + name for bit, name in _bit_names(module).items()}
    driver = {}            # bit -> (cell, type) driving it
    sinks = Counter()      # bit -> cell inputs it drives
    loads = defaultdict(list)  # bit -> types of the cells whose inputs it drives
    consumers = defaultdict(list)  # bit -> (cell, port, index) of the inputs it drives
    inside_after = {}      # bit out of a blackboxed engine -> levels after it inside the engine
    inside_driver = {}     # bit out of a blackboxed engine -> what drives it inside
    endpoints = []         # (bit, name of what it ends in) where paths end
    start_level = {}       # bit -> levels at which a path starting there already arrives
    into = []              # (type, port, index, bit): inputs of blackboxed cells
    into_width = {}        # (type, port) -> its width
    for name, cell in cells.items():
        kind = cell["type"]
        outside = boundary(kind)
        for port, bits in cell["connections"].items():
            direction = cell["port_directions"].get(port, "input")
            for index, bit in enumerate(bits):
                if not isinstance(bit, int):
                    continue
                if direction == "output":
                    driver[bit] = (name, kind)
                    if outside is not None:
                        start_level[bit] = outside.arrival.get(port, [0.0] * len(bits))[index]
                        sinks[bit] += outside.out_loads.get(port, [0] * len(bits))[index]
                        inside_after[bit] = outside.out_height.get(port, [0.0] * len(bits))[index]
                        inside_driver[bit] = outside.out_driver.get(port, [""] * len(bits))[index]
                elif port not in CLOCK_PORTS:   # the clock's tree is not a fan-out to fix
                    consumers[bit].append((name, port, index))
                    if outside is not None:
                        sinks[bit] += outside.fanout.get(port, [1] * len(bits))[index]
                        into.append((kind.lstrip("\\"), port, index, bit))
                        into_width[kind.lstrip("\\"), port] = len(bits)
                        continue
                    sinks[bit] += 1
                    loads[bit].append(kind)
                    if CUT.match(kind):
                        endpoints.append((bit, name))
    input_bits = set()
    beyond = {}            # output port bit -> levels that follow it outside
    for port_name, port in module.get("ports", {}).items():
        bits = port["bits"]
        if port["direction"] == "output" and ports_end:
            endpoints += [(bit, None) for bit in bits if isinstance(bit, int)]
        elif port["direction"] == "output":
            following = outputs.get(port_name, [0.0] * len(bits))
            for index, bit in enumerate(bits):
                if isinstance(bit, int):
                    beyond[bit] = max(beyond.get(bit, 0.0), following[index])
        elif port["direction"] == "input":
            arrivals = inputs.get(port_name, [0.0] * len(bits))
            for index, bit in enumerate(bits):
                if isinstance(bit, int):
                    start_level[bit] = max(start_level.get(bit, 0.0), arrivals[index])
                    input_bits.add(bit)

    level: dict = {}        # bit -> levels from the nearest cut point
    via: dict = {}          # bit -> the input bit its worst path comes through
    inputs_of = {name: [b for port, bits in cell["connections"].items()
                        if cell["port_directions"].get(port) == "input" for b in bits if isinstance(b, int)]
                 for name, cell in cells.items()}
    outputs_of = {name: [b for port, bits in cell["connections"].items()
                         if cell["port_directions"].get(port) == "output" for b in bits if isinstance(b, int)]
                  for name, cell in cells.items()}

    def depth(bit: int) -> float:
        """Levels from the nearest cut point to ``bit``: the worst over the inputs of the
        combinational cell driving it, plus that cell's levels."""
        def inputs_behind(current):
            source = driver.get(current)
            return () if source is None or is_cut(source[1]) else inputs_of[source[0]]

        def finish(current):
            source = driver.get(current)
            if source is None or is_cut(source[1]):
                level[current], via[current] = start_level.get(current, 0.0), None
                return
            best, best_level = None, 0.0
            for b in inputs_of[source[0]]:
                if best is None or level.get(b, 0.0) > best_level:
                    best, best_level = b, level.get(b, 0.0)
            level[current], via[current] = best_level + LEVELS.get(source[1], 1.0), best

        _post_order(bit, level, inputs_behind, finish)
        return level[bit]

    after: dict = {}        # bit -> levels from it to the next cut point

    def combinational_loads(current) -> list:
        """(levels, output bits) of the combinational cells ``current`` drives."""
        return [(LEVELS.get(cells[name]["type"], 1.0), outputs_of[name]) for name, _port, _index in
                consumers.get(current, ()) if boundary(cells[name]["type"]) is None and not CUT.match(cells[name]["type"])]

    def through_loads(current, levels_after, skip=()) -> float:
        """The worst levels after ``current`` through the cells it drives (but ``skip``): a cut
        point 0, a blackboxed engine its input's ``height``, a combinational cell its own
        levels and then ``levels_after`` of its outputs."""
        best = 0.0
        for name, port, index in consumers.get(current, ()):
            kind = cells[name]["type"]
            if name in skip or CUT.match(kind):
                continue
            if boundary(kind) is not None:
                best = max(best, boundary(kind).height.get(port, [0.0] * (index + 1))[index])
            else:
                best = max(best, LEVELS.get(kind, 1.0) + max(map(levels_after, outputs_of[name]), default=0.0))
        return best

    def height(bit: int) -> float:
        """Levels from ``bit`` to the next cut point (the mirror of :func:`depth`): the worst
        over the cells it drives, a cut point 0, a blackboxed engine its inputs' ``height``,
        a combinational cell its own levels and then its outputs'."""
        def finish(current):
            after[current] = max(beyond.get(current, 0.0), inside_after.get(current, 0.0),
                                 through_loads(current, lambda b: after.get(b, 0.0)))

        _post_order(bit, after, lambda current: [b for _, bits in combinational_loads(current) for b in bits], finish)
        return after[bit]

    def end_name(bit, cell_name):
        """A path's end: the register it loads (named by its output net), else its net."""
        if cell_name is not None:
            cell = cells[cell_name]
            for port in ("Q", "P", "DOUTADOUT", "DOUTBDOUT", "Q31"):
                outputs = [b for b in cell["connections"].get(port, []) if isinstance(b, int)]
                if outputs and outputs[0] in names:
                    return f"{cell['type']} {names[outputs[0]]}"
        return names.get(bit, f"{prefix}bit {bit}")

    found = sorted(((depth(bit), bit, end_name(bit, cell)) for bit, cell in endpoints),
                   key=lambda item: -item[0])
    worst, seen_ends = [], set()
    for levels, bit, end in found:
        if end in seen_ends:
            continue
        seen_ends.add(end)
        through, current, previous = [], bit, bit
        while current is not None and driver.get(current) and not is_cut(driver[current][1]):
            through.append(driver[current][1])
            previous, current = current, via.get(current)
        start = current if current is not None else previous
        start_name = names.get(start, f"bit {start}")
        if start in driver:
            start_name = f"{driver[start][1].lstrip(chr(92))} {start_name}"
        if start_level.get(start):
            start_name += f" (arriving at {start_level[start]:g} levels)"
        worst.append(TimingPath(levels, end, engine_of(end.split(" ")[-1]), list(reversed(through)), start_name))
        if len(worst) == paths:
            break
    by_engine: dict = defaultdict(float)
    for levels, _bit, end in found:
        engine = engine_of(end.split(" ")[-1])
        by_engine[engine] = max(by_engine[engine], levels)

    def net_name(bit):
        """A net's name; one Yosys made up is described by the cell driving it and that cell's inputs."""
        name = names.get(bit, f"bit {bit}")
        if not name.startswith(prefix + "$") or bit not in driver:
            return name
        source, kind = driver[bit]
        inputs = sorted({names.get(b, "?") for b in inputs_of[source]} - {"?"})
        readable = [n for n in inputs if not n.startswith(prefix + "$")][:3]
        return f"{kind} of {', '.join(readable)}" if readable else f"{kind} output {name}"

    def driver_name(bit) -> str:
        """What drives a net: a primitive's type (inside a blackboxed engine: that engine's
        primitive), or a port (through the buffers Yosys puts on a mapped module's ports: an
        output that copies another output is an output buffer behind one), or ``constant``: an
        engine's output that Yosys tied to a constant (mapped with the rest, the constant would
        be propagated and the net gone)."""
        while bit in driver and driver[bit][1] in (*BUFFERS, "OBUF"):
            if not inputs_of[driver[bit][0]]:
                return CONSTANT
            bit = inputs_of[driver[bit][0]][0]
        if bit in driver:
            kind = driver[bit][1]
            if boundary(kind):
                if inside_driver.get(bit) == CONSTANT:
                    return CONSTANT
                return f"{inside_driver.get(bit) or 'port'} in {engine_of(kind.lstrip(chr(92))[len(top) + 1:])}"
            return kind
        return "port"

    def buffered(bit) -> list:
        """The outputs of the buffers ``bit`` drives (Yosys's IBUF on a mapped module's input)."""
        return [out for name, _port, _index in consumers.get(bit, ()) if cells[name]["type"] in BUFFERS
                for out in outputs_of[name]]

    def loads_of(bit) -> int:
        """The loads of a net, counted through the buffers on it."""
        behind = buffered(bit)
        return sinks[bit] - sum(1 for name, _p, _i in consumers.get(bit, ()) if cells[name]["type"] in BUFFERS) \
            + sum(loads_of(out) for out in behind)

    def behind_output(bit) -> tuple:
        """The net an output port bit carries (before Yosys's output buffer) and the buffer."""
        source = driver.get(bit)
        if source is not None and source[1] == "OBUF" and inputs_of[source[0]]:
            return inputs_of[source[0]][0], {source[0]}
        return bit, set()

    def inside(bit, skip) -> tuple:
        """Loads and levels after a net here, leaving out the cells in ``skip`` (its output buffer)."""
        return sinks[bit] - sum(1 for name, _p, _i in consumers.get(bit, ()) if name in skip), \
            through_loads(bit, height, skip)

    output_ports = {name: port["bits"] for name, port in module.get("ports", {}).items()
                    if port["direction"] == "output"}
    # An input port's loads (through its buffer), and the net behind an output port, are
    # listed where the net is driven or goes on (the rest of the design), counted whole there.
    outside_nets = set() if ports_end else (
        {out for bit in input_bits for out in buffered(bit)} | input_bits
        | {behind_output(bit)[0] for bits in output_ports.values() for bit in bits if isinstance(bit, int)})
    fanout = []
    for bit, count in sorted(sinks.items(), key=lambda item: -item[1]):
        if len(fanout) == fanouts:
            break
        source = None if bit in outside_nets else driver_name(bit)
        if source not in (None, CONSTANT):
            fanout.append(FanoutNet(net_name(bit), count, source, depth(bit), height(bit)))

    def into_registers(cell, ports) -> bool:
        """Every used bit of the cell's ``ports`` loads flip-flops only (a fabric register
        Vivado can pack into the primitive: PREG/MREG, DOA_REG/DOB_REG)."""
        used = [b for port in ports for b in cell["connections"].get(port, []) if isinstance(b, int) and loads[b]]
        return bool(used) and all(FLIP_FLOP.match(kind) for b in used for kind in loads[b])

    dsps = [c for c in cells.values() if c["type"] == "DSP48E2"]
    registered = sum(1 for c in dsps if _is_on(c["parameters"], "MREG") or _is_on(c["parameters"], "PREG"))
    dsp_into = sum(1 for c in dsps if not (_is_on(c["parameters"], "MREG") or _is_on(c["parameters"], "PREG"))
                   and into_registers(c, ("P",)))
    brams = [c for c in cells.values() if c["type"] in ("RAMB18E2", "RAMB36E2")]
    out_reg = sum(1 for c in brams if _is_on(c["parameters"], "DOA_REG") or _is_on(c["parameters"], "DOB_REG"))
    bram_into = sum(1 for c in brams if not (_is_on(c["parameters"], "DOA_REG") or _is_on(c["parameters"], "DOB_REG"))
                    and into_registers(c, ("DOUTADOUT", "DOUTBDOUT")))
    own = PortTiming(
        {name: [depth(bit) if isinstance(bit, int) else 0.0 for bit in port["bits"]]
         for name, port in module.get("ports", {}).items() if port["direction"] == "output"},
        {name: [loads_of(bit) if isinstance(bit, int) else 0 for bit in port["bits"]]
         for name, port in module.get("ports", {}).items() if port["direction"] == "input"},
        {name: [height(bit) if isinstance(bit, int) else 0.0 for bit in port["bits"]]
         for name, port in module.get("ports", {}).items() if port["direction"] == "input"})
    for name, bits in output_ports.items():
        nets = [behind_output(bit) if isinstance(bit, int) else None for bit in bits]
        measured = [inside(*net) if net else (0, 0.0) for net in nets]
        own.out_loads[name] = [loads for loads, _ in measured]
        own.out_height[name] = [levels for _, levels in measured]
        own.out_driver[name] = [driver_name(net[0]) if net else "" for net in nets]
    reaching: dict = {}
    for kind, port, index, bit in into:
        levels = reaching.setdefault(kind, {}).setdefault(port, [0.0] * into_width[kind, port])
        levels[index] = depth(bit)
    following: dict = {}    # blackboxed type -> output port -> levels after each bit here
    for name, cell in cells.items():
        if boundary(cell["type"]) is None:
            continue
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) == "output":
                following.setdefault(cell["type"].lstrip("\\"), {})[port] = [
                    height(bit) if isinstance(bit, int) else 0.0 for bit in bits]
    cell_counts = Counter(c["type"] for c in cells.values() if boundary(c["type"]) is None)
    return TimingReport(top, dict(cell_counts), worst,
                        dict(sorted(by_engine.items(), key=lambda item: -item[1])), fanout,
                        {"registered": registered, "combinational": len(dsps) - registered,
                         "product into a fabric register": dsp_into},
                        {"output register": out_reg, "no output register": len(brams) - out_reg,
                         "output into a fabric register": bram_into},
                        ports={"own": own, "into": reaching, "from": following})


def analyse_verilog(verilog: Path, top: str, work: Path, mode: str = "whole", paths: int = 10,
                    progress=None, reuse: bool = False) -> TimingReport:
    """Map ``verilog`` (top module ``top``) in ``mode`` (:data:`MODES`) under ``work`` and
    report its levels, fan-out and pipeline registers (``reuse``: :func:`analyse_engines`)."""
    if mode not in MODES:
        raise UserError(f"timing mode {mode!r}: must be one of {', '.join(MODES)}")
    if reuse and mode == "whole":
        raise UserError("reusing mapped netlists is for engines or blocks mode (a full-size preset); "
                        f"mode {mode!r} maps the design whole")
    work.mkdir(parents=True, exist_ok=True)
    if mode != "whole":
        return analyse_engines(verilog, top, work, paths=paths, progress=progress, reuse=reuse, mode=mode)
    return analyse(netlist(verilog, top, work), top, paths=paths)
