"""``NAME=R`` command-line items (per-layer keep fractions), shared by ``rrm analyze`` and ``rrm train``."""

from __future__ import annotations

from rrm.errors import UserError


def keep_overrides(items: list[str], option: str) -> dict[str, float]:
    """``NAME=R`` items of ``option`` as {name: R}; UserError naming a malformed or repeated item."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            ratio = float(value)
        except ValueError:
            ratio = None
        if not sep or not name or ratio is None:
            raise UserError(f"{option} {item!r}: expected NAME=R, e.g. fc=0.1")
        if name in out:
            raise UserError(f"{option} {item!r}: layer {name!r} is named twice")
        out[name] = ratio
    return out
