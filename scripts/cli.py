"""``rrm``: the one command-line entry point.

Each subcommand lives in its own module under :mod:`scripts.commands` and provides
``NAME`` (the subcommand), ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Adding a module adds a subcommand.

Bad input (:class:`~rrm.errors.UserError`, which includes spec errors) prints one
line ``rrm <command>: error: ...`` and exits with code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from rrm import __version__
from rrm.errors import UserError, printable

from . import commands


def command_modules():
    """The subcommand modules, sorted by name."""
    found = []
    for info in pkgutil.iter_modules(commands.__path__):
        if not info.name.startswith("_"):
            found.append(importlib.import_module(f"{commands.__name__}.{info.name}"))
    return sorted(found, key=lambda module: module.NAME)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rrm",
        description="rr-mobilenet: analyse, train, export, run and verify a pruned fixed-point "
                    "MobileNet-v1 and its FPGA accelerator.")
    parser.add_argument("--version", action="version", version=f"rrm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in command_modules():
        child = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(child)
        child.set_defaults(_run=module.run, _parser=child)
    return parser


def describe_os_error(exc: OSError) -> str:
    """One line for an OSError: what went wrong with which path."""
    path = exc.filename if exc.filename is not None else ""
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        why = "a file stands where a directory is needed"
    elif isinstance(exc, PermissionError):
        why = "no permission"
    elif isinstance(exc, IsADirectoryError):
        why = "a directory stands where a file is needed"
    else:
        why = exc.strerror or str(exc)
    return f"{path}: {why}" if path else why


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        args._parser.exit(2, f"{args._parser.prog}: error: {printable(str(exc))}\n")
    except BrokenPipeError:  # output piped into `head` and closed: not an error (an OSError:
        # caught before the OSError clause)
        sys.stderr.close()
        return 0
    except OSError as exc:   # a path the command could not create, read or write
        args._parser.exit(2, f"{args._parser.prog}: error: {printable(describe_os_error(exc))}\n")
    except UnicodeDecodeError as exc:
        args._parser.exit(2, f"{args._parser.prog}: error: a file that must be UTF-8 text is not "
                             f"(byte {exc.object[exc.start:exc.start + 1]!r} at offset {exc.start})\n")
    except KeyboardInterrupt:
        print(f"{args._parser.prog}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
