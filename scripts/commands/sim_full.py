"""``rrm sim-full``: a full-size preset in Verilator on one image, cycles against the cycle model.

    rrm sim-full [--preset NAME | --spec FILE.json] [--out DIR] [--seed N] [--no-record]

Exports a random-weight artifact of the preset (or of the spec file's spec) (``rrm export --random --seed N``,
kept in ``DIR/NAME/``), runs one random image through the whole accelerator's RTL
(``rrm sim``: cached Verilator build, bit-exact check against golden) and prints
each layer's RTL cycles beside the cycle model's, the image's cycles and ms against
the paper's, the build time and the simulated cycles per second; writes
``DIR/NAME/summary.json`` (NAME: the preset, or the spec file's name without ``.json``) and
the record ``results/NAME/sim.json`` (a preset only, unless ``--no-record``), and exits with 1 if the RTL differs from golden or any layer's cycles
differ from the model (:mod:`scripts.sim_full`). At 224x224 a preset takes about half an hour on 2 cores
(docs/accelerator.md); not part of ``make test``.
"""

from __future__ import annotations

from pathlib import Path

from rrm.errors import UserError

from ..specio import add_spec_arguments, spec_from_args

NAME = "sim-full"
HELP = "a preset at full size in Verilator on one random image: bit-exact check, cycles against the model"


def add_arguments(parser) -> None:
    add_spec_arguments(parser, default="rr-mobilenet")
    parser.add_argument("--out", type=Path, default=Path("build/sim-full"), metavar="DIR",
                        help="artifact, image, RESULT.json and summary.json under DIR/NAME (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the random weights and the image (default %(default)s)")
    parser.add_argument("--no-record", dest="record", action="store_false",
                        help="do not write the run's record results/NAME/sim.json (a --spec run writes none)")


def run(args) -> int:
    from ..sim_full import sim_full

    spec = spec_from_args(args)   # an unknown preset or a bad spec file: one line, before anything is written
    if args.seed < 0:
        raise UserError(f"--seed {args.seed}: must be >= 0")
    if args.spec is not None:
        return sim_full(spec, args.out, args.seed, name=args.spec.stem,
                        spec_arguments=["--spec", str(args.spec.resolve())], record=False)
    preset = args.preset or "rr-mobilenet"
    return sim_full(spec, args.out, args.seed, name=preset, spec_arguments=["--preset", preset],
                    record=args.record)
