"""Artifacts built for the RTL checks' corners (the suite's tests and the mutation plan):

* :func:`tied_artifact`: two classes tie on the top logit of given images (the class
  beat's tie rule);
* :func:`shift_spread_artifact`: every layer at a small shift (0..6) with small weights,
  BN calibrated there, so the low bits of ``acc*m + b`` decide most activations;
* :func:`bn_walk_artifact`: the same with half the channels constant, ``acc*m + b`` a
  single bit walking up the BN sum (every bit of the over-range mask and the window).
"""

from __future__ import annotations

import numpy as np

from golden import model
from golden.random_weights import random_artifact
from rrm.artifact import Artifact, validate_params
from rrm.spec import Spec

#: The shift-spread artifact's dw layers take shifts 0 .. SPREAD_SHIFTS - 1 in turn, and so do its
#: conv and pw layers; their weights are drawn from -SPREAD_WEIGHT_LIMIT .. SPREAD_WEIGHT_LIMIT.
SPREAD_SHIFTS = 7
SPREAD_WEIGHT_LIMIT = 1


def tied_artifact(spec: Spec, seed: int, low: int, high: int, images: np.ndarray) -> Artifact:
    """A random artifact of ``spec`` whose FC gives classes ``low`` and ``high`` the same weights and
    bias (equal logits on every image), that bias lifted so the two are the top logits of
    every image in ``images``, by 1 over the next."""
    artifact = random_artifact(spec, seed)
    params = dict(artifact.params)
    weight, bias = params["fc.weight"].copy(), params["fc.bias"].copy()
    weight[high] = weight[low]
    bias[high] = bias[low]
    probe = model.run(Artifact(spec, {**params, "fc.weight": weight, "fc.bias": bias}), images)
    others = np.delete(probe, [low, high], axis=1).max(axis=1)
    lift = int((others - probe[:, low]).max()) + 1
    bias[low] += lift
    bias[high] += lift
    params.update({"fc.weight": weight, "fc.bias": bias})
    return Artifact(spec=spec, params=validate_params(spec, params, source="tied artifact"),
                    manifest=artifact.manifest)


def shift_spread_artifact(spec: Spec, seed: int) -> Artifact:
    """A random artifact (:func:`golden.random_weights.random_artifact`) with small shifts:
    the dw layers take the shifts ``0, 1, ..., SPREAD_SHIFTS - 1`` in turn and so do the
    conv/pw layers (the calibrated shifts, ~14..25, are what run 0 covers). Their weights
    are drawn from -1..1 (``SPREAD_WEIGHT_LIMIT``) so that accumulators stay small and BN,
    calibrated at the forced shift, still puts most outputs strictly inside 0..act_max:
    there the BN unit's low bits and small-shift windows decide the values."""
    shifts, turns = {}, {"dw": 0, "pw": 0}
    for layer in spec.layers():
        if layer.kind in ("conv", "dw", "pw"):
            kind = "dw" if layer.kind == "dw" else "pw"
            shifts[layer.name] = turns[kind] % SPREAD_SHIFTS
            turns[kind] += 1
    return random_artifact(spec, seed, shifts=shifts,
                           weight_limits={name: SPREAD_WEIGHT_LIMIT for name in shifts})


#: The BN-walk artifact's constant channels: every other channel of a layer (the even ones).
WALK_STRIDE = 2
#: Layer n's walk starts at bit WALK_OFFSET * n, so a bit falls on different channels (and
#: so on different BN units and lanes) from layer to layer.
WALK_OFFSET = 5


def bn_walk_artifact(spec: Spec, seed: int) -> Artifact:
    """:func:`shift_spread_artifact` (small shifts) with every other channel of every
    conv/dw/pw layer made constant: ``bn_mult`` 0 and ``bn_bias`` a power of two,
    ``2**k`` with ``k`` walking ``bn_bias_bits - 1`` values over the channels (from
    ``WALK_OFFSET`` times the layer's number, modulo that), so ``x = acc*m + b`` takes every single-bit value below the bias's sign bit.
    The BN unit must then give 15 exactly where ``k >= shift + act_bits`` (the over-range
    mask, one bit at a time) and ``round(2**k / 2**shift)`` below it (the window and its
    rounding bit): every bit of the mask and of the window is the only bit set somewhere."""
    artifact = shift_spread_artifact(spec, seed)
    params = dict(artifact.params)
    top = spec.quant.bn_bias_bits - 1          # 2**top would be the sign bit
    for number, layer in enumerate(spec.layers()):
        if layer.kind not in ("conv", "dw", "pw"):
            continue
        key = f"{layer.name}.bn_"
        mult, bias = params[key + "mult"].copy(), params[key + "bias"].copy()
        constant = np.arange(0, len(mult), WALK_STRIDE)
        mult[constant] = 0
        bias[constant] = [1 << ((int(i) // WALK_STRIDE + WALK_OFFSET * number) % top) for i in constant]
        params[key + "mult"], params[key + "bias"] = mult, bias
    return Artifact(spec=spec, params=validate_params(spec, params, source="BN-walk artifact"),
                    manifest=artifact.manifest)
