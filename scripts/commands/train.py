"""``rrm train``: float training, QAT, iterative kernel pruning, integer export (see docs/training.md)."""

from __future__ import annotations

from pathlib import Path

from rrm.errors import UserError

from ..specio import add_spec_arguments, spec_from_args

NAME = "train"
HELP = "train (float -> QAT -> iterative pruning) and export the integer artifact; resumable"


def add_arguments(parser) -> None:
    from sw.config import TrainConfig
    defaults = TrainConfig()
    add_spec_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="run directory: checkpoint.pt, metrics.jsonl, report.{json,md}, artifact/")
    parser.add_argument("--data", type=Path, default=None, metavar="DIR",
                        help="ImageFolder with train/<class>/ and val/<class>/ (default: embedded digits)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="float epochs (default %(default)s)")
    parser.add_argument("--qat-epochs", type=int, default=defaults.qat_epochs,
                        help="QAT epochs before pruning (default %(default)s)")
    parser.add_argument("--prune-steps", type=int, default=defaults.prune_steps,
                        help="pruning steps (default %(default)s)")
    parser.add_argument("--prune-epochs", type=int, default=defaults.prune_epochs,
                        help="QAT re-training epochs after each pruning step (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size,
                        help="batch size per process (default %(default)s)")
    parser.add_argument("--lr", type=float, default=defaults.lr, help="AdamW learning rate (default %(default)s)")
    parser.add_argument("--bn-batches", type=int, default=defaults.bn_batches,
                        help="batches used to re-estimate BN statistics after each quantized epoch "
                             "(0: off; default %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    parser.add_argument("--max-batches", type=int, default=None,
                        help="stop every epoch after this many batches (quick runs, tests)")
    parser.add_argument("--int-eval-images", type=int, default=None, metavar="N",
                        help="run the integer emulation on N evenly spaced test images only "
                             "(default: all; the emulation is slow for 224x224 networks on CPU)")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="data loader workers per process")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where to train (default: CUDA if available)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its checkpoint (its settings are kept)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    import torch

    from sw.config import TrainConfig
    from sw.train import train
    spec = spec_from_args(args)
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    config = TrainConfig(epochs=args.epochs, qat_epochs=args.qat_epochs, prune_steps=args.prune_steps,
                         prune_epochs=args.prune_epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                         bn_batches=args.bn_batches, int_eval_images=args.int_eval_images,
                         max_batches=args.max_batches, workers=args.workers)
    train(spec, config, args.out, data_dir=args.data, resume=args.resume, device=args.device,
          progress=not args.quiet)
    return 0
