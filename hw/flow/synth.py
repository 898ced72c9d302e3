"""Resource estimate of the accelerator without Vivado: Yosys ``synth_xilinx -family xcup``.

Two ways, same numbers where both run:

- **top**: synthesise the whole Verilog top at once (tiny: a few minutes);
- **blocks**: synthesise each distinct block once, the others blackboxed, and
  multiply by its instance count (the full-size top would take far longer than
  15 minutes on 2 cores). Instances of one block differ only in their names,
  except that PE 0 of an array also drives the array's handshake (a few LUTs),
  so the sum is a slight overestimate. Each block is mapped in a Yosys process of its
  own from a file of its own (:func:`block_source`: its text and its sub-blocks'
  ports), so its count follows from that text alone, not from the rest of the design
  or what the process mapped before (docs/accelerator.md, "How much a level count
  varies").

Counts: LUT (LUT1..LUT6, plus the LUTs of LUTRAM and SRL cells), FF (FD*),
DSP48E2, BRAM18K (RAMB18E2 = 1, RAMB36E2 = 2). Yosys maps every product of 9
bits or more to one DSP48E2 and its LUT counts run above Vivado's: an estimate.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from rrm.errors import UserError

from .verilog import rewrite_memory_init


class SynthError(UserError):
    """Yosys failed (a broken accelerator.v, most often): one line with Yosys's first error
    and the log's path (:attr:`log`), which the caller keeps."""

    def __init__(self, step: str, log: Path, output: str):
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        errors = [line for line in lines if "ERROR" in line]
        why = (errors or lines or ["no output"])[0]
        self.step, self.log, self.why = step, Path(log), why
        super().__init__(f"yosys failed ({step}): {why[:300]}; log: {log}")

#: Yosys's synthesis command for the XCZU9EG's family (UltraScale+).
SYNTH = "synth_xilinx -family xcup"
#: LUTs per LUTRAM / shift-register primitive (UltraScale+ CLB, UG574).
LUTRAM_LUTS = {"RAM32M16": 8, "RAM64M8": 8, "RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2,
               "RAM128X1D": 4, "RAM256X1D": 8, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2,
               "RAM256X1S": 4, "RAM512X1S": 8, "SRL16E": 1, "SRLC32E": 1}


@dataclass
class Resources:
    """LUT, FF, DSP48E2 and BRAM18K counts (and the primitive counts they came from)."""

    lut: int = 0
    ff: int = 0
    dsp: int = 0
    bram18k: int = 0
    cells: dict = field(default_factory=dict)

    @classmethod
    def from_cells(cls, cells: dict) -> "Resources":
        lut = sum(n for name, n in cells.items() if re.fullmatch(r"LUT[1-6]", name))
        lut += sum(LUTRAM_LUTS[name] * n for name, n in cells.items() if name in LUTRAM_LUTS)
        ff = sum(n for name, n in cells.items() if re.fullmatch(r"FD[CPRS]E", name))
        bram = cells.get("RAMB18E2", 0) + 2 * cells.get("RAMB36E2", 0)
        return cls(lut, ff, cells.get("DSP48E2", 0), bram, dict(cells))

    def scaled(self, count: int) -> "Resources":
        return Resources(self.lut * count, self.ff * count, self.dsp * count, self.bram18k * count,
                         {name: n * count for name, n in self.cells.items()})

    def __add__(self, other: "Resources") -> "Resources":
        cells = dict(self.cells)
        for name, n in other.cells.items():
            cells[name] = cells.get(name, 0) + n
        return Resources(self.lut + other.lut, self.ff + other.ff, self.dsp + other.dsp,
                         self.bram18k + other.bram18k, cells)

    def as_dict(self) -> dict:
        return {"lut": self.lut, "ff": self.ff, "dsp": self.dsp, "bram18k": self.bram18k}


@dataclass
class BlockEstimate:
    """One distinct block: its representative module, instance count, resources of one,
    the :func:`block_digest` of what Yosys was given for it, and where its counts came from
    when they were not mapped in this run (``reused_from``, see :func:`synth_blocks`)."""

    kind: str
    module: str
    count: int
    each: Resources
    digest: str = ""
    reused_from: str = ""


@dataclass
class SynthResult:
    mode: str                  # "top" or "blocks"
    total: Resources
    blocks: list
    seconds: float
    yosys: str


def yosys_version() -> str:
    """The first line of ``yosys -V`` (records name the Yosys that made them)."""
    return subprocess.run([yosys_path(), "-V"], capture_output=True, text=True).stdout.strip()


def yosys_path() -> str:
    path = shutil.which("yosys")
    if path is None:
        raise UserError("Yosys is not on the PATH: `rrm synth` needs a Yosys with synth_xilinx "
                        "(e.g. Debian's: apt-get install yosys); Amaranth's builtin one has no synth_xilinx")
    return path


def modules(verilog: str) -> dict:
    """Module name -> names of the modules it instantiates, from Amaranth's Verilog."""
    defined = {}
    current = None
    names = re.findall(r"^module (\\\S+|\w+)\s*\(", verilog, re.M)
    known = {name.lstrip("\\") for name in names}
    for line in verilog.splitlines():
        match = re.match(r"^module (\\\S+|\w+)\s*\(", line)
        if match:
            current = match.group(1).lstrip("\\")
            defined[current] = []
            continue
        match = re.match(r"^\s+(\\\S+|\w+)\s+\\?\S+\s*\($", line)
        if current and match and match.group(1).lstrip("\\") in known:
            defined[current].append(match.group(1).lstrip("\\"))
    return defined


def block_kinds(hierarchy: dict) -> dict:
    """Kind (module name with the instance number of its last part replaced by ``#``) ->
    its modules, in name order."""
    kinds: dict = {}
    for name in sorted(hierarchy):
        head, _, last = name.rpartition(".")
        kind = f"{head}.{re.sub(r'[0-9]+$', '#', last)}" if head else re.sub(r"[0-9]+$", "#", last)
        kinds.setdefault(kind, []).append(name)
    return kinds


def _cells_from_stat(text: str) -> dict:
    """The design's cell counts from ``stat -json`` output (Yosys 0.23 mixes a text hierarchy
    into that JSON, so the counts are read from the last ``num_cells_by_type`` object)."""
    found = re.findall(r'"num_cells_by_type":\s*\{([^}]*)\}', text)
    if not found:
        raise UserError("Yosys's stat output has no cell counts (is it a Yosys with synth_xilinx?)")
    return {name: int(n) for name, n in re.findall(r'"([^"]+)":\s*(\d+)', found[-1])}


def _escape(name: str) -> str:
    return "\\" + name if not re.fullmatch(r"\w+", name) else name


def _run_yosys(script: str, work: Path, log_name: str) -> None:
    (work / f"{log_name}.ys").write_text(script)
    result = subprocess.run([yosys_path(), "-q", "-s", str(work / f"{log_name}.ys")],
                            cwd=work, capture_output=True, text=True)
    (work / f"{log_name}.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SynthError(log_name, work / f"{log_name}.log", result.stdout + result.stderr)


def synth_top(verilog_path: Path, top: str, work: Path) -> Resources:
    """The whole design at once."""
    script = (f"read_verilog -sv {verilog_path}\n{SYNTH} -top {_escape(top)}\n"
              f"tee -q -o top.stat stat -json\n")
    _run_yosys(script, work, "top")
    return Resources.from_cells(_cells_from_stat((work / "top.stat").read_text()))


def run_in_steps(script: list, work: Path, name: str, outputs: list, labels: list, progress=None) -> None:
    """Run the Yosys ``script`` (lines) as ``work/<name>.ys``, its log in ``<name>.log``; it
    writes ``outputs`` (file names under ``work``) one step after another, and
    ``progress(done, total, label)`` is called as each step starts. SynthError if Yosys fails."""
    run_in_parallel([(name, script, outputs, labels)], work, progress)


def run_in_parallel(scripts: list, work: Path, progress=None, jobs: int | None = None) -> None:
    """Run Yosys scripts, one process each, at most ``jobs`` at a time (default: all at
    once), the next starting as one ends: ``scripts`` holds (name, lines, outputs, labels)
    as :func:`run_in_steps` takes them. ``progress(done, total, label)`` is called whenever
    the count of written outputs or the steps under way change, ``label`` naming the steps
    under way. When a script fails, none starts after it and those running are stopped:
    SynthError, the failed script's."""
    jobs = max(1, len(scripts)) if jobs is None else jobs
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, not {jobs!r}")
    for name, script, outputs, _labels in scripts:
        (work / f"{name}.ys").write_text("\n".join(script) + "\n")
        for output in outputs:
            (work / output).unlink(missing_ok=True)
    waiting, running, failed = list(range(len(scripts))), {}, None
    total, shown = sum(len(outputs) for _, _, outputs, _ in scripts), None
    try:
        while waiting or running:
            for index, process in list(running.items()):
                if process.poll() is not None:
                    del running[index]
                    if process.returncode != 0 and failed is None:
                        failed = index
            if failed is not None:
                break
            while waiting and len(running) < jobs:
                index = waiting.pop(0)
                name = scripts[index][0]
                command = [yosys_path(), "-q", "-s", str(work / f"{name}.ys")]
                with open(work / f"{name}.log", "w") as log:   # the child keeps its own copy open
                    running[index] = subprocess.Popen(command, cwd=work, stdout=log, stderr=subprocess.STDOUT)
            under_way, done = [], 0
            for index, (_, _, outputs, labels) in enumerate(scripts):
                written = sum(1 for output in outputs if (work / output).is_file())
                done += written
                if index in running and written < len(outputs):
                    under_way.append(labels[written])
            if progress and (done, under_way) != shown and done < total:
                progress(done, total, ", ".join(under_way))
                shown = (done, under_way)
            if running:
                time.sleep(1)
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    if failed is not None:
        name = scripts[failed][0]
        raise SynthError(name, work / f"{name}.log", (work / f"{name}.log").read_text(errors="replace"))


def module_texts(verilog: str) -> dict:
    """Module name -> its text, from its ``module`` line to its ``endmodule`` (or, in broken
    Verilog, to the next ``module`` line or the end: Yosys reports the error)."""
    texts: dict = {}
    current, lines = None, []
    for line in verilog.splitlines():
        match = re.match(r"^module (\\\S+|\w+)\s*\(", line)
        if match:
            if current is not None:
                texts[current] = "\n".join(lines) + "\n"
            current, lines = match.group(1).lstrip("\\"), []
        if current is not None:
            lines.append(line)
            if line.startswith("endmodule"):
                texts[current] = "\n".join(lines) + "\n"
                current = None
    if current is not None:
        texts[current] = "\n".join(lines) + "\n"
    return texts


#: How a block is mapped, part of its digest: a count made another way is not reused as one
#: of this way (records before this mapped every block of a job in one process, from the
#: whole design's Verilog, and their counts moved with what the process had read and
#: mapped before).
BLOCK_METHOD = "one Yosys process per block, reading block_source alone from a file named by its digest"


def block_digest(texts: dict, hierarchy: dict, module: str) -> str:
    """SHA-256 of everything Yosys's estimate of ``module`` in ``blocks`` mode depends on: the
    synthesis command, :data:`BLOCK_METHOD` and the file it maps (:func:`block_source`: the
    module's text and the port declarations of the blocks it instantiates). A block whose
    digest a recorded run already mapped need not be mapped again. Yosys maps one file
    the same way in every fresh process, so one digest gives one count; a digest that two
    runs counted differently all the same is mapped again
    (``scripts/commands/synth.recorded_blocks``)."""
    return source_digest(block_source(texts, hierarchy, module))


def source_digest(source: str) -> str:
    """:func:`block_digest` of a block whose :func:`block_source` is ``source``."""
    return hashlib.sha256(f"{SYNTH}\n{BLOCK_METHOD}\n{source}".encode()).hexdigest()


def port_declarations(texts: dict, module: str) -> list:
    """``module``'s port declaration lines (``input [3:0] a;``), stripped, in order."""
    return [line.strip() for line in texts[module].splitlines() if re.match(r"^\s*(input|output|inout)\b", line)]


def blackbox_text(texts: dict, module: str) -> str:
    """What a design that blackboxes ``module`` sees of it: its name and port declarations."""
    return "\n".join([f"blackbox {module}"] + port_declarations(texts, module)) + "\n"


def blackbox_module(texts: dict, module: str) -> str:
    """A ``(* blackbox *)`` module with ``module``'s name and port declarations and nothing
    else: the ports are all a block that instantiates it sees of it."""
    ports = port_declarations(texts, module)
    # each name as declared, up to its ';': an escaped one keeps the white space that ends it
    names = [re.sub(r"^(input|output|inout)\s+(signed\s+)?(\[[^\]]*\]\s*)?", "", port)[:-1] for port in ports]
    header = f"module {_escape(module)} ({', '.join(names)});"
    return "\n".join(["(* blackbox *)", header] + [f"  {port}" for port in ports] + ["endmodule"]) + "\n"


def block_source(texts: dict, hierarchy: dict, module: str) -> str:
    """The Verilog Yosys maps for ``module`` in ``blocks`` mode: its text, then a
    :func:`blackbox_module` for each block it instantiates (their names in order)."""
    return texts[module] + "".join(blackbox_module(texts, child) for child in sorted(set(hierarchy[module])))


def block_digests(verilog: str) -> dict:
    """Kind -> :func:`block_digest` of its representative module, for the synthesis input
    ``verilog`` (as :func:`synth` writes it: :func:`without_memory_init` applied)."""
    hierarchy, texts = modules(verilog), module_texts(verilog)
    return {kind: block_digest(texts, hierarchy, names[0]) for kind, names in block_kinds(hierarchy).items()}


def synth_blocks(verilog_path: Path, top: str, work: Path, progress=None, jobs: int = 1,
                 known: dict | None = None) -> list:
    """Each distinct block once, its sub-blocks blackboxed: a Yosys process per block, reading
    ``<digest>.v`` (:func:`block_source`) and writing ``block<N>.stat``, at most ``jobs`` side
    by side, the largest blocks (by lines of Verilog) first. ``known`` maps a
    :func:`block_digest` to (resources of one, where they were recorded): a block with such
    a digest is not mapped again, its counts are taken from there. Returns a BlockEstimate
    per kind; the counts do not depend on ``jobs``, ``known`` or the rest of the design."""
    text = verilog_path.read_text()
    hierarchy = modules(text)
    if top not in hierarchy:
        raise UserError(f"{verilog_path}: no module {top!r}")
    kinds = list(block_kinds(hierarchy).items())
    texts = module_texts(text)
    sources = [block_source(texts, hierarchy, names[0]) for _, names in kinds]
    digests = [source_digest(source) for source in sources]
    known = known or {}
    todo = [index for index, digest in enumerate(digests) if digest not in known]
    scripts = []
    for index in sorted(todo, key=lambda index: -texts[kinds[index][1][0]].count("\n")):
        module = kinds[index][1][0]
        # named by its digest: Yosys puts the file's name into internal names and
        # attributes, so the name too follows from the text alone
        source = f"{digests[index][:16]}.v"
        (work / source).write_text(sources[index])
        script = [f"read_verilog -sv {source}", f"hierarchy -top {_escape(module)}",
                  f"{SYNTH} -top {_escape(module)}", f"tee -q -o block{index}.stat stat -json"]
        scripts.append((f"block{index}", script, [f"block{index}.stat"], [kinds[index][0]]))
    if scripts:
        run_in_parallel(scripts, work, progress, jobs)
    estimates = []
    for index, (kind, names) in enumerate(kinds):
        if digests[index] in known:
            each, source = known[digests[index]]
            estimates.append(BlockEstimate(kind, names[0], len(names), each, digests[index], source))
            continue
        cells = {name: n for name, n in _cells_from_stat((work / f"block{index}.stat").read_text()).items()
                 if name not in hierarchy}
        estimates.append(BlockEstimate(kind, names[0], len(names), Resources.from_cells(cells), digests[index]))
    return estimates


def without_memory_init(text: str) -> str:
    """The Verilog with the ``initial`` block of every all-zero memory removed: RAMs that the
    parameter stream and the engines fill hold zeros at power-up, which do not change their
    resources, and Yosys's frontend needs gigabytes and tens of minutes for the full-size
    RAMs' lines. A memory with contents (the layer table, a ROM) keeps them: without them
    Yosys would take its words as undefined and optimise away the logic they drive."""
    return rewrite_memory_init(text, lambda name, values: "" if not any(values) else None)[0]


def synth(verilog_path: Path, top: str, work: Path, mode: str, progress=None, jobs: int = 1,
          known: dict | None = None) -> SynthResult:
    """Run the estimate in ``mode`` ("top" or "blocks", the latter a Yosys process per block, up
    to ``jobs`` at a time, blocks of ``known`` digests not mapped again: :func:`synth_blocks`)
    with files under ``work``; the memories' initial contents are dropped first (:func:`without_memory_init`)."""
    work.mkdir(parents=True, exist_ok=True)
    stripped = work / "synth_input.v"
    stripped.write_text(without_memory_init(Path(verilog_path).read_text()))
    verilog_path = stripped
    version = yosys_version()
    start = time.monotonic()
    if mode == "top":
        total, blocks = synth_top(verilog_path, top, work), []
    elif mode == "blocks":
        blocks = synth_blocks(verilog_path, top, work, progress, jobs, known)
        total = Resources()
        for block in blocks:
            total = total + block.each.scaled(block.count)
    else:
        raise ValueError(f"mode must be 'top' or 'blocks', not {mode!r}")
    return SynthResult(mode, total, blocks, time.monotonic() - start, version)
