"""Feature maps as FM words and back (rrm.memory_map's layout): word ``b*G + g`` holds
pixels ``b*P .. b*P+P-1`` of channel group ``g``, slot 0 in the low bits, lane 0 lowest in
a slot; and the first difference between a map the RTL wrote and golden's."""

from __future__ import annotations

import numpy as np

from rrm.sizing import sizing
from rrm.spec import Spec


def map_words(spec: Spec, fmap: np.ndarray) -> list:
    """An (H, W, C) map as FM words: word ``b*G + g`` holds pixels ``b*P .. b*P+P-1`` of
    channel group ``g``, slot 0 in the low bits, lane 0 lowest in a slot (rrm.memory_map);
    channels beyond C and pixels beyond H*W are zero."""
    mmap = sizing(spec).memories
    P, L, A = mmap.pe_count, mmap.lanes, spec.quant.act_bits
    h, w, c = fmap.shape
    groups = -(-c // L)
    pixels = fmap.reshape(h * w, c)
    words = [0] * (-(-(h * w) // P) * groups)
    for i in range(h * w):
        block, slot = divmod(i, P)
        for ch in range(c):
            g, lane = divmod(ch, L)
            words[block * groups + g] |= int(pixels[i, ch]) << ((slot * L + lane) * A)
    return words


def decode_map(spec: Spec, entry, writes: dict) -> np.ndarray:
    """The output map (H, W, C) from ``writes`` {addr: word} (every slot written); -1 where
    no word was written."""
    mmap = sizing(spec).memories
    P, L, A = mmap.pe_count, mmap.lanes, spec.quant.act_bits
    out = np.full((entry.out_h, entry.out_w, entry.out_channels), -1, dtype=np.int64)
    mask = (1 << A) - 1
    for pixel in range(entry.out_pixels):
        block, slot = divmod(pixel, P)
        for g in range(entry.out_groups):
            word = writes.get(block * entry.out_groups + g)
            if word is None:
                continue
            for lane in range(L):
                ch = g * L + lane
                if ch < entry.out_channels:
                    out[pixel // entry.out_w, pixel % entry.out_w, ch] = (word >> ((slot * L + lane) * A)) & mask
    return out


def map_difference(name: str, got: np.ndarray, want: np.ndarray) -> str | None:
    """None if the maps are equal, else how many values of layer ``name`` differ and the first."""
    if np.array_equal(got, want):
        return None
    y, x, c = (int(v) for v in np.argwhere(got != want)[0])
    return (f"{name}: {int((got != want).sum())} values differ; first difference at "
            f"(y={y}, x={x}, channel={c}): RTL {got[y, x, c]}, golden {want[y, x, c]}")
