"""``rrm train-seeds``: train ``tiny`` with several seeds and print one table (a benchmark).

    rrm train-seeds [--out DIR] [--seeds 0 1 2] [--threads 1] [--jobs 1] [-- RRM TRAIN ARGS]

Each seed runs ``rrm train --preset tiny --seed N`` (plus the arguments after
``--``) into ``DIR/seed-N``; a finished run is reused, an interrupted one resumed.
Prints float, QAT, pruned QAT and pruned integer top-1, the drop, the wall time and
the weights' sha256 per seed, writes ``DIR/seeds.md`` and ``DIR/seeds.json``, and
exits with 1 if a seed misses the goals (:mod:`scripts.train_seeds`). The arguments
after ``--`` are checked against ``rrm train``'s before anything is trained.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rrm.errors import UserError

NAME = "train-seeds"
HELP = "benchmark: train tiny with seeds 0, 1 and 2 and print one accuracy table (float, QAT, pruned integer)"


def add_arguments(parser) -> None:
    parser.add_argument("--out", type=Path, default=Path("out/seeds"), metavar="DIR",
                        help="one run directory per seed, DIR/seed-N, and the table (default out/seeds)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], metavar="N",
                        help="seeds to train (default 0 1 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained at once (default 1)")
    parser.add_argument("train_args", nargs="*", metavar="-- RRM TRAIN ARGS",
                        help="further `rrm train` options for every seed, after --")


class _TrainArguments(argparse.ArgumentParser):
    """``rrm train``'s parser, refusing with a UserError instead of exiting."""

    def error(self, message):
        raise UserError(f"rrm train refuses the arguments after --: {message}")


def check_train_args(seeds, out: Path, threads: int, extra: list[str]) -> None:
    """Parse every seed's ``rrm train`` arguments as rrm train will (UserError if it would refuse them)."""
    from ..train_seeds import train_args
    from . import train

    parser = _TrainArguments(prog="rrm train", add_help=False)
    train.add_arguments(parser)
    for seed in seeds:
        parser.parse_args(train_args(seed, out / f"seed-{seed}", threads, extra))


def run(args) -> int:
    from ..train_seeds import train_seeds

    for name in ("threads", "jobs"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name} {getattr(args, name)}: must be at least 1")
    if any(seed < 0 for seed in args.seeds):
        raise UserError(f"--seeds {' '.join(map(str, args.seeds))}: a seed must be >= 0")
    if len(set(args.seeds)) != len(args.seeds):
        raise UserError(f"--seeds {' '.join(map(str, args.seeds))}: a seed is named twice")
    if args.train_args and not args.train_args[0].startswith("-"):
        raise UserError(f"{args.train_args[0]!r}: unexpected argument (options for rrm train go after --)")
    check_train_args(args.seeds, args.out, args.threads, args.train_args)
    return train_seeds(args.out, args.seeds, args.threads, args.jobs, args.train_args)
