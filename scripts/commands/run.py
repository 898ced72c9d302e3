"""``rrm run``: classify images with the host driver, on the simulated system or on a board.

    rrm run ARTIFACT IMAGES.npy --sim [--out LOGITS.npy] [--force] [--limit N]
            [--timeout S] [--preset NAME | --spec FILE.json] [--work-dir DIR]
    rrm run ARTIFACT IMAGES.npy --board BITFILE.bit [--out LOGITS.npy] ...

The same driver (:class:`host.driver.Driver`) does the work either way: it checks the
register block (identity, version), refuses an artifact whose spec hash is not the build's,
streams the parameters, classifies each image and reads its cycle counters.

``--sim`` builds the system top ``rrm_system`` (the accelerator with its AXI4-Lite register
block; cached under ``build/sim/``) for the artifact's spec, or for ``--preset``/``--spec``
(a build for another spec shows the driver's refusal), and runs the driver against it in
Verilator through cocotbext-axi's AXI4-Lite master and AXI4-Stream models (tb.host_sim).

``--board BITFILE`` runs on a ZCU102 with PYNQ: BITFILE is the bitstream of
``rrm vivado ARTIFACT --system`` with its ``.hwh`` beside it (host.board; needs the
``board`` extra, i.e. the ``pynq`` package, on the board).

Every image's logits are compared with the golden model, bit for bit; LOGITS.npy (int64,
N x classes) is written only when all match. Exit codes: 0 all match; 1 a mismatch or an
error the driver reported (its exception's name and message are printed); 2 bad input.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

import numpy as np

from rrm.errors import UserError
from rrm.presets import PRESETS

from ..outputs import check_file_out
from ..specio import spec_from_args
from .golden import load_npy

NAME = "run"
HELP = "classify images with the host driver on the simulated system (--sim) or a board (--board)"


def add_arguments(parser) -> None:
    parser.add_argument("artifact", type=Path, metavar="ARTIFACT", help="export artifact directory")
    parser.add_argument("images", type=Path, metavar="IMAGES.npy",
                        help="uint8 images, shape (N, H, W, C), channels-last (e.g. from `rrm dataset`)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--sim", action="store_true",
                       help="run the driver against the RTL of the system (Verilator, cocotbext-axi)")
    where.add_argument("--board", type=Path, default=None, metavar="BITFILE.bit",
                       help="run on a ZCU102 with PYNQ: the bitstream of `rrm vivado --system` "
                            "(its .hwh beside it)")
    parser.add_argument("--out", type=Path, default=None, metavar="LOGITS.npy",
                        help="write the logits (int64, N x classes) here")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N images")
    parser.add_argument("--timeout", type=float, default=1.0, metavar="S",
                        help="device seconds the driver waits for an image or the parameters (default 1)")
    parser.add_argument("--work-dir", type=Path, default=None, metavar="DIR",
                        help="--sim: keep the simulator's files here (default: a temporary directory)")
    build = parser.add_mutually_exclusive_group()
    build.add_argument("--preset", default=None,
                       help=f"--sim: the simulated build's spec by name ({', '.join(PRESETS)}); "
                            "default: the artifact's own")
    build.add_argument("--spec", type=Path, default=None, metavar="FILE.json",
                       help="--sim: the simulated build's spec as a JSON file")
    parser.set_defaults(_default_preset=None)


def _print_results(classification, golden_logits) -> bool:
    matches = []
    for index, (logits, cls, cycles) in enumerate(zip(classification.logits, classification.classes,
                                                       classification.image_cycles)):
        match = np.array_equal(logits, golden_logits[index]) and cls == int(np.argmax(golden_logits[index]))
        matches.append(match)
        verdict = "bit-exact with golden" if match else \
            f"DIFFERS from golden (golden class {int(np.argmax(golden_logits[index]))})"
        print(f"image {index}: class {cls}, {cycles:,} cycles, {verdict}")
    cycles = classification.image_cycles
    print(f"{sum(matches)} of {len(matches)} image(s) bit-exact; "
          f"{sum(cycles) / len(cycles):,.0f} cycles per image (IMAGE_CYCLES)")
    return all(matches)


def _run_sim(args, artifact, images, timeout):
    from scripts.commands.sim import _quiet_fds
    from tb.host_sim import run_driver

    spec = artifact.spec
    if args.preset is not None or args.spec is not None:
        spec = spec_from_args(args)
    steps = [{"op": "load", "artifact": str(args.artifact)},
             {"op": "classify", "data": images, "timeout_s": timeout}]
    context = (contextlib.nullcontext(args.work_dir) if args.work_dir is not None
               else tempfile.TemporaryDirectory(prefix="rrm-run-"))
    with context as work:
        work = Path(work)
        work.mkdir(parents=True, exist_ok=True)
        log = work / "sim.log"
        name = spec.preset or spec.network.name
        print(f"simulating the system for {name} (Verilator; simulator output in the work "
              f"directory's sim.log) ...", flush=True)
        try:
            with _quiet_fds(log):
                results = run_driver(spec, steps, work / "run")
        except (AssertionError, RuntimeError) as exc:   # a failed test, or a simulator that died
            tail = log.read_text(errors="replace").splitlines()[-15:] if log.is_file() else []
            for line in tail:
                print(f"  | {line}", file=sys.stderr)
            raise SystemExit(f"rrm run: error: the simulation failed: {exc}")
    opened = results["opened"]
    print(f"driver: register block found, spec hash 0x{opened['spec_hash']:08x}, "
          f"{opened['classes']} classes, {opened['layers']} layers")
    for step in results["steps"]:
        if "error" in step:
            return None, f"{step['error']}: {step['message']}"
    from host.driver import Classification
    out = results["steps"][1]
    return Classification(np.asarray(out["logits"], dtype=np.int64), np.asarray(out["classes"]),
                          out["cycles"], out["layer_cycles"]), None


def _run_board(args, artifact, images, timeout):
    from host.board import open_board
    from host.errors import DriverError

    if not args.board.is_file():
        raise UserError(f"--board {args.board}: no such bitstream")
    if args.preset is not None or args.spec is not None or args.work_dir is not None:
        raise UserError("--preset, --spec and --work-dir are for --sim; a board runs what its bitstream holds")
    try:
        driver = open_board(args.board)
    except ImportError as exc:
        raise UserError(str(exc)) from None
    try:
        driver.load(artifact, timeout_s=timeout)
        return driver.classify(images, timeout_s=timeout), None
    except DriverError as exc:
        return None, f"{type(exc).__name__}: {exc}"


def run(args) -> int:
    from golden import model
    from golden.model import check_images
    from rrm.artifact import load_artifact

    if args.out is not None:
        check_file_out(args.out, args.force)
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be >= 1, got {args.limit}")
    if not args.timeout > 0:
        raise UserError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    artifact = load_artifact(args.artifact)
    images = check_images(artifact.spec, load_npy(args.images))
    if args.limit is not None:
        images = images[:args.limit]
    if len(images) == 0:
        raise UserError(f"{args.images} holds no images")
    golden_logits = model.run(artifact, images)
    if args.sim:
        classification, error = _run_sim(args, artifact, images, args.timeout)
    else:
        classification, error = _run_board(args, artifact, images, args.timeout)
    if error is not None:
        print(f"rrm run: error: the driver reported {error}", file=sys.stderr)
        return 1
    if not _print_results(classification, golden_logits):
        print("rrm run: error: the accelerator's logits differ from golden", file=sys.stderr)
        return 1
    if args.out is not None:
        import io
        from ..outputs import write_bytes_atomic
        buffer = io.BytesIO()
        np.save(buffer, classification.logits.astype(np.int64))
        write_bytes_atomic(args.out, buffer.getvalue())
        print(f"wrote {args.out}")
    return 0
