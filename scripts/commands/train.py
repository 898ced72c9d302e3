"""``rrm train``: float training, QAT, iterative kernel pruning, integer export (see docs/training.md)."""

from __future__ import annotations

from pathlib import Path

from rrm.errors import UserError

from ..outputs import check_writable_dir, removed_on_failure
from ..specio import add_spec_arguments, spec_from_args

NAME = "train"
HELP = "train (float -> QAT -> iterative pruning) and export the integer artifact; resumable"


def add_arguments(parser) -> None:
    from rrm.prune_plan import ORDERS
    from sw.config import DATA_BACKENDS, RECIPES, TrainConfig
    defaults = TrainConfig()

    def recipe_default(name: str) -> str:
        """Help text for an option whose default comes from the recipe."""
        values = {recipe: dict(RECIPES[recipe].defaults).get(name, getattr(defaults, name)) for recipe in RECIPES}
        return "default: the recipe's, " + ", ".join(f"{recipe} {value}" for recipe, value in values.items())
    add_spec_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="run directory: checkpoint.pt, metrics.jsonl, report.{json,md}, artifact/")
    parser.add_argument("--data", type=Path, default=None, metavar="DIR",
                        help="ImageFolder with train/<class>/ and val/<class>/ (default: embedded digits)")
    parser.add_argument("--data-backend", choices=DATA_BACKENDS, default="auto",
                        help="ImageFolder transforms: torchvision, or the same transforms in PIL; auto: torchvision "
                             "if it imports (default %(default)s)")
    parser.add_argument("--recipe", choices=tuple(RECIPES), default="digits",
                        help="optimizer, schedule and defaults: digits (AdamW, the tiny preset) or imagenet (SGD + "
                             "Nesterov, warm-up + cosine, label smoothing, lr scaled with the global batch, mixed "
                             "precision on CUDA); docs/training.md (default %(default)s)")
    parser.add_argument("--init", type=Path, default=None, metavar="FLOAT.pt",
                        help="start QAT and pruning from this float MobileNet-v1 state dict (ours or the "
                             "Sequential layout of docs/init.md), without float training (--epochs defaults to 0)")
    parser.add_argument("--init-imagenet-norm", action="store_true",
                        help="the --init weights expect torchvision's ImageNet mean/std normalization: fold it "
                             "into conv1")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"float epochs ({recipe_default('epochs')}; 0 with --init)")
    parser.add_argument("--qat-epochs", type=int, default=None,
                        help=f"QAT epochs before pruning ({recipe_default('qat_epochs')})")
    parser.add_argument("--prune-steps", type=int, default=None,
                        help=f"pruning steps ({recipe_default('prune_steps')})")
    parser.add_argument("--prune-epochs", type=int, default=None,
                        help=f"QAT re-training epochs after each pruning step ({recipe_default('prune_epochs')})")
    parser.add_argument("--prune-order", choices=ORDERS, default=defaults.prune_order,
                        help="when each layer is pruned: all (every layer a share at every step), forward (input "
                             "to output), reversed (output to input, the FC first), peak (the largest layers "
                             "first and, fine-grained, hardest); docs/training.md (default %(default)s)")
    parser.add_argument("--fine-keep", type=float, default=None, metavar="R",
                        help="fine-grained (element-wise) magnitude pruning: keep the fraction R of the pointwise "
                             "and FC weights (default: no fine-grained pruning)")
    parser.add_argument("--fine-keep-layer", action="append", default=[], metavar="NAME=R",
                        help="the fine-grained keep fraction of one layer, e.g. fc=0.2 (repeatable; any conv, "
                             "dw, pw or fc layer; overrides --fine-keep for it)")
    parser.add_argument("--finetune-epochs", type=int, default=None,
                        help="QAT epochs after the last pruning step with BN statistics frozen "
                             f"({recipe_default('finetune_epochs')})")
    parser.add_argument("--distill", type=float, default=defaults.distill, metavar="W",
                        help="weight of the float network's soft labels (knowledge distillation) in every "
                             "quantized phase, 0..1 (0: off; default %(default)s)")
    parser.add_argument("--distill-temperature", type=float, default=defaults.distill_temperature, metavar="T",
                        help="distillation temperature (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help=f"batch size per process ({recipe_default('batch_size')})")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"learning rate of the float phase; imagenet: per 256 images of global batch "
                             f"({recipe_default('lr')})")
    parser.add_argument("--bn-batches", type=int, default=None,
                        help=f"batches used to re-estimate BN statistics after each quantized epoch "
                             f"(0: off; {recipe_default('bn_batches')})")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    parser.add_argument("--max-batches", type=int, default=None,
                        help="stop every epoch after this many batches (quick runs, tests)")
    parser.add_argument("--int-eval-images", type=int, default=None, metavar="N",
                        help="run the integer emulation on N evenly spaced test images only "
                             "(default: all; the emulation is slow for 224x224 networks on CPU)")
    parser.add_argument("--workers", type=int, default=None,
                        help=f"data loader workers per process ({recipe_default('workers')})")
    parser.add_argument("--threads", type=int, default=None,
                        help=f"torch CPU threads ({recipe_default('threads')}; None: torch's choice); a run "
                             "repeats bit for bit only with the same seed and thread count")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where to train (default: CUDA if available)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its checkpoint (its settings are kept)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    from sw.config import TrainConfig
    from sw.train import train

    from ..keep_options import keep_overrides
    spec = spec_from_args(args)
    fine_layers = keep_overrides(args.fine_keep_layer, "--fine-keep-layer")
    epochs = 0 if args.init is not None and args.epochs is None else args.epochs
    config = TrainConfig.for_recipe(args.recipe, init=str(args.init) if args.init is not None else None,
                                    init_imagenet_norm=args.init_imagenet_norm or None,
                                    data_backend=args.data_backend, epochs=epochs,
                                    qat_epochs=args.qat_epochs, prune_steps=args.prune_steps,
                                    prune_epochs=args.prune_epochs, batch_size=args.batch_size, lr=args.lr,
                                    seed=args.seed, bn_batches=args.bn_batches,
                                    int_eval_images=args.int_eval_images, max_batches=args.max_batches,
                                    workers=args.workers, finetune_epochs=args.finetune_epochs,
                                    distill=args.distill, distill_temperature=args.distill_temperature,
                                    threads=args.threads, prune_order=args.prune_order,
                                    fine_keep=args.fine_keep, fine_keep_layers=fine_layers or None)
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} is not a directory (a file stands there); give a directory for the run")
    check_writable_dir(args.out, f"--out {args.out}")
    # a failed start leaves no empty run directory (a run with a checkpoint stays, to --resume)
    with removed_on_failure(args.out, keep_files=True):
        train(spec, config, args.out, data_dir=args.data, resume=args.resume, device=args.device,
              progress=not args.quiet)
    return 0
