"""Constructor parameter checks shared by the hardware blocks (messages name the bad value)."""

from __future__ import annotations


def check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    """Return ``value`` if it is an int in lo..hi, else raise TypeError/ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        allowed = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be in {allowed}, not {value!r}")
    return value


def check_bool(name: str, value) -> bool:
    """Return ``value`` if it is True or False, else raise TypeError naming it."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return value


def check_odd_kernel(name: str, value) -> int:
    """A kernel size: an odd integer 1..15."""
    check_int(name, value, 1, 15)
    if value % 2 == 0:
        raise ValueError(f"{name} must be odd, not {value!r}")
    return value
