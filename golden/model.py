"""The golden network runner: an artifact and uint8 images in, exact int64 logits out.

``run(artifact, images_uint8, trace=False)`` walks ``spec.layers()``: the image is
shifted to signed inputs, every conv/dw/pw layer sums exactly and requantizes with
its BN, the pool sums each channel over the map and the FC layer gives the logits
(the operators of :mod:`golden.ops`). With ``trace=True`` it also returns every
layer's output as int64: conv/dw/pw after requantization (N, H, W, C), ``"pool"``
(N, C), ``"fc"`` (N, classes, the logits).

Speed: :func:`plan` prepares each layer once per run (its exact sum dtype from the
spec's accumulator bound, its BN as :class:`golden.requant.Requant`); the layers
then run as fused, banded kernels (:mod:`golden.kernels`), batch by batch, with
groups of images on parallel threads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rrm import bounds
from rrm.artifact import Artifact, load_artifact
from rrm.errors import UserError
from rrm.layers import Layer
from rrm.spec import Spec

from . import kernels, ops

#: Feature-map elements per internal batch (the largest layer output of all its images):
#: large batches feed BLAS and amortise Python, this keeps 224x224 maps at ~32 MB.
BATCH_ELEMENTS = 1 << 23
MAX_BATCH = 512


def auto_batch(spec: Spec) -> int:
    """Images per internal batch for ``spec``: as many as BATCH_ELEMENTS allows (1..MAX_BATCH)."""
    largest = max(layer.out_elements for layer in spec.layers())
    return max(1, min(MAX_BATCH, BATCH_ELEMENTS // largest))


def check_images(spec: Spec, images: np.ndarray) -> np.ndarray:
    """Validate a batch of images for ``spec``: uint8, (N, H, W, C), pixels in range."""
    if not isinstance(images, np.ndarray):
        raise UserError(f"images must be a numpy array, got {type(images).__name__}")
    size, channels = spec.network.input_size, spec.network.input_channels
    want = f"(N, {size}, {size}, {channels})"
    if images.dtype != np.uint8:
        raise UserError(f"images must be uint8 of shape {want}, got dtype {images.dtype}")
    if images.ndim != 4 or images.shape[1:] != (size, size, channels):
        raise UserError(f"images must have shape {want} (channels-last) for network "
                        f"{spec.network.name!r}, got {images.shape}")
    bits = spec.quant.input_bits
    if bits < 8 and images.size and int(images.max()) >= 2 ** bits:
        raise UserError(f"images hold pixel {int(images.max())}, beyond quant.input_bits={bits} "
                        f"(allowed: 0..{2 ** bits - 1})")
    return images


def _as_artifact(artifact) -> Artifact:
    if isinstance(artifact, Artifact):
        return artifact
    if isinstance(artifact, (str, os.PathLike)):
        return load_artifact(Path(artifact))
    raise UserError(f"expected an Artifact or an artifact directory, got {type(artifact).__name__}")


@dataclass(frozen=True)
class Step:
    """One layer as the runner executes it, prepared once per run.

    Members
    -------
    layer : rrm.layers.Layer
    params : dict
        ``artifact.layer(name)`` (empty for the pool).
    requant : kernels.Requant or None
        BN of conv/dw/pw layers.
    sum_dtype : numpy dtype
        The exact dtype the layer sums in (and its input is stored in).
    out_dtype, out_pad : numpy dtype, int
        How the output is stored: the next layer's sum dtype and zero border.
    """

    layer: Layer
    params: dict
    requant: kernels.Requant | None
    sum_dtype: type
    out_dtype: type
    out_pad: int


def _sum_dtype(spec: Spec, layer, bound: int):
    """The exact dtype a layer sums in: int16 for depthwise layers whose bound allows it
    (half the memory and twice the SIMD width of float32), else ops.exact_dtype;
    activations feeding the layer are stored in it. float32 for pool and fc inputs."""
    if layer.kind not in ("conv", "dw", "pw"):
        return np.float32
    if layer.kind == "dw" and max(bound, spec.quant.act_max) <= kernels.INT16_MAX:
        return np.int16
    return ops.exact_dtype(bound)


def _pad_for(layer) -> int:
    """Zero border a layer needs around its input: K//2 for conv and dw, else 0."""
    return layer.kernel // 2 if layer.kind in ("conv", "dw") else 0


def plan(artifact: Artifact) -> list[Step]:
    """The steps of a run (UserError if some layer's BN cannot be computed in int64)."""
    spec = artifact.spec
    layers = spec.layers()
    bound = bounds.accumulator_bounds(spec)
    dtypes = [_sum_dtype(spec, layer, bound.get(layer.name, 0)) for layer in layers]
    steps = []
    for index, layer in enumerate(layers):
        # artifact.layer(name)'s dict, read without deriving the layer list again
        params, requant = {}, None
        if layer.kind == "fc":
            params = {key: artifact.params[f"{layer.name}.{key}"] for key in ("weight", "bias")}
        elif layer.kind in ("conv", "dw", "pw"):
            params = {key: artifact.params[f"{layer.name}.{key}"]
                      for key in ("weight", "bn_mult", "bn_bias", "shift")}
            params["shift"] = int(params["shift"])
            try:
                requant = kernels.Requant.make(params["bn_mult"], params["bn_bias"], params["shift"],
                                               spec.quant.act_bits, bound[layer.name])
            except OverflowError as exc:
                raise UserError(f"layer {layer.name}: acc*bn_mult + bn_bias + r does not fit "
                                f"int64 ({exc})") from None
        last = index + 1 == len(layers)
        steps.append(Step(layer, params, requant, dtypes[index],
                          np.float32 if last else dtypes[index + 1],
                          0 if last else _pad_for(layers[index + 1])))
    return steps


def _run_batch(steps: list[Step], input_bits: int, runner: kernels.LayerRunner,
               images: np.ndarray, want_trace: bool):
    """Logits (and the trace, as int64 arrays) of one batch of validated images."""
    trace: dict[str, np.ndarray] = {}
    n = len(images)
    first = steps[0]
    planar = first.layer.kind == "conv"  # conv kernels read planar input (N, C, H, W)
    xp, x = runner.buffer("input", n, *images.shape[1:], _pad_for(first.layer), first.sum_dtype,
                          planar=planar)
    source = images.transpose(0, 3, 1, 2) if planar else images
    np.subtract(source, 2 ** (input_bits - 1), out=x, dtype=first.sum_dtype, casting="unsafe")
    logits = None
    for step in steps:
        layer = step.layer
        if layer.kind in ("conv", "dw", "pw"):
            out_p, out = runner.buffer(layer.name, n, layer.out_h, layer.out_w, layer.out_channels,
                                       step.out_pad, step.out_dtype)
            weight = step.params["weight"]
            if layer.kind == "conv":
                if layer is not first.layer:  # only the first layer's input is planar
                    raise UserError(f"layer {layer.name}: a conv layer is only supported first")
                runner.conv(xp, weight, layer.stride, step.sum_dtype, step.requant, out)
            elif layer.kind == "dw":
                runner.depthwise(xp, weight, layer.stride, step.sum_dtype, step.requant, out)
            else:
                runner.pointwise(x, weight, step.sum_dtype, step.requant, out)
            xp, x = out_p, out
            result = x
        elif layer.kind == "pool":
            x = ops.avgpool_sum(x)
            result = x
        elif layer.kind == "fc":
            logits = ops.fc(x, step.params["weight"], step.params["bias"])
            result = logits
        else:
            raise UserError(f"layer {layer.name}: unknown kind {layer.kind!r}")
        if want_trace:
            trace[layer.name] = result.astype(np.int64)
    return logits, trace


def _run_parallel(steps: list[Step], input_bits: int, runner: kernels.LayerRunner,
                  images: np.ndarray, want_trace: bool) -> list:
    """One batch as [(logits, trace)] of consecutive image groups, one group per thread.

    Whole images in parallel scale better than bands of one layer (no wait at the
    end of every layer, less interpreter work per image); a single image runs its
    bands on the runner's threads instead.
    """
    groups = min(runner.threads, len(images))
    if groups <= 1:
        return [_run_batch(steps, input_bits, runner, images, want_trace)]
    edges = np.linspace(0, len(images), groups + 1).astype(int)
    workers = runner.workers(groups)
    return runner.map(lambda j: _run_batch(steps, input_bits, workers[j],
                                           images[edges[j]:edges[j + 1]], want_trace),
                      range(groups))


def run(artifact, images_uint8: np.ndarray, trace: bool = False, batch_size: int | None = None,
        threads: int | None = None, runner: kernels.LayerRunner | None = None):
    """Run the network on uint8 images (N, H, W, C).

    Returns int64 logits (N, classes), or ``(logits, trace)`` with ``trace`` a dict
    layer name -> int64 output (conv/dw/pw: (N, H, W, C) after requant; ``pool``:
    (N, C) sums; ``fc``: (N, classes), the logits). ``batch_size``: images per
    internal batch (default :func:`auto_batch`). ``artifact`` is an
    :class:`~rrm.artifact.Artifact` or an artifact directory. Bad images raise
    :class:`~rrm.errors.UserError` naming the expected shape/dtype. ``threads``:
    worker threads (default: the CPUs this process may use). ``runner``: a
    :class:`~golden.kernels.LayerRunner` to reuse (its threads, buffers and the
    artifact's plan, so the artifact must not change meanwhile) across calls, as a
    long regression does across batches; ``threads`` is then its own.
    """
    artifact = _as_artifact(artifact)
    images = check_images(artifact.spec, images_uint8)
    if batch_size is None:
        batch_size = auto_batch(artifact.spec)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UserError(f"batch_size must be a positive integer, got {batch_size!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise UserError(f"threads must be a positive integer, got {threads!r}")
    logits_parts, trace_parts = [], []
    own = runner is None
    if own:
        runner = kernels.LayerRunner(threads)
    try:
        steps = runner.cached(("plan", id(artifact)), artifact, plan)
        with kernels.single_threaded_blas():
            for start in range(0, max(len(images), 1), batch_size):
                for logits, layer_trace in _run_parallel(steps, artifact.spec.quant.input_bits,
                                                         runner, images[start:start + batch_size],
                                                         trace):
                    logits_parts.append(logits)
                    trace_parts.append(layer_trace)
    finally:
        if own:
            runner.close()
    logits = np.concatenate(logits_parts)
    if not trace:
        return logits
    merged = {name: np.concatenate([part[name] for part in trace_parts]) for name in trace_parts[0]}
    return logits, merged


def predict(logits: np.ndarray) -> np.ndarray:
    """Predicted class per image: argmax over the logits, ties to the lowest index."""
    return np.argmax(np.asarray(logits), axis=1)
