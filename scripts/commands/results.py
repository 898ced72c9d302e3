"""``rrm results``: the table of every preset's recorded results (``results/<preset>/``).

    rrm results [--check FILE | --write FILE]

Prints the Markdown table that the README carries (:mod:`scripts.results`): the cycle
model, the RTL's full-size run (bit-exact, every layer as the model), the Yosys estimate,
and the commit each record ran on. ``--check FILE`` exits 1 if the table in FILE is not
the one the records give; ``--write FILE`` replaces it.
"""

from __future__ import annotations

from pathlib import Path

from rrm.errors import UserError

NAME = "results"
HELP = "the table of every preset's recorded results (results/), or check/update the README's copy"


def add_arguments(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", type=Path, metavar="FILE", help="exit 1 if FILE's table differs from the records")
    group.add_argument("--write", type=Path, metavar="FILE", help="replace FILE's table with the records'")


def run(args) -> int:
    from ..results import generated_block, readme_block

    block = generated_block()
    target = args.check or args.write
    if target is None:
        print(block)
        return 0
    if not target.is_file():
        raise UserError(f"{target}: no such file")
    text = target.read_text()
    current = readme_block(text)
    if args.check:
        if current != block:
            print(f"{target}: the results table differs from results/ (run `rrm results --write {target}`)")
            return 1
        print(f"{target}: the results table matches results/")
        return 0
    target.write_text(text.replace(current, block))
    print(f"{target}: results table written")
    return 0
