"""Fused, banded layer kernels: the fast path of the golden model.

Each conv/dw/pw layer is computed band by band (a few output rows of one image,
or a few whole images when they are small) so that the accumulator and the BN
scratch stay in cache: the band's sums (int16 for depthwise layers whose bound
fits, else float32/float64/int64 as :func:`golden.ops.exact_dtype` allows for the
spec's bound), then BN + ReLU + requantize straight into the output. Bands run on
a thread pool (numpy and BLAS release the GIL); BLAS is held to one thread
meanwhile so that the pool's threads do not oversubscribe the CPUs.

Outputs go into the interior of a zero-bordered buffer when the next layer pads,
so that no layer copies its input just to pad it, in the dtype the next layer
sums in (activations 0..act_max are exact in int16 and float32). conv reads a
planar (N, C, H, W) input. :mod:`golden.ops` is the reference these kernels are
tested against (tests/test_golden_kernels.py).

Requantization is :class:`golden.requant.Requant` (float32 where proved exact,
else float64 or int64).
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import ops
from .requant import Requant

#: Depthwise sums whose bound is at most this run in int16 (exact, twice float32's SIMD width).
INT16_MAX = 2 ** 15 - 1
#: Fewest pixels (matmul rows) per pointwise band.
MATMUL_ROWS = 256
#: Output elements per band: the accumulator and BN scratch of one band stay in L2,
#: and each numpy call is long enough for threads not to queue on the GIL.
BAND_ELEMENTS = 1 << 18


_SCRATCH = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A per-thread reusable uninitialised buffer (no allocation per band)."""
    buffers = _SCRATCH.__dict__.setdefault("buffers", {})
    key = (name, np.dtype(dtype).str)
    size = 1
    for dim in shape:
        size *= dim
    buffer = buffers.get(key)
    if buffer is None or buffer.size < size:
        buffer = buffers[key] = np.empty(max(size, BAND_ELEMENTS), dtype=dtype)
    return buffer[:size].reshape(shape)


def available_cpus() -> int:
    """CPUs this process may run on (respects taskset / cgroup affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def single_threaded_blas():
    """Hold BLAS to one thread (our own pool parallelises); no-op without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def padded_buffer(n: int, h: int, w: int, c: int, pad: int, dtype=np.float32,
                  planar: bool = False):
    """A fresh zero buffer, channels-last (N, H+2p, W+2p, C) or planar (N, C, H+2p,
    W+2p), and its interior view."""
    if planar:
        buffer = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=dtype)
        return buffer, buffer[:, :, pad:pad + h, pad:pad + w]
    buffer = np.zeros((n, h + 2 * pad, w + 2 * pad, c), dtype=dtype)
    return buffer, buffer[:, pad:pad + h, pad:pad + w, :]


def _bands(n: int, out_h: int, row_elements: int, band_elements: int):
    """Work items (first image, end image, first row, end row) of about ``band_elements``
    outputs each: a few rows of one image, or several whole images when they are small."""
    per_image = out_h * max(1, row_elements)
    if per_image <= band_elements:
        images = max(1, band_elements // per_image)
        return [(i, min(i + images, n), 0, out_h) for i in range(0, n, images)]
    rows = max(1, band_elements // max(1, row_elements))
    return [(i, i + 1, r, min(r + rows, out_h)) for i in range(n) for r in range(0, out_h, rows)]


class LayerRunner:
    """Runs the bands of each layer, on a thread pool when it has more than one thread.

    ``threads``: pool size (default: the CPUs this process may use; 1 runs inline).
    ``band_elements``: outputs per band (default :data:`BAND_ELEMENTS`).
    It keeps layer buffers (:meth:`buffer`) and single-threaded sub-runners
    (:meth:`workers`) for as long as it lives.
    """

    def __init__(self, threads: int | None = None, band_elements: int | None = None):
        self.threads = threads or available_cpus()
        self.band_elements = band_elements or BAND_ELEMENTS
        self._buffers: dict = {}
        self._workers: list[LayerRunner] = []
        self._cache: dict = {}
        self.pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None

    def workers(self, count: int) -> list["LayerRunner"]:
        """``count`` single-threaded runners with their own buffers, for running
        independent groups of images at once (see :meth:`map`)."""
        while len(self._workers) < count:
            self._workers.append(LayerRunner(1, self.band_elements))
        return self._workers[:count]

    def cached(self, key, owner, make):
        """``make(owner)``, computed once per ``key`` while the runner lives (the
        runner keeps ``owner`` alive, so an ``id()`` in the key stays unique)."""
        found = self._cache.get(key)
        if found is None or found[0] is not owner:
            found = self._cache[key] = (owner, make(owner))
        return found[1]

    def map(self, function, items) -> list:
        """``[function(item) for item in items]``, on the pool when there is one."""
        if self.pool is None:
            return [function(item) for item in items]
        return list(self.pool.map(function, items))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
        for worker in self._workers:
            worker.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def buffer(self, key, n: int, h: int, w: int, c: int, pad: int, dtype=np.float32,
               planar: bool = False):
        """A zero-bordered buffer kept for ``key`` and its (N, H, W, C) interior view.

        Channels-last (N, H+2p, W+2p, C), or with ``planar`` (N, C, H+2p, W+2p) and
        an (N, C, H, W) interior. Reused while the runner lives (no fresh pages to
        fault in per batch); only the border is zeroed, the caller overwrites the
        whole interior.
        """
        full = (n, c, h + 2 * pad, w + 2 * pad) if planar else (n, h + 2 * pad, w + 2 * pad, c)
        rows, cols = (2, 3) if planar else (1, 2)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.shape != full or buffer.dtype != np.dtype(dtype):
            buffer = np.empty(full, dtype=dtype)
            if pad:
                for axis in (rows, cols):
                    for side in (slice(0, pad), slice(-pad, None)):
                        index = [slice(None)] * 4
                        index[axis] = side
                        buffer[tuple(index)] = 0
            self._buffers[key] = buffer
        inner = [slice(None)] * 4
        inner[rows], inner[cols] = slice(pad, pad + h), slice(pad, pad + w)
        return buffer, buffer[tuple(inner)]

    def conv(self, xp: np.ndarray, w: np.ndarray, stride: int, dtype, requant: Requant,
             out: np.ndarray) -> None:
        """Full K x K conv, im2col per band + one matmul, into ``out`` (N, OH, OW, M).

        ``xp`` is the zero-padded input in planar layout (N, C, H+2p, W+2p), so that
        each tap's columns are copied with one call whose inner loop runs along a
        row (a channels-last image with 3 channels would copy 3 values at a time).
        """
        n, oh, ow, m = out.shape
        c, k = w.shape[1], w.shape[2]
        wmat = np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(k * k * c, m), dtype=dtype)

        def band(item):
            i0, i1, r0, r1 = item
            pixels = (i1 - i0) * (r1 - r0) * ow
            cols = scratch("cols", (k, k, c, i1 - i0, r1 - r0, ow), dtype)
            for a in range(k):
                for b in range(k):
                    window = xp[i0:i1, :, r0 * stride + a:(r1 - 1) * stride + a + 1:stride,
                                b:b + stride * (ow - 1) + 1:stride]
                    cols[a, b] = window.transpose(1, 0, 2, 3)
            acc = scratch("acc", (pixels, m), dtype)
            # (pixels, K*K*C) as a transposed view: BLAS reads it without a copy
            np.matmul(cols.reshape(k * k * c, pixels).T, wmat, out=acc)
            requant.apply(acc.reshape(i1 - i0, r1 - r0, ow, m), out[i0:i1, r0:r1], scratch)

        self.map(band, _bands(n, oh, ow * max(m, k * k * c),
                               max(self.band_elements, MATMUL_ROWS * max(m, k * k * c))))

    def depthwise(self, xp: np.ndarray, w: np.ndarray, stride: int, dtype, requant: Requant,
                  out: np.ndarray) -> None:
        """Depthwise K x K on padded input ``xp``: K*K shifted, scaled slices per band.

        Each tap's weights are tiled along W, so that with stride 1 a band row is
        one contiguous inner loop of W*C (with stride S, W loops of C).
        """
        n, oh, ow, c = out.shape
        k = w.shape[1]
        taps = w.transpose(1, 2, 0).astype(dtype)  # (K, K, C)
        tiled = np.ascontiguousarray(np.broadcast_to(taps[:, :, None, :], (k, k, ow, c)))
        src = xp if xp.dtype == dtype else xp.astype(dtype)

        def band(item):
            i0, i1, r0, r1 = item
            acc = scratch("acc", (i1 - i0, r1 - r0, ow, c), dtype)
            tmp = scratch("tmp", (i1 - i0, r1 - r0, ow, c), dtype)
            for a in range(k):
                for b in range(k):
                    window = src[i0:i1, r0 * stride + a:(r1 - 1) * stride + a + 1:stride,
                                 b:b + stride * (ow - 1) + 1:stride, :]
                    if a == 0 and b == 0:
                        np.multiply(window, tiled[a, b], out=acc)
                    else:
                        np.multiply(window, tiled[a, b], out=tmp)
                        acc += tmp
            requant.apply(acc, out[i0:i1, r0:r1], scratch)

        self.map(band, _bands(n, oh, ow * c, self.band_elements))

    def pointwise(self, x: np.ndarray, w: np.ndarray, dtype, requant: Requant,
                  out: np.ndarray) -> None:
        """1x1 conv: a (rows*W, C) x (C, M) matmul per band, into ``out``."""
        n, h, wd, m = out.shape
        c = w.shape[1]
        wmat = np.ascontiguousarray(w.T, dtype=dtype)

        def band(item):
            i0, i1, r0, r1 = item
            block = x[i0:i1, r0:r1]
            if block.dtype != dtype or not block.flags.c_contiguous:
                block = np.ascontiguousarray(block, dtype=dtype)
            acc = scratch("acc", ((i1 - i0) * (r1 - r0) * wd, m), dtype)
            np.matmul(block.reshape(-1, c), wmat, out=acc)
            requant.apply(acc.reshape(i1 - i0, r1 - r0, wd, m), out[i0:i1, r0:r1], scratch)

        # at least MATMUL_ROWS pixels per band: narrower matmuls waste BLAS's time
        self.map(band, _bands(n, h, wd * max(m, c), max(self.band_elements, MATMUL_ROWS * max(m, c))))
