"""``rrm prune-study``: train the pruning orders at the same final sparsity over seeds, one table and plot.

    rrm prune-study [--preset tiny] [--orders forward reversed peak] [--seeds 0 1 2] [--keep 0.1]
                    [--epochs 30 --qat-epochs 10 --prune-steps 3 --prune-epochs 5 --finetune-epochs 5]
                    [--jobs 2] [--work DIR] [--out results/tiny/prune_orders.json] [--force]

Each run is ``rrm train`` of the spec without its kernel pruning, with fine-grained
pruning to ``--keep`` in the given order (:mod:`scripts.prune_study`). Writes the JSON
result (with the commit and a ``dirty`` flag) to ``--out`` and the plot beside it
(same name, ``.png``), and prints the table. A benchmark, not a test: docs/prune_study.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rrm.errors import UserError

from ..specio import add_spec_arguments, spec_from_args

NAME = "prune-study"
HELP = "benchmark: forward, reversed and peak pruning orders at one final sparsity over seeds (table + plot)"


def add_arguments(parser) -> None:
    from rrm.prune_plan import ORDERS

    from ..prune_study import StudyConfig
    defaults = StudyConfig()
    add_spec_arguments(parser, default="tiny")
    parser.add_argument("--data", type=Path, default=None, metavar="DIR",
                        help="ImageFolder for rrm train (default: the embedded digits)")
    parser.add_argument("--orders", nargs="+", choices=ORDERS, default=list(defaults.orders), metavar="ORDER",
                        help=f"pruning orders to compare ({', '.join(ORDERS)}; default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(defaults.seeds), metavar="N",
                        help="seeds (default %(default)s)")
    parser.add_argument("--keep", type=float, default=defaults.keep, metavar="R",
                        help="fraction of the pointwise and FC weights every order keeps (default %(default)s)")
    for name, text in (("epochs", "float epochs"), ("qat_epochs", "QAT epochs"),
                       ("prune_steps", "pruning steps"), ("prune_epochs", "epochs after each pruning step"),
                       ("finetune_epochs", "fine-tune epochs (BN frozen)")):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name),
                            help=f"{text} of every run (default %(default)s)")
    parser.add_argument("--max-batches", type=int, default=None, help="batches per epoch at most (smoke runs)")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch threads per run (default 1)")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once (default 1; 2 on 2 cores)")
    parser.add_argument("--work", type=Path, default=None, metavar="DIR",
                        help="one run directory per order and seed (default out/<preset>/prune-study); "
                             "finished runs there are reused, interrupted ones resumed")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE.json",
                        help="result file (default results/<preset>/prune_orders.json); the plot goes beside it "
                             "as .png")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file and its plot")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--estimate-from", type=Path, default=None, metavar="RECORD.json",
                        help="train nothing: print how long these settings would take, timed from a study "
                             "record run with --jobs 1 (e.g. a smoke run) on this machine")
    parser.add_argument("--plot-from", type=Path, default=None, metavar="RECORD.json",
                        help="train nothing: print a recorded study's table and draw its plot "
                             "(to --plot, default beside the record as .png)")
    parser.add_argument("--plot", type=Path, default=None, metavar="FILE.png",
                        help="where --plot-from draws the plot")


def config_from_args(args):
    """The study's settings; UserError naming a bad one (before anything runs)."""
    from ..prune_study import StudyConfig

    for name in ("epochs", "qat_epochs", "prune_epochs", "finetune_epochs"):
        if getattr(args, name) < 0:
            raise UserError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be >= 0")
    for name in ("prune_steps", "threads", "jobs"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be at least 1")
    if args.max_batches is not None and args.max_batches < 1:
        raise UserError(f"--max-batches {args.max_batches}: must be at least 1")
    if not 0.0 < args.keep <= 1.0:
        raise UserError(f"--keep {args.keep}: must be a fraction in (0, 1]")
    if any(seed < 0 for seed in args.seeds) or len(set(args.seeds)) != len(args.seeds):
        raise UserError(f"--seeds {' '.join(map(str, args.seeds))}: seeds must be >= 0 and different")
    if len(set(args.orders)) != len(args.orders):
        raise UserError(f"--orders {' '.join(args.orders)}: an order is named twice")
    return StudyConfig(orders=tuple(args.orders), seeds=tuple(args.seeds), keep=args.keep, epochs=args.epochs,
                       qat_epochs=args.qat_epochs, prune_steps=args.prune_steps, prune_epochs=args.prune_epochs,
                       finetune_epochs=args.finetune_epochs, threads=args.threads, max_batches=args.max_batches)


def run(args) -> int:
    from sw.fine_pruning import plan

    from ..outputs import check_file_out, write_bytes_atomic
    from ..prune_study import ROOT, result, run_study, table
    from ..prune_study_plot import plot_study
    from ..results import commit_info
    from rrm.spec import unpruned

    if args.plot_from is not None:
        return plot_from(args.plot_from, args.plot, args.force)
    if args.plot is not None:
        raise UserError("--plot: only with --plot-from (a study's own plot goes beside its --out)")
    spec = spec_from_args(args)
    config = config_from_args(args)
    if args.estimate_from is not None:
        from ..prune_study import estimate_seconds
        if not args.estimate_from.is_file():
            raise UserError(f"--estimate-from {args.estimate_from}: no such file")
        try:
            seconds = estimate_seconds(json.loads(args.estimate_from.read_text()), config, args.jobs)
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"--estimate-from {args.estimate_from}: not a prune-study record ({exc})") from None
        print(f"{len(config.runs())} runs of {config.epochs_per_run} epochs, {args.jobs} at once: about "
              f"{seconds / 60:.0f} minutes ({seconds:.0f} s), timed from {args.estimate_from}")
        return 0
    name = spec.preset or spec.network.name
    out = args.out or ROOT / "results" / name / "prune_orders.json"
    if out.suffix != ".json":
        raise UserError(f"--out {out}: the result file must end in .json")
    plot = out.with_suffix(".png")
    check_file_out(out, args.force)
    check_file_out(plot, args.force, "--out (its plot)")
    for order in config.orders:
        plan(unpruned(spec), config.keep, None, order)   # a keep fraction too small for a layer fails here
    commit = commit_info()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    work = args.work or ROOT / "out" / name / "prune-study"
    rows, wall = run_study(config, spec, work, args.data, args.jobs, progress=not args.quiet)
    record = result(config, spec, rows, wall, commit, args.jobs, load_before)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out, (json.dumps(record, indent=1) + "\n").encode())
    plot_study(record, plot)
    print(table(record))
    print(f"\n{len(rows)} runs in {wall:.0f} s ({args.jobs} at once); result {out}, plot {plot}")
    return 0


def plot_from(record_path: Path, plot: Path | None, force: bool) -> int:
    """``--plot-from``: the table and plot of a recorded study, nothing trained."""
    from ..outputs import check_file_out
    from ..prune_study import table
    from ..prune_study_plot import plot_study

    if not record_path.is_file():
        raise UserError(f"--plot-from {record_path}: no such file")
    try:
        record = json.loads(record_path.read_text())
        if record.get("kind") != "prune_orders":
            raise ValueError(f"kind {record.get('kind')!r}")
        text = table(record)
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"--plot-from {record_path}: not a prune-study record ({exc})") from None
    plot = plot or record_path.with_suffix(".png")
    if plot.suffix != ".png":
        raise UserError(f"--plot {plot}: the plot file must end in .png")
    check_file_out(plot, force, "--plot")
    plot.parent.mkdir(parents=True, exist_ok=True)
    plot_study(record, plot)
    print(text)
    print(f"\nplot {plot} (from {record_path}, commit {record.get('commit', '?')[:12]})")
    return 0
