"""BN + ReLU + requantize of one layer, in the cheapest arithmetic proved exact for it.

``y = clamp((acc*m_c + b_c + r) >> s, 0, act_max)`` (docs/design.md §6) is computed as
``clamp(floor(acc * scale_c + offset_c), 0, act_max)`` with ``scale = m*2**-s`` and
``offset = (b + r)*2**-s``, in one of three modes:

``float32``
    When a check at build time proves it exact for every accumulator the layer
    can produce (|acc| <= the spec's bound < 2**24). The computed function
    ``acc -> clamp(floor(fl(fl(acc*scale) + offset)))`` is monotone in acc (every
    IEEE rounding step is), and so is the exact one; two monotone step functions
    that agree at both ends of the range and on both sides of every step of the
    exact one agree everywhere in between. So the check evaluates both at those
    few points per channel (four around each of the act_max thresholds, plus the
    ends). A channel that fails gets its float32 offset nudged by a few ulps and
    is checked again; if some channel still fails, the layer uses float64.
``float64``
    Exact while |acc*m + b + r| < 2**53: the products and sums are integers
    scaled by powers of two.
``int64``
    Otherwise (golden.ops.bn_requant), while the values fit int64.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import ops

#: Offsets tried, in ulps, around a float32 offset that failed the check.
NUDGES = (1, -1, 2, -2, 3, -3, 4, -4, 6, -6, 8, -8, 12, -12, 16, -16)


def certify_float32(mult: np.ndarray, bias: np.ndarray, shift: int, act_max: int,
                    acc_bound: int) -> tuple[np.ndarray, np.ndarray] | None:
    """float32 (scale, offset) proved to reproduce the requantization for every
    |acc| <= acc_bound, or None when no such constants were found."""
    if acc_bound >= ops.FLOAT32_EXACT or act_max >= ops.FLOAT32_EXACT:
        return None
    rnd = 2 ** (shift - 1) if shift > 0 else 0
    if act_max * 2 ** shift + ops.max_abs(bias) + rnd >= ops.INT64_LIMIT:
        return None
    if acc_bound * ops.max_abs(np.asarray(mult)) + ops.max_abs(np.asarray(bias)) + rnd >= ops.FLOAT64_EXACT:
        return None  # the exact side below is computed in int64 and scaled through float64
    m = np.asarray(mult, np.int64)
    total = np.asarray(bias, np.int64) + rnd  # b + r, |.| < 2**53 (caller checked)
    levels = np.arange(1, act_max + 1, dtype=np.int64)
    # y >= k  <=>  acc*m >= k*2**s - (b + r): the step of level k lies next to this
    edge = np.floor_divide(levels[None, :] * (1 << shift) - total[:, None],
                           np.where(m == 0, 1, m)[:, None])
    near = (edge[:, :, None] + np.arange(-1, 3)).reshape(len(m), -1)
    ends = np.broadcast_to(np.array([-acc_bound, acc_bound], np.int64), (len(m), 2))
    points = np.clip(np.concatenate([near, ends], axis=1), -acc_bound, acc_bound)
    exact = np.clip((points * m[:, None] + total[:, None]) >> shift, 0, act_max)
    points32 = points.astype(np.float32)
    scale = (m.astype(np.float64) * 2.0 ** -shift).astype(np.float32)
    offset = (total.astype(np.float64) * 2.0 ** -shift).astype(np.float32)

    def failing(scale_c, offset_c, rows):
        value = points32[rows] * scale_c[:, None] + offset_c[:, None]
        computed = np.clip(np.floor(value), 0, act_max)
        return np.any(computed != exact[rows], axis=1)

    bad = np.flatnonzero(failing(scale, offset, slice(None)))
    base = offset.copy()
    for nudge in NUDGES:
        if not len(bad):
            break
        trial = base[bad] + np.float32(nudge) * np.spacing(base[bad])
        still = failing(scale[bad], trial, bad)
        offset[bad[~still]] = trial[~still]
        bad = bad[still]
    return None if len(bad) else (scale, offset)


@dataclass
class Requant:
    """One layer's requantization with its constants prepared once (see module doc).

    Members
    -------
    mult, bias : numpy.ndarray
        m_c and b_c (int64).
    shift, act_bits : int
    mode : str
        ``"float32"``, ``"float64"`` or ``"int64"``.
    scale, offset : numpy.ndarray
        Per-channel constants in the mode's float dtype (unused for int64).
    """

    mult: np.ndarray
    bias: np.ndarray
    shift: int
    act_bits: int
    mode: str
    scale: np.ndarray
    offset: np.ndarray
    _tiles: dict = field(default_factory=dict, repr=False)

    @classmethod
    def make(cls, mult, bias, shift: int, act_bits: int, acc_bound: int,
             allow_float32: bool = True) -> "Requant":
        """Prepare a layer's BN for accumulators |acc| <= ``acc_bound``.

        Raises OverflowError when acc*m + b + r may not fit int64.
        """
        mult, bias = np.asarray(mult, np.int64), np.asarray(bias, np.int64)
        rnd = 2 ** (shift - 1) if shift > 0 else 0
        bound = acc_bound * ops.max_abs(mult) + ops.max_abs(bias) + rnd
        if bound >= ops.INT64_LIMIT:
            raise OverflowError(f"acc*m + b + r can reach {bound}, beyond int64")
        act_max = 2 ** act_bits - 1
        if bound < ops.FLOAT64_EXACT:
            certified = certify_float32(mult, bias, shift, act_max, acc_bound) if allow_float32 else None
            if certified is not None:
                return cls(mult, bias, shift, act_bits, "float32", *certified)
            factor = 2.0 ** -shift
            return cls(mult, bias, shift, act_bits, "float64", mult.astype(np.float64) * factor,
                       (bias + rnd).astype(np.float64) * factor)
        return cls(mult, bias, shift, act_bits, "int64", np.empty(0), np.empty(0))

    def tiled(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """scale and offset repeated ``width`` times, (width, C): with them a (rows,
        width, C) band is one contiguous inner loop of width*C, not rows*width loops of C."""
        if width not in self._tiles:
            self._tiles[width] = (np.tile(self.scale, (width, 1)), np.tile(self.offset, (width, 1)))
        return self._tiles[width]

    def apply(self, acc: np.ndarray, out: np.ndarray, scratch=None) -> None:
        """Requantize ``acc`` (..., W, C) into ``out`` (same shape; float or integer).

        ``scratch(name, shape, dtype)`` supplies a reusable work buffer (default: new).
        """
        if self.mode == "int64":
            out[...] = ops.bn_requant(acc, self.mult, self.bias, self.shift, self.act_bits)
            return
        dtype = np.float32 if self.mode == "float32" else np.float64
        scale, offset = self.tiled(acc.shape[-2])
        value = (scratch("requant", acc.shape, dtype) if scratch is not None
                 else np.empty(acc.shape, dtype))
        np.multiply(acc, scale, out=value, dtype=dtype)  # acc converts exactly (|acc| < 2**24 or 2**53)
        value += offset
        np.clip(value, 0, 2 ** self.act_bits - 1, out=value)
        if out.dtype.kind in "iu":
            out[...] = value  # the cast truncates: floor, as value >= 0
        else:
            np.floor(value, out=out, casting="unsafe")  # exact: integers 0..act_max
