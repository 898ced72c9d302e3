"""Command-line helpers shared by subcommands: pick a spec from --preset or --spec."""

from __future__ import annotations

import argparse
from pathlib import Path

from rrm.errors import UserError
from rrm.presets import PRESETS, load_preset
from rrm.spec import Spec


def add_spec_arguments(parser: argparse.ArgumentParser, default: str | None = "tiny") -> None:
    """Add ``--preset NAME`` and ``--spec FILE.json`` (mutually exclusive)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--preset", default=None,
                       help=f"named spec ({', '.join(PRESETS)}); default: {default}")
    group.add_argument("--spec", type=Path, default=None, metavar="FILE.json",
                       help="a spec JSON file in Spec.to_json's format (docs/spec.md shows how to write one)")
    parser.set_defaults(_default_preset=default)


def spec_from_args(args: argparse.Namespace) -> Spec:
    """The Spec that --preset/--spec name (SpecError/UserError on bad input)."""
    if getattr(args, "spec", None) is not None:
        path: Path = args.spec
        if not path.is_file():
            raise UserError(f"spec file {path} does not exist")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"spec file {path} is not UTF-8 text (a spec is a JSON file)") from None
        return Spec.from_json(text, what=f"spec file {path}")
    name = args.preset or args._default_preset
    if name is None:
        raise UserError("give --preset NAME or --spec FILE.json")
    return load_preset(name)
