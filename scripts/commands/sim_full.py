"""``rrm sim-full``: a full-size preset in Verilator on one image, cycles against the cycle model.

    rrm sim-full [--preset NAME] [--out DIR] [--seed N]

Exports a random-weight artifact of the preset (``rrm export --random --seed N``,
kept in ``DIR/NAME/``), runs one random image through the whole accelerator's RTL
(``rrm sim``: cached Verilator build, bit-exact check against golden) and prints
each layer's RTL cycles beside the cycle model's, the image's cycles and ms against
the paper's, the build time and the simulated cycles per second; writes
``DIR/NAME/summary.json`` and the record ``results/NAME/sim.json`` (unless
``--no-record``), and exits with 1 if the RTL differs from golden or any layer's cycles
differ from the model (:mod:`scripts.sim_full`). At 224x224 a preset takes about half an hour on 2 cores
(docs/accelerator.md); not part of ``make test``.
"""

from __future__ import annotations

from pathlib import Path

from rrm.errors import UserError
from rrm.presets import PRESETS

NAME = "sim-full"
HELP = "a preset at full size in Verilator on one random image: bit-exact check, cycles against the model"


def add_arguments(parser) -> None:
    parser.add_argument("--preset", default="rr-mobilenet",
                        help=f"named spec ({', '.join(PRESETS)}; default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("build/sim-full"), metavar="DIR",
                        help="artifact, image, RESULT.json and summary.json under DIR/NAME (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the random weights and the image (default %(default)s)")
    parser.add_argument("--no-record", dest="record", action="store_false",
                        help="do not write the run's record results/NAME/sim.json")


def run(args) -> int:
    from rrm.presets import load_preset

    from ..sim_full import sim_full

    load_preset(args.preset)   # an unknown preset: one line, before anything is written
    if args.seed < 0:
        raise UserError(f"--seed {args.seed}: must be >= 0")
    return sim_full(args.preset, args.out, args.seed, record=args.record)
