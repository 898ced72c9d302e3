"""``rrm report``: the demo's one report, ``DIR/report.md`` with its PNG plots.

    rrm report --train RUN --test TEST --rtl RESULT.json --out DIR

``RUN`` is a finished ``rrm train`` directory (``report.json``, ``artifact/``),
``TEST`` holds ``images.npy``, ``labels.npy`` (``rrm dataset``) and the golden
model's ``logits.npy`` on them (``rrm golden --out``), ``RESULT.json`` is what
``rrm sim`` wrote on the first images of ``TEST``. Writes ``report.md`` (headline,
accuracy at every stage, the paper's Fig. 5 for the trained network, the RTL's
cycles, how the run was made), ``accuracy.png``, ``memory.png``, ``rtl.md``,
``rtl-cycles.png`` and ``rtl-images.png`` (:mod:`scripts.demo_report`). Every
input is checked before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path

from rrm.errors import UserError

NAME = "report"
HELP = "the demo's report: training, golden, RTL and memory (paper Fig. 5) as report.md with PNG plots"

#: What TEST must hold, and which command writes it.
TEST_FILES = {"images.npy": "rrm dataset", "labels.npy": "rrm dataset", "logits.npy": "rrm golden --out"}


def add_arguments(parser) -> None:
    parser.add_argument("--train", type=Path, required=True, metavar="RUN",
                        help="a finished `rrm train` directory (report.json, artifact/)")
    parser.add_argument("--test", type=Path, required=True, metavar="TEST",
                        help="directory with images.npy, labels.npy (rrm dataset) and the golden logits.npy")
    parser.add_argument("--rtl", type=Path, required=True, metavar="RESULT.json",
                        help="what `rrm sim` wrote on the first images of TEST")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="report.md and its plots go here")


def check_inputs(train: Path, test: Path, rtl: Path) -> None:
    """UserError naming the first input that is missing or unusable."""
    if not train.is_dir():
        raise UserError(f"--train {train}: not a directory (give the directory `rrm train --out` wrote)")
    if not (train / "report.json").is_file():
        raise UserError(f"--train {train}: no report.json in it (the training has not finished; "
                        f"run `rrm train --resume --out {train}`)")
    if not (train / "artifact").is_dir():
        raise UserError(f"--train {train}: no artifact/ in it (the training has not finished)")
    if not test.is_dir():
        raise UserError(f"--test {test}: not a directory")
    for name, writer in TEST_FILES.items():
        if not (test / name).is_file():
            raise UserError(f"--test {test}: no {name} in it (`{writer}` writes it)")
    if not rtl.is_file():
        raise UserError(f"--rtl {rtl}: no such file (`rrm sim --out` writes it)")
    try:
        result = json.loads(rtl.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"--rtl {rtl}: not valid JSON ({exc})") from None
    if not isinstance(result, dict) or not isinstance(result.get("images"), list) or not result["images"]:
        raise UserError(f"--rtl {rtl}: not an `rrm sim` result (no images in it)")


def run(args) -> int:
    from ..demo_report import write_report

    check_inputs(args.train, args.test, args.rtl)
    path = write_report(args.train, args.test, args.rtl, args.out)
    print(f"wrote {path} (plots: accuracy.png, memory.png, rtl-cycles.png, rtl-images.png)")
    return 0
