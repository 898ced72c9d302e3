"""Random, valid network parameters whose activations use the whole 0..act_max range.

Tests, benchmarks and full-size RTL runs need artifacts without training. Random
weights alone are not enough: with a badly chosen BN every activation would be 0
or saturated after a layer or two, and a bit-exact comparison would prove little.
So the BN of each layer is *calibrated*: a few random images run through the
integer network (golden's ops, the numerics of docs/design.md §6), and each
output channel gets a multiplier/bias that maps its accumulator's mean to a
random point in the middle of the activation range and about +-2 standard
deviations to the range's ends (a few channels get a negative multiplier, as a
negative BN gamma would give). The per-layer shift is the largest that keeps
every multiplier and bias inside its signed width (:func:`rrm.numerics.fit_shift`),
so the multipliers use their full precision.

:func:`random_artifact` wraps the parameters in a validated
:class:`rrm.artifact.Artifact` (``rrm export --random``, ``rrm golden --bench
--random-weights``, tests). Numpy only, deterministic per seed.
"""

from __future__ import annotations

import math

import numpy as np

from rrm.artifact import FORMAT, VERSION, Artifact, numerics, validate_params
from rrm.numerics import fit_shift
from rrm.spec import Spec

from . import ops

#: Accumulator samples per channel that the calibration aims for.
_SAMPLES_PER_CHANNEL = 256
#: Upper bound on the MACs spent on calibration (keeps 224x224 networks at a few seconds).
_MAC_BUDGET = 2_000_000_000


def _calibrated_bn(acc: np.ndarray, rng: np.random.Generator, act_max: int,
                   mult_bits: int, bias_bits: int, shift: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-channel (mult, bias) and a layer shift that spread ``acc`` over 0..act_max;
    ``shift``: use this shift instead where it fits the widths (multipliers that round to 0
    at it keep their sign as +-1, so a small shift spreads less finely)."""
    flat = acc.reshape(-1, acc.shape[-1]).astype(np.float64)
    mean = flat.mean(axis=0)
    std = np.maximum(flat.std(axis=0), 1.0)
    channels = flat.shape[1]
    centre = rng.uniform(0.35, 0.65, channels) * act_max
    gain = rng.uniform(0.2, 0.3, channels) * act_max
    sign = np.where(rng.random(channels) < 0.125, -1.0, 1.0)
    slope = sign * gain / std
    offset = centre - slope * mean
    mhi = (1 << (mult_bits - 1)) - 1
    bhi = (1 << (bias_bits - 1)) - 1
    # One unit of slack on the bias; anything that still overflows is clipped below.
    fitted = max(0, fit_shift(float(np.abs(slope).max()), float(np.abs(offset).max()) + 1.0,
                              mult_bits, bias_bits))
    shift = fitted if shift is None else min(shift, fitted)
    mult = np.clip(np.rint(slope * 2.0 ** shift), -mhi, mhi).astype(np.int64)
    mult[mult == 0] = np.where(sign[mult == 0] < 0, -1, 1)
    bias = np.clip(np.rint(offset * 2.0 ** shift), -bhi, bhi).astype(np.int64)
    return mult, bias, int(shift)


def calibration_images(spec: Spec) -> int:
    """How many random images the calibration runs: enough samples, bounded cost."""
    layers = [l for l in spec.layers() if l.kind in ("conv", "dw", "pw")]
    smallest_map = min(l.out_h * l.out_w for l in layers)
    macs = sum(l.macs for l in spec.layers())
    wanted = math.ceil(_SAMPLES_PER_CHANNEL / smallest_map)
    affordable = max(1, _MAC_BUDGET // max(1, macs))
    return int(max(1, min(wanted, affordable, 256)))


def random_params(spec: Spec, seed: int, shifts: dict | None = None,
                  weight_limits: dict | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Random integer parameters for ``spec`` with calibrated BN; deterministic per ``seed``.

    ``shifts`` ({layer name: shift}) replaces the calibrated shift of those layers (where it
    fits the widths); ``weight_limits`` ({layer name: w}) draws those layers' weights from
    -w..w (small accumulators: a small shift then still spreads the outputs).
    Returns (params by artifact key, calibration info for the provenance).
    """
    shifts, weight_limits = dict(shifts or {}), dict(weight_limits or {})
    names = {layer.name for layer in spec.layers()}
    for what, table in (("shifts", shifts), ("weight_limits", weight_limits)):
        unknown = sorted(set(table) - names)
        if unknown:
            raise ValueError(f"{what}: {unknown} are not layers of the spec")
    rng = np.random.default_rng(seed)
    quant, network = spec.quant, spec.network
    wlo, whi = quant.weight_int_range
    images = calibration_images(spec)
    pixels = rng.integers(0, 1 << quant.input_bits,
                          (images, network.input_size, network.input_size, network.input_channels))
    x = pixels.astype(np.int64) - (1 << (quant.input_bits - 1))
    params: dict[str, np.ndarray] = {}
    for layer in spec.layers():
        name = layer.name
        if layer.kind in ("conv", "dw", "pw"):
            limit = weight_limits.get(name)
            lo, hi = (wlo, whi) if limit is None else (max(wlo, -limit), min(whi, limit))
            weight = rng.integers(lo, hi + 1, layer.weight_shape, dtype=np.int64)
            acc = ops.layer_accumulator(x, weight, layer)
            mult, bias, shift = _calibrated_bn(acc, rng, quant.act_max, quant.bn_mult_bits, quant.bn_bias_bits,
                                               shifts.get(name))
            params[f"{name}.weight"] = weight
            params[f"{name}.bn_mult"] = mult
            params[f"{name}.bn_bias"] = bias
            params[f"{name}.shift"] = np.array(shift, dtype=np.int64)
            x = ops.bn_requant(acc, mult, bias, shift, quant.act_bits)
        elif layer.kind == "pool":
            x = x.sum(axis=(1, 2))
        elif layer.kind == "fc":
            weight = rng.integers(wlo, whi + 1, layer.weight_shape, dtype=np.int64)
            # Centre the logits: remove the common offset that every channel's mean
            # contributes, so that the predicted class varies from image to image.
            level = float(x.mean())
            centred = (x - level) @ weight.T
            spread = max(1.0, float(centred.std()))
            flo = -(1 << (quant.fc_bias_bits - 1))
            fhi = (1 << (quant.fc_bias_bits - 1)) - 1
            bias = -level * weight.sum(axis=1) + rng.normal(0.0, 0.25 * spread, layer.out_channels)
            bias = np.clip(np.rint(bias), flo, fhi)
            params[f"{name}.weight"] = weight
            params[f"{name}.bias"] = bias.astype(np.int64)
    return params, {"images": images, "pixels": "uniform random", "seed": int(seed)}


def random_artifact(spec: Spec, seed: int, shifts: dict | None = None,
                    weight_limits: dict | None = None) -> Artifact:
    """A valid artifact with random weights and BN whose activations spread over 0..act_max.

    Deterministic per ``seed``; see the module docstring for how BN is chosen, and
    :func:`random_params` for ``shifts`` and ``weight_limits``.
    """
    params, calibration = random_params(spec, seed, shifts, weight_limits)
    manifest = {
        "format": FORMAT, "version": VERSION, "spec": spec.to_dict(), "numerics": numerics(spec),
        "metrics": {}, "provenance": {"source": "random", "seed": int(seed), "calibration": calibration,
                                      **({"shifts": dict(shifts)} if shifts else {}),
                                      **({"weight_limits": dict(weight_limits)} if weight_limits else {})},
        "files": {},
    }
    return Artifact(spec=spec, params=validate_params(spec, params, source="random artifact"),
                    manifest=manifest)
